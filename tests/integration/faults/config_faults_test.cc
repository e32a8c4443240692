// Issue 12, the fault matrix, config part: a running `ballast serve` (a
// Celery input on a real redis-server, poll every second) has its config
// rewritten and SIGHUPed 100 times in 10 s with broken files among the good
// ones, deleted and recreated, replaced by rename and by a ConfigMap-style
// symlink swap, and reloaded while a KEDA StreamIsActive stream and an HTTPS
// keep-alive connection are open. Throughout, the FaultsTest watcher checks
// /healthz and that only recommendations of valid configs are served.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "gtest/gtest.h"
#include "integration/common/redis_commands.h"
#include "integration/faults/faults_fixture.h"
#include "integration/faults/net_client.h"

namespace ballast::testing {
namespace {

constexpr char kRecommended[] =
    R"(ballast_recommended_replicas{target="asr-worker"})";
constexpr char kHeld[] = R"(ballast_recommended_replicas{target="held"})";
constexpr char kHeldBacklog[] =
    R"(ballast_input_value{input="backlog",target="held"})";
constexpr char kHeldByWindow[] =
    R"(ballast_limited_by{reason="scaleDownStabilization",target="held"})";
constexpr char kSuccesses[] =
    R"(ballast_config_reloads_total{result="success"})";
constexpr char kFailures[] =
    R"(ballast_config_reloads_total{result="failure"})";
constexpr char kRejectedLog[] = "config rejected; keeping the running one";
constexpr char kReloadedLog[] = "msg=\"config reloaded\"";
constexpr char kMissingLog[] =
    "config file missing; keeping the running config";

// Immediate scaling both ways for asr-worker, so that each valid config's
// averageValue shows at once (12 waiting: 2 -> 6, 3 -> 4, 4 -> 3, 6 -> 2);
// `held` keeps a 600 s scale-down window, which a reload must not reset.
constexpr char kConfig[] = R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS", timeoutMs: 300, connectTimeoutMs: 300PASSWORD}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
SERVER_EXTRAtargets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
      scaleDown: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, AVERAGE: AVG}
  - name: held
    maxReplicas: 20
    currentReplicas: {static: 2}
    behavior:
      scaleUp: {stabilizationWindowSeconds: 0, policies: [{type: Pods, value: 100, periodSeconds: 1}]}
      scaleDown: {stabilizationWindowSeconds: 600}
    inputs:
      - {name: backlog, celery: {source: main, queues: [held]}, averageValue: 3}
EXTRA)";

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// One version of the config file.
struct Variant {
  int average = 3;
  std::string average_key = "averageValue";
  std::string password;      // appended to the redis source
  std::string extra;         // appended after the targets
  std::string server_extra;  // more keys of `server`, indented by two
  bool truncated = false;    // cut in the middle: a YAML error
};

