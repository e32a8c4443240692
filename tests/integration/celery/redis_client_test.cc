// RedisClient against a real redis-server: RESP replies of every type,
// AUTH/SELECT, TLS, a hung server, and outages.
#include "ballast/net/redis_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/celery/celery_env.h"
#include "integration/common/process.h"
#include "integration/common/test_pki.h"

namespace ballast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Type = net::RedisReply::Type;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(FindBinary("redis-server").ok());
    ASSERT_TRUE(redis_.Start().ok());
  }

  std::optional<absl::StatusOr<std::vector<net::RedisReply>>> Run(
      net::RedisClient& client,
      std::vector<std::vector<std::string>> commands) {
    return RunPipeline(io_, client, std::move(commands));
  }

  boost::asio::io_context io_;
  RedisServer redis_;
};

TEST_F(RedisClientTest, PipelineReturnsEveryReplyTypeInOrder) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  const std::string binary("a\0b\r\n", 5);
  auto r = Run(client, {{"SET", "s", binary},
                        {"GET", "s"},
                        {"GET", "missing"},
                        {"RPUSH", "l", "x", "y"},
                        {"LLEN", "s"},  // WRONGTYPE: a reply, not a failure
                        {"LRANGE", "l", "0", "-1"},
                        {"LLEN", "l"}});
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->ok()) << r->status();
  const std::vector<net::RedisReply>& replies = **r;
  ASSERT_EQ(replies.size(), 7u);
  EXPECT_EQ(replies[0].type, Type::kStatus);
  EXPECT_EQ(replies[0].str, "OK");
  EXPECT_EQ(replies[1].type, Type::kString);
  EXPECT_EQ(replies[1].str, binary);
  EXPECT_EQ(replies[2].type, Type::kNil);
  EXPECT_EQ(replies[3].type, Type::kInteger);
  EXPECT_EQ(replies[3].integer, 2);
  EXPECT_EQ(replies[4].type, Type::kError);
  EXPECT_THAT(replies[4].str, StartsWith("WRONGTYPE"));
  ASSERT_EQ(replies[5].type, Type::kArray);
  ASSERT_EQ(replies[5].elements.size(), 2u);
  EXPECT_EQ(replies[5].elements[1].str, "y");
  EXPECT_EQ(replies[6].integer, 2);
}

TEST_F(RedisClientTest, LargePipelinesAndValuesSpanManyReads) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  const std::string big(1 << 20, 'v');
  std::vector<std::vector<std::string>> commands = {{"SET", "big", big}};
  for (int i = 0; i < 20000; ++i) {
    commands.push_back({"LLEN", absl::StrCat("queue-", i)});
  }
  commands.push_back({"GET", "big"});
  auto r = Run(client, std::move(commands));
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->ok()) << r->status();
  ASSERT_EQ((*r)->size(), 20002u);
  EXPECT_EQ((**r)[1].integer, 0);
  EXPECT_EQ((*r)->back().str, big);
}

TEST_F(RedisClientTest, SelectsTheConfiguredDatabase) {
  net::RedisOptions db3 = Loopback(redis_.port());
  db3.db = 3;
  net::RedisClient client(io_, db3);
  auto r = Run(client, {{"SET", "k", "in-db-3"}});
  ASSERT_TRUE(r.has_value() && r->ok());
  absl::StatusOr<std::vector<net::RedisReply>> db0 =
      Redis(redis_.port(), {{"EXISTS", "k"}, {"SELECT", "3"}, {"GET", "k"}});
  ASSERT_TRUE(db0.ok()) << db0.status();
  EXPECT_EQ((*db0)[0].integer, 0);
  EXPECT_EQ((*db0)[2].str, "in-db-3");
}

TEST_F(RedisClientTest, BadDatabaseIsFailedPrecondition) {
  net::RedisOptions bad = Loopback(redis_.port());
  bad.db = 999;
  net::RedisClient client(io_, bad);
  auto r = Run(client, {{"PING"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r->status().message(), HasSubstr(redis_.address()));
}

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        redis_
            .Start({"--requirepass", "default-secret", "--user", "ballast",
                    "on", ">user-secret", "~*", "&*", "+@all"})
            .ok());
  }
  boost::asio::io_context io_;
  RedisServer redis_;
};

TEST_F(RedisAuthTest, PasswordOnlyAndUsernamePassword) {
  net::RedisOptions by_password = Loopback(redis_.port());
  by_password.password = "default-secret";
  net::RedisClient a(io_, by_password);
  auto r = RunPipeline(io_, a, {{"ACL", "WHOAMI"}});
  ASSERT_TRUE(r.has_value() && r->ok()) << r->status();
  EXPECT_EQ((**r)[0].str, "default");

  net::RedisOptions by_user = Loopback(redis_.port());
  by_user.username = "ballast";
  by_user.password = "user-secret";
  net::RedisClient b(io_, by_user);
  r = RunPipeline(io_, b, {{"ACL", "WHOAMI"}});
  ASSERT_TRUE(r.has_value() && r->ok()) << r->status();
  EXPECT_EQ((**r)[0].str, "ballast");
}

