// Issue 12, the fault matrix, Redis part: a real redis-server behind a
// running `ballast serve` (poll every second, a Celery input on queue asr
// with a backlog of 12) is made slow (DEBUG SLEEP past timeoutMs), out of
// memory, read-only (REPLICAOF a dead port), given a key of the wrong type,
// dropped in the middle of the pipelined tick (a FaultProxy in between cuts
// the reply short and resets the connection), and killed and restarted on
// its port. Throughout, the FaultsTest watcher checks /healthz
// and that only 12 or 15 is ever served; while reads fail the last good
// value is served with a growing age, the failure is counted by kind in
// /metrics and logged; once the fault ends the new value (15) is read.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "gtest/gtest.h"
#include "integration/common/redis_commands.h"
#include "integration/faults/fault_proxy.h"
#include "integration/faults/faults_fixture.h"

namespace ballast::testing {
namespace {

constexpr char kBacklog[] =
    R"(ballast_input_value{input="backlog",target="asr-worker"})";
constexpr char kBacklogAge[] =
    R"(ballast_input_age_seconds{input="backlog",target="asr-worker"})";

class FaultsRedisTest : public FaultsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start({"--enable-debug-command", "yes"}).ok());
    ASSERT_TRUE(Redis({LPush(12)}).ok());
    ASSERT_TRUE(StartBallast(absl::StrReplaceAll(
                                 RedisAsrConfig(),
                                 {{"REDIS", absl::StrCat(BallastRedisPort())}}))
                    .ok())
        << Log();
    ASSERT_TRUE(Eventually([](const std::string& m) {
      return Sample(m, kBacklog) == 12;
    })) << Metrics()
        << Log();
    Watch(kBacklog, {12, 15});
  }

  // The port ballast reads Redis on: the server's own unless a test puts
  // something in between.
  virtual int BallastRedisPort() { return redis_.port(); }

  static std::vector<std::string> LPush(int messages) {
    return LPushCommand("asr", messages);
  }

  // Runs commands on the test's own connection; an error reply is an error.
  absl::StatusOr<std::vector<net::RedisReply>> Redis(
      std::vector<std::vector<std::string>> commands,
      absl::Duration timeout = absl::Seconds(5)) {
    net::RedisOptions options = RedisAt(redis_.port());
    options.command_timeout = timeout;
    absl::StatusOr<std::vector<net::RedisReply>> r =
        net::RunPipelineSync(options, std::move(commands));
    if (!r.ok()) return r;
    for (const net::RedisReply& reply : *r) {
      if (absl::Status s = reply.ToStatus("test command"); !s.ok()) return s;
    }
    return r;
  }

  // While reads fail: counted under `error`, logged with `log_text`, and
  // the last good value 12 served with an age of 2 s and more.
  void ExpectHeldThroughFailures(const std::string& error,
                                 const std::string& log_text) {
    FaultsTest::ExpectHeldThroughFailures(SourceErrors("redis", error),
                                          kBacklog, kBacklogAge, log_text,
                                          /*only_this_error=*/false);
  }

  // While the reads still answer: for `span`, 12 is served fresh (age under
  // 2 s) and no read fails.
  void ExpectReadsStillAnswer(absl::Duration span) {
    const double errors_before =
        SumOf(Metrics(), "ballast_source_errors_total");
    const absl::Time end = absl::Now() + span;
    while (absl::Now() < end) {
      const std::string m = Metrics();
      EXPECT_EQ(Sample(m, kBacklog), 12) << m;
      EXPECT_LT(Sample(m, kBacklogAge).value_or(99), 2) << m;
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    EXPECT_EQ(SumOf(Metrics(), "ballast_source_errors_total"), errors_before)
        << Metrics() << Log();
    EXPECT_FALSE(absl::StrContains(Log(), kHolding)) << Log();
  }

  // From `fault_end` until /metrics shows a fresh value `pred` accepts.
  void MeasureRecovery(const std::string& name, absl::Time fault_end,
                       const std::function<bool(double)>& pred) {
    FaultsTest::MeasureRecovery(name, fault_end, [&](const std::string& m) {
      std::optional<double> v = Sample(m, kBacklog);
      return v && pred(*v) && Sample(m, kBacklogAge).value_or(99) < 2;
    });
  }

  RedisServer redis_;
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
  absl::StatusOr<std::vector<net::RedisReply>> write = Redis({LPush(3)});
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
  absl::StatusOr<std::vector<net::RedisReply>> write = Redis({LPush(3)});
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

// Ballast reads Redis through a FaultProxy, which can cut a reply short.
class FaultsRedisProxyTest : public FaultsRedisTest {
 protected:
  int BallastRedisPort() override {
    EXPECT_TRUE(proxy_.Start(redis_.port()).ok());
    return proxy_.port();
  }

  FaultProxy proxy_;
};

TEST_F(FaultsRedisProxyTest, DroppedInTheMiddleOfThePipelinedTick) {
  // One tick: its pipeline reaches Redis, 7 bytes of the replies come back
  // (the first reply and a part of the second), then the connection is
  // reset. The 15 messages are there for the tick after.
  const size_t sent_before = proxy_.client_bytes().size();
  proxy_.Cut("", 7, /*times=*/1);
  ASSERT_TRUE(Redis({LPush(3)}).ok());
  std::string failed;
  EXPECT_TRUE(Eventually([&](const std::string& m) {
    if (Sample(m, SourceErrors("redis", "unavailable")).value_or(0) < 1)
      return false;
    failed = m;
    return true;
  })) << Metrics()
      << Log();
  // Seen right after the failed tick: 12 held, one tick old.
  EXPECT_EQ(Sample(failed, SourceErrors("redis", "unavailable")), 1) << failed;
  EXPECT_EQ(SumOf(failed, "ballast_source_errors_total"), 1) << failed;
  EXPECT_EQ(Sample(failed, kBacklog), 12) << failed;
  EXPECT_GE(Sample(failed, kBacklogAge).value_or(0), 0.9) << failed;
  EXPECT_EQ(proxy_.cuts(), 1);
  EXPECT_EQ(proxy_.last_cut_forwarded(), 7u);
  EXPECT_GT(proxy_.last_cut_received(), 7u);
  const std::string pipeline = proxy_.client_bytes().substr(sent_before);
  EXPECT_TRUE(absl::StrContains(pipeline, "LLEN")) << pipeline;
  EXPECT_TRUE(absl::StrContains(pipeline, "HLEN")) << pipeline;
  EXPECT_TRUE(absl::StrContains(Log(), kHolding)) << Log();
  EXPECT_TRUE(absl::StrContains(Log(), "read: Connection reset by peer"))
      << Log();
  // The next tick connects again and reads 15, without another failure.
  MeasureRecovery("redis-mid-pipeline-drop", proxy_.last_cut(),
                  [](double v) { return v == 15; });
  EXPECT_EQ(proxy_.connections(), 2);
  EXPECT_EQ(SumOf(Metrics(), "ballast_source_errors_total"), 1) << Metrics();
}

}  // namespace
}  // namespace ballast::testing