class FaultsConfigTest : public FaultsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(Redis({LPush("asr", 12), LPush("held", 24)}).ok());
  }

  // Starts ballast on `v` and waits for asr-worker's first recommendation.
  void Start(const Variant& v = {}) {
    ASSERT_TRUE(StartBallast(Text(v)).ok()) << Log();
    pid_ = ballast().pid();
    ASSERT_TRUE(Eventually([&](const std::string& m) {
      return Sample(m, kRecommended) == Expected(v.average);
    })) << Metrics()
        << Log();
  }

  static double Expected(int average) { return (12 + average - 1) / average; }

  std::string Text(const Variant& v) const {
    std::string text =
        absl::StrReplaceAll(kConfig, {{"REDIS", absl::StrCat(redis_.port())},
                                      {"PASSWORD", v.password},
                                      {"SERVER_EXTRA", v.server_extra},
                                      {"AVERAGE", v.average_key},
                                      {"AVG", absl::StrCat(v.average)},
                                      {"EXTRA", v.extra}});
    if (telemetry_port() != 0) {
      text = absl::StrReplaceAll(
          text, {{"TELEMETRY", absl::StrCat(telemetry_port())}});
    }
    if (v.truncated) text = text.substr(0, text.size() / 2) + "\n  - [";
    return text;
  }

  // In place (truncate and write) or, with `rename`, a new file renamed
  // over the old one, as editors and `kubectl cp` do.
  void Write(const std::string& text, bool rename = false,
             const std::string& path = "") {
    const std::string target = path.empty() ? config_path() : path;
    if (!rename) {
      std::ofstream(target, std::ios::trunc) << text;
      return;
    }
    const std::string tmp = target + ".tmp";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::filesystem::rename(tmp, target);
  }

  static std::vector<std::string> LPush(const std::string& queue,
                                        int messages) {
    return LPushCommand(queue, messages);
  }

  absl::StatusOr<std::vector<net::RedisReply>> Redis(
      std::vector<std::vector<std::string>> commands) {
    return RunRedis(redis_.port(), std::move(commands));
  }

  // Redis' connected_clients (ballast's connections plus this one).
  int RedisClients() {
    absl::StatusOr<std::vector<net::RedisReply>> r =
        Redis({{"INFO", "clients"}});
    if (!r.ok() || r->empty()) return -1;
    const std::string info = (*r)[0].str;
    for (absl::string_view line : absl::StrSplit(info, "\r\n")) {
      if (absl::ConsumePrefix(&line, "connected_clients:")) {
        int n = 0;
        if (absl::SimpleAtoi(line, &n)) return n;
      }
    }
    return -1;
  }

  double Reloads() {
    const std::string m = Metrics();
    return Sample(m, kSuccesses).value_or(0) + Sample(m, kFailures).value_or(0);
  }

  RedisServer redis_;
  pid_t pid_ = 0;
};