TEST_F(RedisAuthTest, WrongPasswordIsUnauthenticatedAndNeverEchoed) {
  net::RedisOptions wrong = Loopback(redis_.port());
  wrong.username = "ballast";
  wrong.password = "not-the-password";
  net::RedisClient client(io_, wrong);
  auto r = RunPipeline(io_, client, {{"PING"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(r->status().message(), HasSubstr("AUTH"));
  EXPECT_THAT(r->status().message(), Not(HasSubstr("not-the-password")));
}

TEST_F(RedisAuthTest, NoPasswordGivesNoauthReplies) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  auto r = RunPipeline(io_, client, {{"LLEN", "q"}});
  ASSERT_TRUE(r.has_value() && r->ok()) << r->status();
  EXPECT_THAT((**r)[0].str, StartsWith("NOAUTH"));
}

// A socket that listens (the kernel completes the handshake) but is never
// accepted nor answered.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    listen(fd_, 16);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(RedisClientFaults, ServerThatNeverAnswersIsDeadlineExceeded) {
  SilentServer silent;
  boost::asio::io_context io;
  net::RedisOptions options = Loopback(silent.port());
  options.command_timeout = absl::Milliseconds(300);
  net::RedisClient client(io, options);
  const absl::Time start = absl::Now();
  auto r = RunPipeline(io, client, {{"LLEN", "a"}, {"HLEN", "unacked"}});
  const absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(r->status().message(),
              HasSubstr(absl::StrCat("redis 127.0.0.1:", silent.port())));
  EXPECT_THAT(r->status().message(), HasSubstr("LLEN"));
  EXPECT_GE(took, absl::Milliseconds(290));
  EXPECT_LT(took, absl::Milliseconds(1000));

  // Backing off now: the next call fails fast.
  r = RunPipeline(io, client, {{"PING"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r->status().message(), HasSubstr("reconnecting in"));
}

TEST(RedisClientFaults, RefusedConnectionIsUnavailable) {
  absl::StatusOr<int> port = FreePort();
  ASSERT_TRUE(port.ok());
  absl::StatusOr<std::vector<net::RedisReply>> r =
      net::RunPipelineSync(Loopback(*port), {{"PING"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("redis 127.0.0.1:", *port, ": connect")));
}

TEST_F(RedisClientTest, RestartedServerIsUnavailableThenReconnected) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  auto r = Run(client, {{"PING"}});
  ASSERT_TRUE(r.has_value() && r->ok());

  redis_.Stop();
  r = Run(client, {{"PING"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable) << r->status();

  ASSERT_TRUE(redis_.Start().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  do {
    r = Run(client, {{"PING"}});
    ASSERT_TRUE(r.has_value());
    if (r->ok()) break;
    EXPECT_EQ(r->status().code(), absl::StatusCode::kUnavailable);
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  ASSERT_TRUE(r->ok()) << r->status();
  EXPECT_EQ((**r)[0].str, "PONG");
}

TEST_F(RedisClientTest, ConnectionClosedWhileIdleIsReopenedWithoutError) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  auto r = Run(client, {{"CLIENT", "SETNAME", "victim"}});
  ASSERT_TRUE(r.has_value() && r->ok());
  ASSERT_TRUE(Redis(redis_.port(),
                    {{"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"}})
                  .ok());
  io_.restart();
  io_.run_for(std::chrono::milliseconds(100));  // the client sees the close
  r = Run(client, {{"PING"}});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->ok()) << r->status();
}

// Pipelines submitted together run one after the other, in submission
// order, on one connection; one submitted after the connection sat idle
// (its read outstanding) uses the same connection.
TEST_F(RedisClientTest, PipelinesRunInOrderOnOneConnection) {
  net::RedisClient client(io_, Loopback(redis_.port()));
  std::vector<std::pair<int64_t, int64_t>> done;  // (client id, counter)
  for (int i = 0; i < 3; ++i) {
    client.Pipeline({{"CLIENT", "ID"}, {"INCR", "n"}},
                    [&](absl::StatusOr<std::vector<net::RedisReply>> r) {
                      ASSERT_TRUE(r.ok()) << r.status();
                      done.emplace_back((*r)[0].integer, (*r)[1].integer);
                    });
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (done.size() < 3 && absl::Now() < deadline) {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(done.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(done[i].first, done[0].first);
    EXPECT_EQ(done[i].second, i + 1);
  }
  io_.restart();
  io_.run_for(std::chrono::milliseconds(100));  // idle
  auto r = Run(client, {{"CLIENT", "ID"}});
  ASSERT_TRUE(r.has_value() && r->ok());
  EXPECT_EQ((**r)[0].integer, done[0].first);
}

// TLS: a CA and a server certificate for localhost/127.0.0.1 made with the
// openssl command, and redis-server's TLS port.
class RedisTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string d = dir_.path();
    absl::StatusOr<KeyPair> ca = MakeCa(d, "ca", "ballast test CA");
    ASSERT_TRUE(ca.ok()) << ca.status();
    absl::StatusOr<KeyPair> server =
        IssueCert(d, "server", *ca,
                  {.cn = "localhost", .sans = "DNS:localhost,IP:127.0.0.1"});
    ASSERT_TRUE(server.ok()) << server.status();
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    tls_port_ = *port;
    ASSERT_TRUE(
        redis_
            .Start({"--tls-port", std::to_string(tls_port_), "--tls-cert-file",
                    d + "/server.crt", "--tls-key-file", d + "/server.key",
                    "--tls-ca-cert-file", d + "/ca.crt", "--tls-auth-clients",
                    "no"})
            .ok());
    ASSERT_TRUE(WaitForPort(tls_port_, absl::Seconds(10)).ok());
  }

  net::RedisOptions Tls() const {
    net::RedisOptions o = Loopback(tls_port_);
    o.tls = true;
    o.ca_file = dir_.path() + "/ca.crt";
    return o;
  }

  TempDir dir_;
  RedisServer redis_;
  int tls_port_ = 0;
};

TEST_F(RedisTlsTest, VerifiesTheServerAgainstTheCaFile) {
  absl::StatusOr<std::vector<net::RedisReply>> r =
      net::RunPipelineSync(Tls(), {{"PING"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].str, "PONG");

  net::RedisOptions by_name = Tls();
  by_name.server_name = "localhost";
  r = net::RunPipelineSync(by_name, {{"PING"}});
  ASSERT_TRUE(r.ok()) << r.status();
}

// An idle TLS connection waits without reading; the wait is cancelled for
// the next pipeline, and the stream stays usable.
TEST_F(RedisTlsTest, IdleConnectionIsReused) {
  boost::asio::io_context io;
  net::RedisClient client(io, Tls());
  std::vector<int64_t> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = RunPipeline(io, client, {{"CLIENT", "ID"}});
    ASSERT_TRUE(r.has_value() && r->ok()) << r->status();
    ids.push_back((**r)[0].integer);
    io.restart();
    io.run_for(std::chrono::milliseconds(50));  // idle
  }
  EXPECT_EQ(ids[1], ids[0]);
  EXPECT_EQ(ids[2], ids[0]);
}

// A TLS connection the server closes while idle (its close_notify read in
// the idle wait) is reopened by the next pipeline, with no error.
TEST_F(RedisTlsTest, ConnectionClosedWhileIdleIsReopenedWithoutError) {
  boost::asio::io_context io;
  net::RedisClient client(io, Tls());
  auto first = RunPipeline(io, client, {{"CLIENT", "ID"}});
  ASSERT_TRUE(first.has_value() && first->ok()) << first->status();
  ASSERT_TRUE(Redis(redis_.port(), {{"CLIENT", "KILL", "ID",
                                     absl::StrCat((**first)[0].integer)}})
                  .ok());
  io.restart();
  io.run_for(std::chrono::milliseconds(100));  // the client sees the close
  auto second = RunPipeline(io, client, {{"CLIENT", "ID"}});
  ASSERT_TRUE(second.has_value());
  ASSERT_TRUE(second->ok()) << second->status();
  EXPECT_NE((**second)[0].integer, (**first)[0].integer);
}

TEST_F(RedisTlsTest, RejectsWrongNameAndUnknownCa) {
  net::RedisOptions wrong_name = Tls();
  wrong_name.server_name = "redis.example.com";
  absl::StatusOr<std::vector<net::RedisReply>> r =
      net::RunPipelineSync(wrong_name, {{"PING"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("TLS handshake"));

  net::RedisOptions system_cas = Tls();
  system_cas.ca_file.clear();
  r = net::RunPipelineSync(system_cas, {{"PING"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("TLS handshake"));

  net::RedisOptions missing_ca = Tls();
  missing_ca.ca_file = dir_.path() + "/nope.pem";
  r = net::RunPipelineSync(missing_ca, {{"PING"}});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

// tls.insecureSkipVerify reaches the client: the config's key, through the
// poller, to the handshake. `ballast probe` reads the backlog from a server
// whose CA it was not given only when the key says so.
TEST_F(RedisTlsTest, InsecureSkipVerifyFromTheConfigReachesTheClient) {
  const std::string config = dir_.path() + "/ballast.yaml";
  const auto write = [&](const std::string& tls) {
    std::ofstream(config) << "sources:\n  redis:\n    main: {address: "
                             "\"127.0.0.1:"
                          << tls_port_ << "\", tls: " << tls
                          << "}\ntargets:\n  - name: w\n    maxReplicas: "
                             "5\n    inputs:\n      - {name: backlog, "
                             "celery: {source: main, queues: [q]}, "
                             "averageValue: 1}\n";
  };
  write("{insecureSkipVerify: true}");
  absl::StatusOr<std::string> out =
      RunCommand({BALLAST_BINARY, "probe", "--config", config});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("backlog"));
  write("{}");  // verified against the system CAs: refused
  out = RunCommand({BALLAST_BINARY, "probe", "--config", config});
  EXPECT_FALSE(out.ok());
}

}  // namespace
}  // namespace ballast::testing
