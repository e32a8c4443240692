// Issue 18: `ballast serve` restarted inside a scale-down window, with a
// state store (restored) and without (seeded); two replicas with the Redis
// lock: a SIGKILLed leader's follower takes over and continues the windows;
// a frozen (SIGSTOPped) leader is fenced; the state store down, emptied, or
// holding a corrupt record or one of another version. Real redis-servers
// (a broker and a state store), the built binary, its /metrics.
#include <signal.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "ballast/state/v1/state.pb.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"
#include "integration/common/process.h"
#include "integration/common/redis_commands.h"
#include "integration/common/serve_process.h"

namespace ballast::testing {
namespace {

constexpr char kRecommended[] =
    R"(ballast_recommended_replicas{target="asr-worker"})";
constexpr char kLeader[] = "ballast_leader";

struct Lease {
  int duration = 3;
  int renew = 2;
  int retry = 1;
};

// One `ballast serve` replica: its config, telemetry port and process.
struct Replica {
  std::string name;
  std::string config;
  int port = 0;
  ChildProcess process;
  std::string log;
};

class HaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.Start().ok());
    ASSERT_TRUE(state_.Start().ok());
  }

  // The config of a replica: one Celery target, averageValue 10, scale-up
  // unlimited, a scale-down window of `window` seconds; `state` adds the
  // state store with `lease`.
  std::string Config(int port, int window, bool state, const Lease& lease,
                     const std::string& current = "") {
    std::string text = absl::StrReplaceAll(
        R"(sources:
  redis: {broker: {address: "127.0.0.1:BROKER", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY"}
targets:
  - name: asr-worker
    minReplicas: 1
    maxReplicas: 50
CURRENT    behavior:
      scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 1}]}
      scaleDown: {stabilizationWindowSeconds: WINDOW}
    inputs:
      - {name: backlog, celery: {source: broker, queues: [asr]}, averageValue: 10}
)",
        {{"BROKER", absl::StrCat(broker_.port())},
         {"TELEMETRY", absl::StrCat(port)},
         {"WINDOW", absl::StrCat(window)},
         {"CURRENT", current}});
    if (state) {
      absl::StrAppend(
          &text, "state:\n  redis: {address: \"127.0.0.1:", state_.port(),
          "\", timeoutMs: 1000, connectTimeoutMs: 300}\n",
          "  leaderElection: {leaseDurationSeconds: ", lease.duration,
          ", renewDeadlineSeconds: ", lease.renew,
          ", retryPeriodSeconds: ", lease.retry, "}\n");
    }
    return text;
  }

  Replica& AddReplica(const std::string& name, int window, bool state,
                      const Lease& lease = {},
                      const std::string& current = "") {
    auto r = std::make_unique<Replica>();
    r->name = name;
    absl::StatusOr<int> port = FreePort();
    EXPECT_TRUE(port.ok());
    r->port = *port;
    r->config = absl::StrCat(dir_.path(), "/", name, ".yaml");
    r->log = absl::StrCat(dir_.path(), "/", name, ".log");
    std::ofstream(r->config) << Config(r->port, window, state, lease, current);
    replicas_.push_back(std::move(r));
    return *replicas_.back();
  }

  // Starts (or restarts) `r`; waits for its /healthz (a follower is not
  // ready before it has read a snapshot).
  void Start(Replica& r) {
    absl::Status s = StartServe(r.process, {.config_path = r.config,
                                            .log_path = r.log,
                                            .telemetry_port = r.port,
                                            .wait_path = "/healthz",
                                            .env = {{"POD_NAME", r.name}}});
    ASSERT_TRUE(s.ok()) << s << ReadFile(r.log);
  }

  static std::optional<double> Read(const Replica& r,
                                    const std::string& series) {
    return Sample(MetricsOf(r.port), series);
  }

  // The replica that leads, waiting up to `timeout` for exactly one.
  Replica* Leader(absl::Duration timeout = absl::Seconds(15)) {
    const absl::Time end = absl::Now() + timeout;
    while (absl::Now() < end) {
      Replica* leader = nullptr;
      int leaders = 0;
      for (auto& r : replicas_) {
        if (!r->process.running() || r->process.Exited()) continue;
        if (Read(*r, kLeader) == 1.0) {
          leader = r.get();
          ++leaders;
        }
      }
      if (leaders == 1) return leader;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return nullptr;
  }

  void Backlog(int messages) {
    ASSERT_TRUE(SetBacklog(broker_.port(), "asr", messages).ok());
  }

  std::string StateMeta(const std::string& field) {
    auto r = RunRedis(state_.port(), {{"HGET", "ballast:meta", field}});
    if (!r.ok() || r->empty()) return "";
    return (*r)[0].str;
  }

  std::string Logs() {
    std::string all;
    for (auto& r : replicas_) {
      absl::StrAppend(&all, "--- ", r->name, " ---\n", ReadFile(r->log));
    }
    return all;
  }

  TempDir dir_;
  RedisServer broker_;
  RedisServer state_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// Samples `series` of `r` every 200 ms until `end`; returns each reading
// with its time (missing readings are absent).
std::vector<std::pair<absl::Time, double>> Watch(const Replica& r,
                                                 const std::string& series,
                                                 absl::Time end) {
  std::vector<std::pair<absl::Time, double>> seen;
  while (absl::Now() < end) {
    if (std::optional<double> v = Sample(MetricsOf(r.port), series)) {
      seen.emplace_back(absl::Now(), *v);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
  return seen;
}

// The first time the readings go below `floor`, or nullopt.
std::optional<absl::Time> FirstBelow(
    const std::vector<std::pair<absl::Time, double>>& seen, double floor) {
  for (const auto& [t, v] : seen) {
    if (v < floor) return t;
  }
  return std::nullopt;
}

// Without a state store: a restart seeds the windows with the observed
// count (the HPA's first sync), so a workload at 10 whose load fell to 1
// replica's worth is held at 10 for the window after the restart too.
TEST_F(HaTest, WithoutAStoreARestartSeedsTheWindowWithTheObservedCount) {
  Backlog(10);  // 1 replica's worth; the workload runs 10
  Replica& r = AddReplica("solo", /*window=*/8, /*state=*/false, {},
                          "    currentReplicas: {static: 10}\n");
  Start(r);
  const absl::Time started = absl::Now();
  ASSERT_TRUE(EventuallySample(r.port, kRecommended, [](double v) {
    return v > 0;
  })) << ReadFile(r.log);
  const auto seen = Watch(r, kRecommended, started + absl::Seconds(12));
  ASSERT_FALSE(seen.empty());
  const std::optional<absl::Time> drop = FirstBelow(seen, 10);
  ASSERT_TRUE(drop.has_value()) << "never left 10 after the window\n"
                                << ReadFile(r.log);
  // Held for the window (8 s from the first tick), then 1.
  EXPECT_GE(*drop - started, absl::Seconds(6)) << ReadFile(r.log);
  EXPECT_EQ(seen.back().second, 1) << ReadFile(r.log);
  for (const auto& [t, v] : seen) {
    if (t < *drop) {
      EXPECT_EQ(v, 10);
    }
  }
}

// With a state store: the window restarts where it was. A window of 12 s
// holding 10; restarted 4 s in, the replica keeps 10 until the original
// window ends, not 12 s after the restart (restored, not seeded: without
// currentReplicas a seed would be minReplicas, 1, at once).
TEST_F(HaTest, WithAStoreARestartKeepsTheWindowWhereItWas) {
  Backlog(100);
  Replica& r = AddReplica("ballast-0", /*window=*/12, /*state=*/true);
  Start(r);
  ASSERT_TRUE(EventuallySample(r.port, kRecommended, [](double v) {
    return v == 10;
  })) << ReadFile(r.log);
  ASSERT_EQ(Leader(), &r) << Logs();
  absl::SleepFor(absl::Seconds(2));
  Backlog(10);
  const absl::Time fell = absl::Now();
  absl::SleepFor(absl::Seconds(4));
  ASSERT_EQ(Read(r, kRecommended), 10) << ReadFile(r.log);
  r.process.Signal(SIGKILL);
  r.process.Stop();
  Start(r);
  const absl::Time restarted = absl::Now();
  const auto seen = Watch(r, kRecommended, fell + absl::Seconds(17));
  ASSERT_FALSE(seen.empty()) << ReadFile(r.log);
  const std::optional<absl::Time> drop = FirstBelow(seen, 10);
  ASSERT_TRUE(drop.has_value()) << ReadFile(r.log);
  // Not before the window that began when the backlog fell ends...
  EXPECT_GE(*drop - fell, absl::Seconds(11)) << ReadFile(r.log);
  // ...and not a whole window after the restart.
  EXPECT_LT(*drop - restarted, absl::Seconds(11)) << ReadFile(r.log);
  EXPECT_EQ(seen.back().second, 1);
  const std::optional<double> restored =
      Read(r, R"(ballast_state_reads_total{result="ok"})");
  EXPECT_GE(restored.value_or(0), 1);
}

// Two replicas: one leads, the other serves the leader's numbers from the
// store. SIGKILL the leader inside a scale-down window: the follower leads
// within the lease duration plus a tick, served 10 all along, and drops only
// when the window that began before the failover ends.
TEST_F(HaTest, AFollowerTakesOverAndContinuesTheWindows) {
  Backlog(100);
  Replica& a = AddReplica("ballast-a", /*window=*/12, /*state=*/true);
  Replica& b = AddReplica("ballast-b", /*window=*/12, /*state=*/true);
  Start(a);
  Start(b);
  Replica* leader = Leader();
  ASSERT_NE(leader, nullptr) << Logs();
  Replica* follower = leader == &a ? &b : &a;
  for (Replica* r : {leader, follower}) {
    ASSERT_TRUE(EventuallySample(r->port, kRecommended,
                                 [](double v) { return v == 10; }))
        << r->name << "\n"
        << Logs();
  }
  EXPECT_EQ(Read(*follower, kLeader), 0);
  EXPECT_EQ(StateMeta("writer"), leader->name);
  absl::SleepFor(absl::Seconds(2));
  Backlog(10);
  const absl::Time fell = absl::Now();
  absl::SleepFor(absl::Seconds(3));
  leader->process.Signal(SIGKILL);
  leader->process.Stop();
  const absl::Time killed = absl::Now();
  std::vector<std::pair<absl::Time, double>> seen;
  std::optional<absl::Time> led;
  while (absl::Now() < fell + absl::Seconds(17)) {
    const std::string body = MetricsOf(follower->port);
    if (std::optional<double> v = Sample(body, kRecommended)) {
      seen.emplace_back(absl::Now(), *v);
    }
    if (!led && Sample(body, kLeader) == 1.0) led = absl::Now();
    absl::SleepFor(absl::Milliseconds(200));
  }
  ASSERT_FALSE(seen.empty()) << Logs();
  // It leads within the lease duration (3 s) plus a tick (1 s), and a
  // retry period (1 s) and a scrape of margin.
  ASSERT_TRUE(led.has_value()) << Logs();
  EXPECT_LT(*led - killed, absl::Seconds(5.5)) << Logs();
  std::cerr << "failover: led after " << (*led - killed) << "\n";
  EXPECT_EQ(StateMeta("writer"), follower->name) << Logs();
  const std::optional<absl::Time> drop = FirstBelow(seen, 10);
  ASSERT_TRUE(drop.has_value()) << Logs();
  EXPECT_GE(*drop - fell, absl::Seconds(11)) << Logs();
  EXPECT_LT(*drop - killed, absl::Seconds(11)) << Logs();
  for (const auto& [t, v] : seen) {
    if (t < *drop) {
      EXPECT_EQ(v, 10);
    }
  }
  EXPECT_EQ(seen.back().second, 1) << Logs();
  EXPECT_GE(Read(*follower, "ballast_leader_transitions_total").value_or(0), 1);
}

// A leader frozen past its lease (SIGSTOP) is replaced; when it wakes, no
// write of it lands after the new leader's (the fence), and it follows.
TEST_F(HaTest, AFrozenLeaderIsFencedWhenItWakes) {
  Backlog(30);
  Replica& a = AddReplica("ballast-a", /*window=*/5, /*state=*/true);
  Replica& b = AddReplica("ballast-b", /*window=*/5, /*state=*/true);
  Start(a);
  ASSERT_EQ(Leader(), &a) << Logs();
  Start(b);
  ASSERT_TRUE(EventuallySample(b.port, kRecommended, [](double v) {
    return v == 3;
  })) << Logs();
  a.process.Signal(SIGSTOP);
  const absl::Time end = absl::Now() + absl::Seconds(10);
  while (absl::Now() < end && StateMeta("writer") != "ballast-b") {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_EQ(StateMeta("writer"), "ballast-b") << Logs();
  const std::string fence = StateMeta("term");
  a.process.Signal(SIGCONT);
  // For 4 s after it wakes, every write is b's, in b's term.
  const absl::Time watch_end = absl::Now() + absl::Seconds(4);
  while (absl::Now() < watch_end) {
    ASSERT_EQ(StateMeta("writer"), "ballast-b") << Logs();
    ASSERT_EQ(StateMeta("term"), fence) << Logs();
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Read(a, kLeader), 0) << Logs();
  EXPECT_EQ(Read(b, kLeader), 1) << Logs();
  EXPECT_EQ(Read(a, kRecommended), 3) << Logs();
}

// The state store down for a while (shorter than the renew deadline) and
// back empty: the leader computed in memory all along (the backlog rose in
// the outage), counted the failed writes, and wrote the whole state again.
TEST_F(HaTest, AStoreOutageIsRiddenOutAndTheWholeStateRewritten) {
  Backlog(30);
  Replica& r = AddReplica("ballast-0", /*window=*/5, /*state=*/true,
                          {.duration = 30, .renew = 20, .retry = 1});
  Start(r);
  ASSERT_TRUE(EventuallySample(r.port, kRecommended, [](double v) {
    return v == 3;
  })) << ReadFile(r.log);
  state_.Kill();
  Backlog(70);
  EXPECT_TRUE(EventuallySample(r.port, kRecommended, [](double v) {
    return v == 7;
  })) << ReadFile(r.log);
  EXPECT_TRUE(EventuallySample(r.port,
                               R"(ballast_state_writes_total{result="error"})",
                               [](double v) { return v >= 1; }))
      << ReadFile(r.log);
  EXPECT_EQ(Read(r, kLeader), 1);
  ASSERT_TRUE(state_.Start().ok());  // empty, as after a FLUSHALL
  const absl::Time end = absl::Now() + absl::Seconds(10);
  std::string stored;
  while (absl::Now() < end) {
    auto got =
        RunRedis(state_.port(), {{"HGET", "ballast:records", "asr-worker"}});
    if (got.ok() && (*got)[0].type == net::RedisReply::Type::kString) {
      stored = (*got)[0].str;
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  ballast::state::v1::TargetRecord record;
  ASSERT_TRUE(record.ParseFromString(stored)) << ReadFile(r.log);
  EXPECT_EQ(record.target(), "asr-worker");
  EXPECT_EQ(record.writer(), "ballast-0");
  EXPECT_EQ(record.latest().replicas(), 7);
  // FLUSHALL under a running leader: the same.
  ASSERT_TRUE(RunRedis(state_.port(), {{"FLUSHALL"}}).ok());
  EXPECT_TRUE(
      EventuallySample(r.port, kRecommended, [](double v) { return v == 7; }));
  const absl::Time end2 = absl::Now() + absl::Seconds(10);
  bool rewritten = false;
  while (absl::Now() < end2 && !rewritten) {
    auto got =
        RunRedis(state_.port(), {{"HEXISTS", "ballast:records", "asr-worker"}});
    rewritten = got.ok() && (*got)[0].integer == 1;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_TRUE(rewritten) << ReadFile(r.log);
}

// A corrupt record and a record of another version are discarded (logged,
// counted by reason) and the target starts seeded; nothing crashes.
TEST_F(HaTest, CorruptAndUnknownVersionRecordsAreDiscarded) {
  ballast::state::v1::TargetRecord future;
  future.set_version(2);
  future.set_target("other");
  ASSERT_TRUE(RunRedis(state_.port(), {{"HSET", "ballast:records", "asr-worker",
                                        std::string("\xff\x01garbage", 9)},
                                       {"HSET", "ballast:records", "other",
                                        future.SerializeAsString()}})
                  .ok());
  Backlog(40);
  Replica& r = AddReplica("ballast-0", /*window=*/5, /*state=*/true);
  Start(r);
  EXPECT_TRUE(EventuallySample(r.port, kRecommended, [](double v) {
    return v == 4;
  })) << ReadFile(r.log);
  EXPECT_TRUE(EventuallySample(
      r.port, R"(ballast_state_records_discarded_total{reason="corrupt"})",
      [](double v) { return v >= 1; }))
      << ReadFile(r.log);
  EXPECT_TRUE(EventuallySample(
      r.port, R"(ballast_state_records_discarded_total{reason="version"})",
      [](double v) { return v >= 1; }))
      << ReadFile(r.log);
  const std::string log = ReadFile(r.log);
  EXPECT_NE(log.find("state record discarded"), std::string::npos) << log;
  // The corrupt record is replaced by a good one.
  const absl::Time end = absl::Now() + absl::Seconds(5);
  ballast::state::v1::TargetRecord record;
  while (absl::Now() < end) {
    auto got =
        RunRedis(state_.port(), {{"HGET", "ballast:records", "asr-worker"}});
    if (got.ok() && record.ParseFromString((*got)[0].str) &&
        record.version() == 1) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(record.version(), 1u);
  EXPECT_EQ(record.latest().replicas(), 4);
  // A follower reads the store every tick and finds the unknown version of
  // "other" each time (the leader keeps a removed target's record through
  // the grace period): counted once, not once per read.
  Replica& f = AddReplica("ballast-1", /*window=*/5, /*state=*/true);
  Start(f);
  EXPECT_TRUE(EventuallySample(f.port,
                               R"(ballast_state_reads_total{result="ok"})",
                               [](double v) { return v >= 4; }))
      << ReadFile(f.log);
  EXPECT_EQ(
      Sample(MetricsOf(f.port),
             R"(ballast_state_records_discarded_total{reason="version"})"),
      1)
      << ReadFile(f.log);
}

}  // namespace
}  // namespace ballast::testing
