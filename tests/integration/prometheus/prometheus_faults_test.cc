// The HTTP side of PrometheusClient against fake_prometheus.py, for what a
// real Prometheus cannot be made to do on demand: answer slowly, answer
// garbage, cut a body short, send too much; and to watch the wire:
// connection reuse, the in-flight limit, auth headers, GET vs POST.
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/core/json.h"
#include "ballast/source/prometheus_client.h"
#include "ballast/version.h"
#include "gtest/gtest.h"
#include "integration/common/async_call.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"
#include "integration/prometheus/expect_status.h"
#include "rapidjson/document.h"

namespace ballast::source {
namespace {

using ::ballast::testing::AsyncCall;

class FakePrometheusTest : public ::testing::Test {
 protected:
  void SetUp() override { StartFake(""); }

  void StartFake(const std::string& idle_timeout) {
    fake_.Stop();
    stats_calls_ = 0;
    absl::StatusOr<int> port = ballast::testing::FreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    std::vector<std::string> argv = {
        ballast::testing::kSystemPython,
        std::string(BALLAST_SOURCE_DIR) +
            "/tests/integration/prometheus/fake_prometheus.py",
        std::to_string(port_)};
    if (!idle_timeout.empty()) argv.push_back(idle_timeout);
    ASSERT_TRUE(fake_.Start(argv, dir_.path() + "/fake.log").ok());
    ASSERT_TRUE(
        ballast::testing::WaitForHttpOk(port_, "/stats", absl::Seconds(10))
            .ok());
  }

  PrometheusClientOptions Options() const {
    PrometheusClientOptions options;
    options.http.base_url = absl::StrCat("http://127.0.0.1:", port_);
    options.http.timeout = absl::Seconds(5);
    return options;
  }

  std::unique_ptr<PrometheusClient> Client(const PrometheusClientOptions& o) {
    absl::StatusOr<std::unique_ptr<PrometheusClient>> client =
        PrometheusClient::Create(io_, o);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  absl::StatusOr<QueryResult> Query(PrometheusClient& client,
                                    const std::string& promql) {
    return AsyncCall<QueryResult>(io_, [&](auto done) {
      client.Query({.promql = promql}, absl::Now(), std::move(done));
    });
  }

  // What the fake saw, from its /stats.
  rapidjson::Document Stats() {
    ++stats_calls_;
    absl::StatusOr<net::HttpResponse> r =
        net::HttpClient::Fetch(Options().http, {.target = "/stats"});
    EXPECT_TRUE(r.ok()) << r.status();
    absl::StatusOr<rapidjson::Document> doc = ParseJson(r.ok() ? r->body : "");
    EXPECT_TRUE(doc.ok()) << doc.status();
    return doc.ok() ? *std::move(doc) : rapidjson::Document();
  }
  // Connections the client opened: all the fake accepted, less the
  // readiness probe's and those of /stats calls (this one included).
  double ClientConnections() {
    const double all = StatNumber("connections");
    return all - 1 - stats_calls_;
  }
  double StatNumber(const char* name) {
    const rapidjson::Document stats = Stats();
    const rapidjson::Value* value = JsonFind(stats, name);
    return value != nullptr && value->IsNumber() ? value->GetDouble() : -1;
  }
  std::string LastRequest(const char* field) {
    const rapidjson::Document stats = Stats();
    const rapidjson::Value* last = JsonFind(stats, "last");
    const rapidjson::Value* value =
        last == nullptr ? nullptr : JsonFind(*last, field);
    return value != nullptr && value->IsString() ? std::string(JsonText(*value))
                                                 : "?";
  }

  ballast::testing::TempDir dir_;
  ballast::testing::ChildProcess fake_;
  int port_ = 0;
  int stats_calls_ = 0;
  boost::asio::io_context io_;
};

TEST_F(FakePrometheusTest, SlowAnswerIsDeadlineExceeded) {
  PrometheusClientOptions options = Options();
  options.http.timeout = absl::Milliseconds(300);
  auto client = Client(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<QueryResult> r = Query(*client, "sleep:3");
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  ExpectCode(r, absl::StatusCode::kDeadlineExceeded, "no response within");
  EXPECT_TRUE(absl::StrContains(r.status().message(), "query \"sleep:3\""));
  // Prometheus was told the same timeout.
  EXPECT_EQ(LastRequest("timeout"), "0.300");
  // The client is still usable after a timeout.
  absl::StatusOr<QueryResult> ok = Query(*client, "value:4");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->value, 4);
}

TEST_F(FakePrometheusTest, GarbageBodyIsDataLoss) {
  auto client = Client(Options());
  ExpectCode(Query(*client, "garbage"), absl::StatusCode::kDataLoss,
             "It works!");
}

TEST_F(FakePrometheusTest, TruncatedBodyIsDataLoss) {
  auto client = Client(Options());
  ExpectCode(Query(*client, "truncated"), absl::StatusCode::kDataLoss,
             "response truncated");
}

TEST_F(FakePrometheusTest, OversizeBodyIsResourceExhausted) {
  PrometheusClientOptions options = Options();
  options.http.max_body_bytes = 64 * 1024;
  auto client = Client(options);
  ExpectCode(Query(*client, "oversize:200000"),
             absl::StatusCode::kResourceExhausted, "65536 bytes");
  // Just under the limit is fine.
  absl::StatusOr<QueryResult> r = Query(*client, "oversize:60000");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 1);
}

TEST_F(FakePrometheusTest, DefaultLimitIs16MiB) {
  auto client = Client(Options());
  ExpectCode(Query(*client, "oversize:17000000"),
             absl::StatusCode::kResourceExhausted, "16777216 bytes");
}

TEST_F(FakePrometheusTest, ConnectionRefusedIsUnavailable) {
  fake_.Stop();
  auto client = Client(Options());
  absl::StatusOr<QueryResult> r = Query(*client, "value:1");
  ExpectCode(r, absl::StatusCode::kUnavailable, "refused");
  EXPECT_TRUE(absl::StrContains(
      r.status().message(),
      absl::StrCat("GET http://127.0.0.1:", port_, "/api/v1/query?query=")))
      << r.status();
}

TEST_F(FakePrometheusTest, ReusesOneKeepAliveConnection) {
  auto client = Client(Options());
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<QueryResult> r = Query(*client, absl::StrCat("value:", i));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, i);
  }
  EXPECT_EQ(ClientConnections(), 1);
}

