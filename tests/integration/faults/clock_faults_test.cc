// Issue 12, the fault matrix, time: the wall clock of a running `ballast
// serve` steps an hour forwards or backwards (libfaketime, preloaded into
// ballast only, with a timestamp file the test rewrites; the monotonic
// clock is left alone, as a real step leaves it). ballast's windows, EWMA
// and input ages run on the monotonic clock (ballast/core/clock.h), so:
//   - a 20 s scale-down window still holds the old count for 20 s, neither
//     expiring at once (forwards) nor freezing for an hour (backwards);
//   - an EWMA with a 4 s half-life still decays step by step, never
//     outside the values it averaged;
//   - an input's age stays a few seconds, never an hour or negative.
// That the step reached ballast is checked first: the wall-clock reload
// timestamp in /metrics moves by the hour after a SIGHUP.
#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "gtest/gtest.h"
#include "integration/common/redis_commands.h"
#include "integration/faults/faults_fixture.h"

namespace ballast::testing {
namespace {

constexpr char kLibFaketime[] =
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
constexpr char kWindowed[] = R"(ballast_recommended_replicas{target="window"})";
constexpr char kEwmaDesired[] = R"(ballast_desired_replicas{target="ewma"})";
constexpr char kAge[] =
    R"(ballast_input_age_seconds{input="backlog",target="window"})";
constexpr char kReloadTime[] =
    "ballast_config_last_reload_success_timestamp_seconds";

class FaultsClockTest : public FaultsTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(kLibFaketime))
        << kLibFaketime
        << " is missing: the clock faults need Debian's libfaketime";
    const std::string lib = kLibFaketime;
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(SetBacklog(10).ok());
    offset_file_ = dir().path() + "/faketime";
    std::ofstream(offset_file_) << "+0\n";
    std::string asan =
        std::getenv("ASAN_OPTIONS") ? std::getenv("ASAN_OPTIONS") : "";
    // libfaketime comes before the ASan runtime in a sanitized build.
    asan =
        absl::StrCat(asan, asan.empty() ? "" : ":", "verify_asan_link_order=0");
    ASSERT_TRUE(StartBallast(absl::StrReplaceAll(
                                 R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS"}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
targets:
  - name: window
    maxReplicas: 50
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: 1}
    behavior:
      scaleUp: {policies: [{type: Percent, value: 1000, periodSeconds: 1}]}
      scaleDown:
        stabilizationWindowSeconds: 20
        policies: [{type: Percent, value: 100, periodSeconds: 1}]
  - name: ewma
    maxReplicas: 50
    tolerance: 0
    inputs:
      - name: backlog
        celery: {source: main, queues: [asr]}
        averageValue: 1
        smoothing: {ewmaHalfLifeSeconds: 4}
    behavior:
      scaleUp: {policies: [{type: Percent, value: 1000, periodSeconds: 1}]}
      scaleDown:
        stabilizationWindowSeconds: 0
        policies: [{type: Percent, value: 100, periodSeconds: 1}]
)",
                                 {{"REDIS", absl::StrCat(redis_.port())}}),
                             {},
                             {{"LD_PRELOAD", lib},
                              {"FAKETIME_TIMESTAMP_FILE", offset_file_},
                              {"FAKETIME_NO_CACHE", "1"},
                              {"FAKETIME_DONT_FAKE_MONOTONIC", "1"},
                              {"ASAN_OPTIONS", asan}})
                    .ok())
        << Log();
    ASSERT_TRUE(Eventually([](const std::string& m) {
      return Sample(m, kWindowed) == 10 && Sample(m, kEwmaDesired) == 10;
    })) << Metrics()
        << Log();
    Watch(kWindowed, {10, 2});
  }

  absl::Status SetBacklog(int messages) {
    return ::ballast::testing::SetBacklog(redis_.port(), "asr", messages);
  }

  // Steps ballast's wall clock by `hours` and waits until ballast's own
  // wall-clock readings show it (a SIGHUP stamps the reload time).
  void StepWallClock(int hours) {
    std::ofstream(offset_file_)
        << (hours >= 0 ? "+" : "") << hours * 3600 << "\n";
    const double expected =
        absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch()) + hours * 3600;
    ASSERT_TRUE(Eventually([&](const std::string&) {
      ballast().Signal(SIGHUP);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return std::abs(Sample(Metrics(), kReloadTime).value_or(0) - expected) <
             60;
    })) << "the step did not reach ballast\n"
        << Metrics() << Log();
  }

  // After the backlog falls from 10 to 2 (at `drop`): the windowed target
  // holds 10 for its 20 s window and then falls to 2; the EWMA target's
  // desired count decays through intermediate values, never leaving
  // [2, 10] and never rising; every age stays small.
  void ExpectTimeKeptItsPace(absl::Time drop) {
    absl::Duration window_fell = absl::InfiniteDuration();
    absl::Duration ewma_reached_3 = absl::InfiniteDuration();
    double last_ewma = 10;
    std::vector<double> ewma_seen;
    double max_age = 0;
    while (absl::Now() - drop < absl::Seconds(40)) {
      const std::string m = Metrics();
      const absl::Duration since = absl::Now() - drop;
      const std::optional<double> w = Sample(m, kWindowed);
      const std::optional<double> e = Sample(m, kEwmaDesired);
      const std::optional<double> age = Sample(m, kAge);
      ASSERT_TRUE(w && e && age) << m;
      max_age = std::max(max_age, std::abs(*age));
      if (*w == 2 && window_fell == absl::InfiniteDuration()) {
        window_fell = since;
      }
      EXPECT_GE(*e, 2) << m;
      EXPECT_LE(*e, last_ewma) << "the EWMA rose after the drop\n" << m;
      if (*e != last_ewma) ewma_seen.push_back(*e);
      last_ewma = *e;
      if (*e <= 3 && ewma_reached_3 == absl::InfiniteDuration()) {
        ewma_reached_3 = since;
      }
      if (window_fell != absl::InfiniteDuration() &&
          ewma_reached_3 != absl::InfiniteDuration()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    std::fprintf(stderr,
                 "faults: window fell after %.1f s, EWMA reached 3 after "
                 "%.1f s through %zu values, largest age %.1f s\n",
                 absl::ToDoubleSeconds(window_fell),
                 absl::ToDoubleSeconds(ewma_reached_3), ewma_seen.size(),
                 max_age);
    // The window: not at once (a forward step expiring it), not after an
    // hour (a backward step freezing it). 20 s, give or take the ticks.
    EXPECT_GE(window_fell, absl::Seconds(17)) << Log();
    EXPECT_LE(window_fell, absl::Seconds(26)) << Log();
    // Half-life 4 s from 10 towards 2: 3 is reached after about 3 half-
    // lives, through several values in between.
    EXPECT_GE(ewma_reached_3, absl::Seconds(6)) << Log();
    EXPECT_LE(ewma_reached_3, absl::Seconds(25)) << Log();
    EXPECT_GE(ewma_seen.size(), 3u);
    EXPECT_LT(max_age, 5) << Metrics();
  }

  RedisServer redis_;
  std::string offset_file_;
};

TEST_F(FaultsClockTest, WallClockStepsAnHourForwards) {
  StepWallClock(+1);
  const absl::Time drop = absl::Now();
  ASSERT_TRUE(SetBacklog(2).ok());
  ExpectTimeKeptItsPace(drop);
}

TEST_F(FaultsClockTest, WallClockStepsAnHourBackwards) {
  StepWallClock(-1);
  const absl::Time drop = absl::Now();
  ASSERT_TRUE(SetBacklog(2).ok());
  ExpectTimeKeptItsPace(drop);
}

}  // namespace
}  // namespace ballast::testing
