// Issue 12, "A fault matrix, as tests against real servers" (Redis part):
// a real redis-server behind a running `ballast serve` (poll every second, a
// Celery input on queue asr with a backlog of 12) is made slow (DEBUG SLEEP
// past timeoutMs), out of memory, read-only (REPLICAOF a dead port), given a
// key of the wrong type, and killed and restarted on its port. Throughout,
// /healthz must answer within 2 s and the daemon must stay up; while reads
// fail the last good value is served with a growing age, the failure is
// counted by kind in /metrics and logged; once the fault ends the new value
// (15) is read. The recovery time (fault end to the first good read in
// /metrics) goes to stderr as "recovery redis-<fault>: N s" for
// bench/README.md. Run alone with --gtest_filter='Faults*'.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/source/redis_client.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"

namespace ballast::testing {
namespace {

std::optional<double> Sample(const std::string& body,
                             const std::string& series) {
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, series) ||
        !absl::ConsumePrefix(&line, " ")) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

// The sum of every ballast_source_errors_total series.
double AllSourceErrors(const std::string& body) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, "ballast_source_errors_total{")) continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space != absl::string_view::npos &&
        absl::SimpleAtod(line.substr(space + 1), &v)) {
      sum += v;
    }
  }
  return sum;
}

std::string Errors(const std::string& error) {
  return absl::StrCat(R"(ballast_source_errors_total{error=")", error,
                      R"(",kind="redis",source="main"})");
}

constexpr char kBacklog[] =
    R"(ballast_input_value{input="backlog",target="asr-worker"})";
constexpr char kBacklogAge[] =
    R"(ballast_input_age_seconds{input="backlog",target="asr-worker"})";
constexpr char kHolding[] = "input read failed; holding its last value";

class FaultsRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start({"--enable-debug-command", "yes"}).ok());
    ASSERT_TRUE(Redis({LPush(12)}).ok());
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    telemetry_port_ = *port;
    const std::string config = dir_.path() + "/ballast.yaml";
    std::ofstream(config) << absl::StrReplaceAll(
        R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY"}
targets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: 3}
)",
        {{"REDIS", absl::StrCat(redis_.port())},
         {"TELEMETRY", absl::StrCat(telemetry_port_)}});
    absl::StatusOr<std::string> binary = FindBinary(BALLAST_BINARY);
    ASSERT_TRUE(binary.ok()) << binary.status();
    ASSERT_TRUE(ballast_
                    .Start({*binary, "serve", "--config", config,
                            "--log-format", "logfmt"},
                           log_path())
                    .ok());
    ASSERT_TRUE(
        WaitForHttpOk(telemetry_port_, "/readyz", absl::Seconds(20)).ok())
        << Log();
    ASSERT_TRUE(Eventually([](const std::string& m) {
      return Sample(m, kBacklog) == 12;
    })) << Metrics()
        << Log();
    watcher_ = std::thread([this] { Watch(); });
  }

  void TearDown() override {
    stop_ = true;
    if (watcher_.joinable()) watcher_.join();
    std::lock_guard<std::mutex> lock(mu_);
    // Never a hang: /healthz answered each probe within 2 s.
    EXPECT_EQ(health_failures_, 0) << last_health_failure_ << Log();
    std::fprintf(stderr, "faults: slowest /healthz %.3f s over %d probes\n",
                 absl::ToDoubleSeconds(slowest_health_), health_probes_);
    // Never a crash.
    EXPECT_FALSE(ballast_.Exited()) << Log();
    // Never a value nobody wrote (a zero read as a value, say).
    for (double v : seen_) {
      EXPECT_TRUE(allowed_.count(v) > 0)
          << "ballast_input_value read " << v
          << "; seen: " << absl::StrJoin(seen_, ", ") << "\n"
          << Log();
    }
  }

  static std::vector<std::string> LPush(int messages) {
    std::vector<std::string> lpush = {"LPUSH", "asr"};
    for (int i = 0; i < messages; ++i) lpush.push_back(absl::StrCat("m", i));
    return lpush;
  }

  // Runs commands on the test's own connection; an error reply is an error.
  absl::StatusOr<std::vector<source::RedisReply>> Redis(
      std::vector<std::vector<std::string>> commands,
      absl::Duration timeout = absl::Seconds(5)) {
    source::RedisOptions options;
    options.port = redis_.port();
    options.command_timeout = timeout;
    absl::StatusOr<std::vector<source::RedisReply>> r =
        source::RunPipelineSync(options, std::move(commands));
    if (!r.ok()) return r;
    for (const source::RedisReply& reply : *r) {
      if (absl::Status s = reply.ToStatus("test command"); !s.ok()) return s;
    }
    return r;
  }

  std::string Metrics() {
    absl::StatusOr<HttpReply> r = HttpGet(telemetry_port_, "/metrics");
    return r.ok() ? r->body : "";
  }

  // Waits until `pred(/metrics)` holds, up to `timeout`.
  bool Eventually(const std::function<bool(const std::string&)>& pred,
                  absl::Duration timeout = absl::Seconds(15)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (pred(Metrics())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  // While reads fail: counted under `error`, logged with `log_text`, and
  // the last good value 12 served with an age of 2 s and more.
  void ExpectHeldThroughFailures(const std::string& error,
                                 const std::string& log_text) {
    EXPECT_TRUE(Eventually([&](const std::string& m) {
      return Sample(m, Errors(error)).value_or(0) >= 1;
    })) << Metrics()
        << Log();
    EXPECT_TRUE(Eventually([](const std::string& m) {
      return Sample(m, kBacklogAge).value_or(0) >= 2;
    })) << Metrics()
        << Log();
    const std::string m = Metrics();
    EXPECT_EQ(Sample(m, kBacklog), 12) << m;
    for (absl::string_view line : absl::StrSplit(m, '\n')) {
      if (absl::StartsWith(line, "ballast_source_errors_total{")) {
        std::fprintf(stderr, "faults: %s\n", std::string(line).c_str());
      }
    }
    EXPECT_TRUE(absl::StrContains(Log(), kHolding)) << Log();
    EXPECT_TRUE(absl::StrContains(Log(), log_text)) << Log();
  }

  // While the reads still answer: for `span`, 12 is served fresh (age under
  // 2 s) and no read fails.
  void ExpectReadsStillAnswer(absl::Duration span) {
    const double errors_before = AllSourceErrors(Metrics());
    const absl::Time end = absl::Now() + span;
    while (absl::Now() < end) {
      const std::string m = Metrics();
      EXPECT_EQ(Sample(m, kBacklog), 12) << m;
      EXPECT_LT(Sample(m, kBacklogAge).value_or(99), 2) << m;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    EXPECT_EQ(AllSourceErrors(Metrics()), errors_before) << Metrics() << Log();
    EXPECT_FALSE(absl::StrContains(Log(), kHolding)) << Log();
  }

  // From `fault_end` until /metrics shows a good read (`pred`); prints it.
  void MeasureRecovery(const std::string& name, absl::Time fault_end,
                       const std::function<bool(double)>& pred) {
    const bool recovered = Eventually([&](const std::string& m) {
      std::optional<double> v = Sample(m, kBacklog);
      return v && pred(*v) && Sample(m, kBacklogAge).value_or(99) < 2;
    });
    const absl::Duration took = absl::Now() - fault_end;
    ASSERT_TRUE(recovered) << name << " not recovered after " << took << "\n"
                           << Metrics() << Log();
    std::fprintf(stderr, "recovery %s: %.2f s\n", name.c_str(),
                 absl::ToDoubleSeconds(took));
  }

  // Probes /healthz (2 s limit) and samples the input value until stop_.
  void Watch() {
    while (!stop_) {
      const absl::Time start = absl::Now();
      absl::StatusOr<HttpReply> h =
          HttpGet(telemetry_port_, "/healthz", absl::Seconds(2));
      const absl::Duration took = absl::Now() - start;
      std::optional<double> v = Sample(Metrics(), kBacklog);
      {
        std::lock_guard<std::mutex> lock(mu_);
        ++health_probes_;
        slowest_health_ = std::max(slowest_health_, took);
        if (!h.ok() || h->status != 200) {
          ++health_failures_;
          last_health_failure_ = h.ok() ? absl::StrCat("status ", h->status)
                                        : h.status().ToString();
        }
        if (v) seen_.insert(*v);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  void Allow(double v) {
    std::lock_guard<std::mutex> lock(mu_);
    allowed_.insert(v);
  }

  std::string log_path() const { return dir_.path() + "/ballast.log"; }
  std::string Log() const { return ReadFile(log_path()); }

  TempDir dir_;
  RedisServer redis_;
  int telemetry_port_ = 0;
  ChildProcess ballast_;

  std::thread watcher_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int health_probes_ = 0;
  int health_failures_ = 0;
  std::string last_health_failure_;
  absl::Duration slowest_health_;
  std::set<double> seen_;
  std::set<double> allowed_ = {12, 15};
};

TEST_F(FaultsRedisTest, DebugSleepBeyondTheTimeout) {
  // 6 s asleep against a 300 ms timeout; the call returns when it wakes.
  std::atomic<bool> awake{false};
  absl::Time fault_end;
  std::thread sleeper([&] {
    EXPECT_TRUE(Redis({{"DEBUG", "SLEEP", "6"}}, absl::Seconds(20)).ok());
    fault_end = absl::Now();
    awake = true;
  });
  ExpectHeldThroughFailures("deadline_exceeded", "no answer within");
  EXPECT_FALSE(awake.load()) << "the fault ended before it was observed";
  sleeper.join();
  ASSERT_TRUE(Redis({LPush(3)}).ok());
  MeasureRecovery("redis-debug-sleep", fault_end,
                  [](double v) { return v == 15; });
}

TEST_F(FaultsRedisTest, OutOfMemory) {
  ASSERT_TRUE(Redis({{"CONFIG", "SET", "maxmemory-policy", "noeviction"},
                     {"CONFIG", "SET", "maxmemory", "1"}})
                  .ok());
  // Writes are refused with OOM...
  absl::StatusOr<std::vector<source::RedisReply>> write = Redis({LPush(3)});
  EXPECT_FALSE(write.ok());
  EXPECT_TRUE(absl::StrContains(write.status().message(), "OOM"))
      << write.status();
  // ...but LLEN and HLEN are reads: ballast keeps reading 12, fresh.
  ExpectReadsStillAnswer(absl::Seconds(4));
  const absl::Time fault_end = absl::Now();
  ASSERT_TRUE(Redis({{"CONFIG", "SET", "maxmemory", "0"}, LPush(3)}).ok());
  MeasureRecovery("redis-oom", fault_end, [](double v) { return v == 15; });
}

TEST_F(FaultsRedisTest, ReadOnlyReplicaOfADeadPrimary) {
  absl::StatusOr<int> dead = FreePort();
  ASSERT_TRUE(dead.ok());
  ASSERT_TRUE(Redis({{"REPLICAOF", "127.0.0.1", absl::StrCat(*dead)}}).ok());
  // Writes are refused with READONLY...
  absl::StatusOr<std::vector<source::RedisReply>> write = Redis({LPush(3)});
  EXPECT_FALSE(write.ok());
  EXPECT_TRUE(absl::StrContains(write.status().message(), "READONLY"))
      << write.status();
  // ...but a replica serves its (stale) data: ballast keeps reading 12.
  ExpectReadsStillAnswer(absl::Seconds(4));
  const absl::Time fault_end = absl::Now();
  ASSERT_TRUE(Redis({{"REPLICAOF", "NO", "ONE"}, LPush(3)}).ok());
  MeasureRecovery("redis-read-only", fault_end,
                  [](double v) { return v == 15; });
}

TEST_F(FaultsRedisTest, QueueKeyOfTheWrongType) {
  ASSERT_TRUE(
      Redis({{"MULTI"}, {"DEL", "asr"}, {"SET", "asr", "x"}, {"EXEC"}}).ok());
  ExpectHeldThroughFailures("failed_precondition", "WRONGTYPE");
  // Back to a list of 15 in one step (never an empty list in between).
  const absl::Time fault_end = absl::Now();
  ASSERT_TRUE(Redis({{"MULTI"}, {"DEL", "asr"}, LPush(15), {"EXEC"}}).ok());
  MeasureRecovery("redis-wrong-type", fault_end,
                  [](double v) { return v == 15; });
}

TEST_F(FaultsRedisTest, KilledAndRestartedOnTheSamePort) {
  redis_.Kill();
  ExpectHeldThroughFailures("unavailable", "connect: Connection refused");
  // An outage of about 5 s, then an empty server on the same port. Its first
  // read may be the honest 0 before the 15 messages land.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  Allow(0);
  ASSERT_TRUE(redis_.Start().ok());
  const absl::Time fault_end = absl::Now();
  ASSERT_TRUE(Redis({LPush(15)}).ok());
  MeasureRecovery("redis-kill-restart", fault_end,
                  [](double v) { return v == 0 || v == 15; });
  EXPECT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kBacklog) == 15;
  })) << Log();
}

}  // namespace
}  // namespace ballast::testing