// 100 reloads in 10 s: every fourth file is broken in one of five ways (a
// YAML error, an unknown key, minReplicas above maxReplicas, an empty file,
// a password variable that is not set, which fails only when applied).
// Each broken one would make asr-worker 12 if served; the watcher allows
// only 2, 3, 4 and 6, the values of the valid configs.
TEST_F(FaultsConfigTest, HundredReloadsInTenSecondsSomeBroken) {
  Start();
  // `held`: 24 waiting -> 8; then 3 waiting proposes 1, but the 600 s
  // scale-down window keeps 8.
  ASSERT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kHeld) == 8;
  })) << Metrics();
  ASSERT_TRUE(Redis({{"DEL", "held"}, LPush("held", 3)}).ok());
  ASSERT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kHeldBacklog) == 3 && Sample(m, kHeldByWindow) == 1;
  })) << Metrics();
  ASSERT_EQ(Sample(Metrics(), kHeld), 8);
  Watch(kRecommended, {2, 3, 4, 6});
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int fds_before = CountFds(pid_);
  const int redis_clients_before = RedisClients();

  const int averages[] = {2, 3, 4, 6};
  int valid = 0, invalid = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    const absl::Time slot_end = start + absl::Milliseconds(100) * (i + 1);
    Variant v{.average = averages[i % 4]};
    if (i % 4 == 1 && i < 99) {
      v.average = 1;
      switch ((i / 4) % 5) {
        case 0:
          v.truncated = true;
          break;
        case 1:
          v.average_key = "averageValu";
          break;
        case 2:
          v.extra = "    minReplicas: 30\n";
          break;
        case 3:
          v = Variant{.average = 1, .truncated = true};
          break;
        case 4:
          v.password = ", passwordEnv: BALLAST_FAULTS_NO_SUCH_VARIABLE";
          break;
      }
      ++invalid;
    } else {
      ++valid;
    }
    std::string text = Text(v);
    if (i % 4 == 1 && (i / 4) % 5 == 3) text.clear();  // an empty file
    const double before = Reloads();
    Write(text, /*rename=*/i % 2 == 0);
    ballast().Signal(SIGHUP);
    // Each version is read at least once (by the SIGHUP or the watcher)
    // before the next is written.
    EXPECT_TRUE(
        Eventually([&](const std::string&) { return Reloads() > before; },
                   absl::Seconds(5)))
        << i << "\n"
        << Log();
    std::this_thread::sleep_until(absl::ToChronoTime(slot_end));
  }
  const absl::Duration took = absl::Now() - start;
  std::fprintf(stderr, "faults: 100 reloads (%d broken) in %.2f s\n", invalid,
               absl::ToDoubleSeconds(took));
  EXPECT_LT(took, absl::Seconds(15));
  // Files 1, 5, ..., 97 were broken: 25 of them, in five ways.
  EXPECT_EQ(invalid, 25);
  EXPECT_EQ(valid, 75);
  // The last file (average 6) is in force: 12 / 6 = 2.
  EXPECT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kRecommended) == 2;
  })) << Metrics();
  // Every rejection counted and logged; every success too (the watcher may
  // still be reading the last files: wait for the counts, not a time).
  // A reload is counted before it is logged: wait until the log has
  // caught up with the counts too.
  EXPECT_TRUE(Eventually([&](const std::string& m) {
    const double f = Sample(m, kFailures).value_or(0);
    const double ok = Sample(m, kSuccesses).value_or(0);
    const std::string log = Log();
    return f >= invalid && ok >= valid &&
           static_cast<double>(Count(log, kRejectedLog)) == f &&
           static_cast<double>(Count(log, kReloadedLog)) == ok;
  })) << Metrics();
  const std::string m = Metrics();
  const std::string log = Log();
  const double failures = Sample(m, kFailures).value_or(0);
  const double successes = Sample(m, kSuccesses).value_or(0);
  std::fprintf(stderr, "faults: reloads success=%.0f failure=%.0f\n", successes,
               failures);
  EXPECT_GE(failures, invalid);
  EXPECT_GE(successes, valid);
  EXPECT_EQ(static_cast<double>(Count(log, kRejectedLog)), failures) << log;
  EXPECT_EQ(static_cast<double>(Count(log, kReloadedLog)), successes);
  EXPECT_TRUE(absl::StrContains(log, "averageValu")) << log;
  EXPECT_TRUE(absl::StrContains(log, "targets[1].minReplicas")) << log;
  EXPECT_TRUE(
      absl::StrContains(log, "BALLAST_FAULTS_NO_SUCH_VARIABLE is not set"));
  EXPECT_GE(Sample(m, "ballast_config_last_reload_success_timestamp_seconds")
                .value_or(0),
            absl::ToDoubleSeconds(start - absl::UnixEpoch()));
  // `held` kept its window through 100 reloads: still 8, not 1.
  EXPECT_EQ(Sample(m, kHeld), 8) << m;
  EXPECT_EQ(Sample(m, kHeldByWindow), 1) << m;
  // No descriptor or Redis connection left behind by replaced pollers.
  EXPECT_LE(CountFds(pid_), fds_before + 4);
  EXPECT_LE(RedisClients(), redis_clients_before + 1);
  std::fprintf(stderr, "faults: ballast fds %d -> %d, redis clients %d -> %d\n",
               fds_before, CountFds(pid_), redis_clients_before,
               RedisClients());
}

TEST_F(FaultsConfigTest, DeletedThenRecreated) {
  Start();
  Watch(kRecommended, {4, 6});
  ASSERT_TRUE(std::filesystem::remove(config_path()));
  // Noticed (the file is checked every 2 s), logged, nothing else changes.
  ASSERT_TRUE(Eventually(
      [&](const std::string&) { return absl::StrContains(Log(), kMissingLog); },
      absl::Seconds(5)))
      << Log();
  const std::string metrics = Metrics();
  EXPECT_EQ(Sample(metrics, kFailures).value_or(0), 0);
  EXPECT_EQ(Sample(metrics, kRecommended), 4);
  // SIGHUP while it is missing: a rejected reload, counted and logged.
  ballast().Signal(SIGHUP);
  EXPECT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kFailures) == 1;
  })) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), kRejectedLog));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Sample(Metrics(), kRecommended), 4);
  EXPECT_EQ(Count(Log(), kMissingLog), 1) << "logged once, not every check";
  // Back, with averageValue 2: picked up without a signal.
  Write(Text({.average = 2}));
  const absl::Time recreated = absl::Now();
  MeasureRecovery("config-recreated", recreated, [](const std::string& m) {
    return Sample(m, kRecommended) == 6 && Sample(m, kSuccesses) == 1;
  });
}