TEST_F(FakePrometheusTest, RetriesWhenTheServerClosedAnIdleConnection) {
  StartFake("0.2");
  auto client = Client(Options());
  ASSERT_TRUE(Query(*client, "value:1").ok());
  absl::SleepFor(absl::Milliseconds(600));  // the fake drops it after 0.2 s
  absl::StatusOr<QueryResult> r = Query(*client, "value:2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 2);
  EXPECT_EQ(ClientConnections(), 2);
}

TEST_F(FakePrometheusTest, LimitsRequestsInFlight) {
  PrometheusClientOptions options = Options();
  options.http.max_in_flight = 3;
  auto client = Client(options);
  constexpr int kQueries = 9;
  int done = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kQueries; ++i) {
    client->Query({.promql = absl::StrCat("sleep:0.2:", i)}, absl::Now(),
                  [&done, i](absl::StatusOr<QueryResult> r) {
                    ASSERT_TRUE(r.ok()) << r.status();
                    EXPECT_EQ(r->value, i);
                    ++done;
                  });
  }
  io_.run();
  EXPECT_EQ(done, kQueries);
  // 9 queries of 0.2 s, 3 at a time: 3 rounds.
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(590));
  EXPECT_EQ(StatNumber("max_in_flight"), 3);
  EXPECT_EQ(ClientConnections(), 3);
}

TEST_F(FakePrometheusTest, LongQueriesArePostedAsForms) {
  auto client = Client(Options());
  const std::string promql = "value:7:" + std::string(2000, 'x');
  absl::StatusOr<QueryResult> r = Query(*client, promql);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(LastRequest("method"), "POST");
  EXPECT_EQ(LastRequest("content_type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(LastRequest("query"), promql);
  ASSERT_TRUE(Query(*client, "value:1").ok());
  EXPECT_EQ(LastRequest("method"), "GET");
}

TEST_F(FakePrometheusTest, NamesItselfWithTheBuildVersion) {
  auto client = Client(Options());
  ASSERT_TRUE(Query(*client, "value:1").ok());
  EXPECT_EQ(LastRequest("user_agent"), absl::StrCat("ballast/", kVersion));
}

TEST_F(FakePrometheusTest, SendsBasicAuthFromEnvironment) {
  PrometheusClientOptions options = Options();
  options.http.basic_auth_user = "ballast";
  options.http.basic_auth_password_env = "BALLAST_TEST_PROM_PASSWORD";
  setenv("BALLAST_TEST_PROM_PASSWORD", "s3cret", 1);
  auto client = Client(options);
  ASSERT_TRUE(Query(*client, "value:1").ok());
  // base64("ballast:s3cret")
  EXPECT_EQ(LastRequest("authorization"), "Basic YmFsbGFzdDpzM2NyZXQ=");
  unsetenv("BALLAST_TEST_PROM_PASSWORD");
  // Neither the variable nor a file: the request fails before it is sent,
  // without the password in the message.
  absl::StatusOr<QueryResult> r = Query(*client, "value:1");
  ExpectCode(r, absl::StatusCode::kFailedPrecondition,
             "BALLAST_TEST_PROM_PASSWORD is not set");
}

TEST_F(FakePrometheusTest, ReadsTheBearerTokenAgainWhenItChanges) {
  const std::string token_path = dir_.path() + "/token";
  std::ofstream(token_path) << "first\n";
  PrometheusClientOptions options = Options();
  options.http.bearer_token_file = token_path;
  auto client = Client(options);
  ASSERT_TRUE(Query(*client, "value:1").ok());
  EXPECT_EQ(LastRequest("authorization"), "Bearer first");
  std::ofstream(token_path + ".new") << "second\n";
  ASSERT_EQ(std::rename((token_path + ".new").c_str(), token_path.c_str()), 0);
  ASSERT_TRUE(Query(*client, "value:1").ok());
  EXPECT_EQ(LastRequest("authorization"), "Bearer second");
}

TEST_F(FakePrometheusTest, DestroyingTheClientCancelsPendingQueries) {
  auto client = Client(Options());
  std::vector<absl::StatusCode> codes;
  for (int i = 0; i < 6; ++i) {  // 4 in flight, 2 queued
    client->Query({.promql = "sleep:5"}, absl::Now(),
                  [&codes](absl::StatusOr<QueryResult> r) {
                    codes.push_back(r.status().code());
                  });
  }
  io_.run_for(std::chrono::milliseconds(200));
  client.reset();
  const absl::Time start = absl::Now();
  io_.restart();
  io_.run();
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(codes,
            std::vector<absl::StatusCode>(6, absl::StatusCode::kCancelled));
}

TEST_F(FakePrometheusTest, QueryOnceRunsItsOwnLoop) {
  absl::StatusOr<QueryResult> r = PrometheusClient::QueryOnce(
      Options(), {.promql = "value:2.5"}, absl::Now());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 2.5);
}

}  // namespace
}  // namespace ballast::source