TEST_F(FaultsConfigTest, ReplacedByRename) {
  Start();
  Watch(kRecommended, {4, 6, 3});
  Write(Text({.average = 2}), /*rename=*/true);
  MeasureRecovery("config-renamed", absl::Now(), [](const std::string& m) {
    return Sample(m, kRecommended) == 6;
  });
  // An editor's way: the old file moved aside, then a new one written.
  std::filesystem::rename(config_path(), config_path() + "~");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Write(Text({.average = 4}));
  MeasureRecovery("config-editor-save", absl::Now(), [](const std::string& m) {
    return Sample(m, kRecommended) == 3;
  });
  EXPECT_EQ(Sample(Metrics(), kFailures).value_or(0), 0) << Log();
}

// What the kubelet does to a ConfigMap volume: the file is a symlink through
// `..data`, itself a symlink to a timestamped directory; an update writes a
// new directory and renames a new `..data` over the old one.
TEST_F(FaultsConfigTest, ConfigMapSymlinkSwap) {
  Start();
  Watch(kRecommended, {4, 6, 3});
  namespace fs = std::filesystem;
  const fs::path root = dir().path();
  fs::create_directory(root / "..2026_01");
  Write(Text({.average = 2}), false,
        (root / "..2026_01/ballast.yaml").string());
  fs::create_directory_symlink("..2026_01", root / "..data");
  fs::create_symlink("..data/ballast.yaml", root / "link.tmp");
  fs::rename(root / "link.tmp", config_path());
  ASSERT_TRUE(fs::is_symlink(config_path()));
  MeasureRecovery(
      "configmap-first-link", absl::Now(),
      [](const std::string& m) { return Sample(m, kRecommended) == 6; });
  // The update: a new directory, `..data` swapped atomically, the old gone.
  fs::create_directory(root / "..2026_02");
  Write(Text({.average = 4}), false,
        (root / "..2026_02/ballast.yaml").string());
  fs::create_directory_symlink("..2026_02", root / "..data_tmp");
  fs::rename(root / "..data_tmp", root / "..data");
  fs::remove_all(root / "..2026_01");
  MeasureRecovery("configmap-swap", absl::Now(), [](const std::string& m) {
    return Sample(m, kRecommended) == 3;
  });
  EXPECT_EQ(Sample(Metrics(), kFailures).value_or(0), 0) << Log();
  EXPECT_FALSE(absl::StrContains(Log(), kMissingLog)) << Log();
}

// Reloads while KEDA watches a target and the HPA's aggregator holds a
// keep-alive connection. The serving settings (listen addresses, TLS files,
// limits) apply at start; a reload that changes them is warned about and
// leaves both servers, and so every open stream and connection, as they
// are. A reload that keeps a target keeps its stream, which sees the
// target's later changes; one that removes it ends the stream (NOT_FOUND).
TEST_F(FaultsConfigTest, ReloadsWithAStreamAndAKeepAliveConnectionOpen) {
  absl::StatusOr<int> grpc_port = FreePort();
  absl::StatusOr<int> https_port = FreePort();
  ASSERT_TRUE(grpc_port.ok() && https_port.ok());
  const std::string pki = dir().path() + "/pki";
  std::filesystem::create_directory(pki);
  ASSERT_TRUE(MakeServingPki(pki).ok());
  auto server = [&](int idle_ms) {
    return absl::StrReplaceAll(
        R"(  grpc: {listen: "127.0.0.1:GRPC"}
  externalMetrics:
    listen: "127.0.0.1:HTTPS"
    tlsCertFile: PKI/server.crt
    tlsKeyFile: PKI/server.key
    requestheaderClientCAFile: PKI/proxy-ca.crt
    idleTimeoutMs: IDLE
)",
        {{"GRPC", absl::StrCat(*grpc_port)},
         {"HTTPS", absl::StrCat(*https_port)},
         {"PKI", pki},
         {"IDLE", absl::StrCat(idle_ms)}});
  };
  // `idle`: minReplicas 0 on an empty queue, so inactive until a reload
  // points it at asr.
  auto idle = [](const std::string& queue) {
    return absl::StrCat(R"(  - name: idle
    minReplicas: 0
    maxReplicas: 20
    currentReplicas: {static: 2}
    behavior: {scaleDown: {stabilizationWindowSeconds: 0}}
    inputs:
      - {name: backlog, celery: {source: main, queues: [)",
                        queue, "]}, averageValue: 3}\n");
  };
  Start({.average = 3, .extra = idle("idle"), .server_extra = server(60000)});
  Watch(kRecommended, {2, 3, 4, 6});
  const std::string ca = pki + "/ca.crt";
  IsActiveStream stream(*grpc_port, "idle");
  ASSERT_TRUE(stream.WaitForResults(1, absl::Seconds(10)));
  EXPECT_EQ(stream.results(), std::vector<bool>{false});
  TlsConnection aggregator;
  ASSERT_TRUE(
      aggregator
          .Connect(*https_port, ca, pki + "/proxy.crt", pki + "/proxy.key")
          .ok());
  const std::string path =
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
      "ballast_recommended_replicas?labelSelector=target%3Dasr-worker";
  absl::StatusOr<HttpReply> r = aggregator.Get(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(absl::StrContains(r->body, R"("value":"4")")) << r->body;

  // 20 reloads, every third broken; reload 10 changes the serving settings
  // (a 1 s idle timeout) and reload 11 reverts them.
  const int averages[] = {2, 3, 4, 6};
  for (int i = 0; i < 20; ++i) {
    Variant v{.average = averages[i % 4],
              .extra = idle("idle"),
              .server_extra = server(i == 10 ? 1000 : 60000)};
    if (i % 3 == 2) {
      v.average = 1;
      v.average_key = "averageValu";
    }
    Write(Text(v), i % 2 == 0);
    ballast().Signal(SIGHUP);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  Write(Text(
      {.average = 2, .extra = idle("asr"), .server_extra = server(60000)}));
  ballast().Signal(SIGHUP);
  EXPECT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kRecommended) == 6;
  })) << Log();
  // Warned once, for reload 10: after the revert nothing is pending.
  EXPECT_EQ(Count(Log(),
                  "server settings changed; they apply at the next "
                  "restart"),
            1)
      << Log();
  // The stream is the same one and saw `idle` become active.
  ASSERT_TRUE(stream.WaitForResults(2, absl::Seconds(10)))
      << stream.status().error_message() << Log();
  EXPECT_EQ(stream.results(), (std::vector<bool>{false, true}));
  EXPECT_FALSE(stream.ended());
  // The keep-alive connection is the same one, and still served (the
  // 1 s idle timeout of reload 10 never applied: it has been idle ~4 s).
  r = aggregator.Get(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(absl::StrContains(r->body, R"("value":"6")")) << r->body;
  EXPECT_FALSE(r->close);

  // A reload that removes `idle` ends its stream with NOT_FOUND.
  Write(Text({.average = 2, .server_extra = server(60000)}));
  ballast().Signal(SIGHUP);
  ASSERT_TRUE(stream.WaitEnded(absl::Seconds(10))) << Log();
  EXPECT_EQ(stream.status().error_code(), grpc::StatusCode::NOT_FOUND)
      << stream.status().error_message();
  r = aggregator.Get(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

}  // namespace
}  // namespace ballast::testing
