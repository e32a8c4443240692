#include "ballast/sim/simulator.h"

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::sim {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// No smoothing, tolerance 0, no stabilization windows and rate limits far
// beyond any step here: the recommendation is clamp(ceil(v / target)).
TargetSpec DirectSpec(TargetType type = TargetType::kAverageValue) {
  TargetSpec spec;
  spec.name = "web";
  spec.min_replicas = 1;
  spec.max_replicas = 100;
  spec.tolerance = 0;
  spec.inputs.push_back({.name = "load", .target_type = type, .target = 10});
  Behavior behavior;
  behavior.scale_up = {.stabilization_window_seconds = 0,
                       .select_policy = SelectPolicy::kMax,
                       .policies = {{PolicyType::kPods, 1000, 15}}};
  behavior.scale_down = {.stabilization_window_seconds = 0,
                         .select_policy = SelectPolicy::kMax,
                         .policies = {{PolicyType::kPercent, 100, 15}}};
  spec.behavior = behavior;
  return spec;
}

Trace MustParse(absl::string_view csv) {
  absl::StatusOr<Trace> trace = ParseTrace(csv, "t.csv");
  EXPECT_TRUE(trace.ok()) << trace.status();
  return trace.ok() ? *std::move(trace) : Trace{};
}

SimResult MustSimulate(const TargetSpec& spec, const Trace& trace,
                       const SimOptions& options) {
  absl::StatusOr<SimResult> r = Simulate(spec, trace, options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : SimResult{};
}

SimOptions Startup(double seconds) {
  SimOptions o;
  o.pod_startup_seconds = seconds;
  return o;
}

TEST(Simulate, TicksEveryPollIntervalOnTheLatestRowAtOrBefore) {
  // Rows every 20 s, ticks every 15 s: tick 15 sees the row of 0, tick 30
  // the row of 20, tick 45 the row of 40.
  const Trace trace = MustParse("time,load\n0,10\n20,20\n40,30\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(0));
  EXPECT_THAT(r.timeline.time, ElementsAre(0, 15, 30));
  EXPECT_THAT(r.timeline.input_values[0], ElementsAre(10, 10, 20));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(1, 1, 2));
  EXPECT_EQ(r.summary.duration_seconds, 40);
}

TEST(Simulate, ClosedLoopWithoutStartupMakesEachRecommendationReadyAtOnce) {
  const Trace trace = MustParse("time,load\n0,25\n15,55\n30,5\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(0));
  EXPECT_TRUE(r.summary.closed_loop);
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(3, 6, 1));
  EXPECT_THAT(r.timeline.ready, ElementsAre(3, 6, 1));
  EXPECT_THAT(r.timeline.proposals[0], ElementsAre(3, 6, 1));
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 3 * 15 + 6 * 15);
}

TEST(Simulate, ClosedLoopFeedsThePreviousRecommendationAsCurrentReplicas) {
  // A `value` input at twice its target doubles the current replicas: the
  // run starts from initial_replicas 2, then follows its own decisions.
  TargetSpec spec = DirectSpec(TargetType::kValue);
  spec.initial_replicas = 2;
  const Trace trace = MustParse("time,load\n0,20\n45,20\n");
  const SimResult r = MustSimulate(spec, trace, Startup(0));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(4, 8, 16, 32));
}

TEST(Simulate, ClosedLoopStartsFromMinReplicasWithoutInitialReplicas) {
  TargetSpec spec = DirectSpec(TargetType::kValue);
  spec.min_replicas = 3;
  const Trace trace = MustParse("time,load\n0,20\n");
  EXPECT_THAT(MustSimulate(spec, trace, Startup(0)).timeline.recommendation,
              ElementsAre(6));
}

TEST(Simulate, NewPodsBecomeReadyAfterTheStartupDelay) {
  // Recommendation 6 at t=0; the pods are ready at t=30, two ticks later.
  const Trace trace = MustParse("time,load\n0,55\n60,55\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(30));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(6, 6, 6, 6, 6));
  EXPECT_THAT(r.timeline.ready, ElementsAre(1, 1, 6, 6, 6));
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 1 * 30 + 6 * 30);
  EXPECT_EQ(r.summary.max_ready_replicas, 6);
}

TEST(Simulate, PodsReadyBetweenTicksCountFromTheirReadyTime) {
  const Trace trace = MustParse("time,load\n0,30\n30,30\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(20));
  EXPECT_THAT(r.timeline.ready, ElementsAre(1, 1, 3));
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 1 * 20 + 3 * 10);
}

TEST(Simulate, ScaleDownRemovesStartingPodsFirstAndAtOnce) {
  const Trace trace = MustParse("time,load\n0,55\n15,5\n45,5\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(30));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(6, 1, 1, 1));
  // The five pods still starting at t=15 are dropped; none ever gets ready.
  EXPECT_THAT(r.timeline.ready, ElementsAre(1, 1, 1, 1));
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 45);
}

// Starting pods are cohorts (count, ready time), not one entry per pod: a
// recommendation of a billion replicas used to allocate gigabytes.
TEST(Simulate, ABillionStartingPodsAreOneCohort) {
  TargetSpec spec = DirectSpec();
  spec.max_replicas = 2'000'000'000;
  spec.inputs[0].target = 1;
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 2'000'000'000, 15}};
  struct Case {
    std::string name;
    std::string csv;
    std::vector<int32_t> want_recommendation;
    std::vector<int32_t> want_ready;
    double want_replica_seconds;
  };
  const std::vector<Case> cases = {
      {"ReadyAfterStartup",
       "time,load\n0,1e9\n60,1\n",
       {1'000'000'000, 1'000'000'000, 1'000'000'000, 1'000'000'000, 1},
       {1, 1, 1'000'000'000, 1'000'000'000, 1},
       1 * 30 + 1e9 * 30},
      // Cohorts of t=0 (ready at 30) and t=15 (ready at 45); the scale-down
      // at t=30 drops all 4e8 of the starting one, then 1e8 ready pods.
      {"ScaleDownTakesTheNewestCohortsFirst",
       "time,load\n0,6e8\n15,1e9\n30,5e8\n",
       {600'000'000, 1'000'000'000, 500'000'000},
       {1, 1, 500'000'000},
       1 * 30},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const SimResult r = MustSimulate(spec, MustParse(c.csv), Startup(30));
    EXPECT_EQ(r.timeline.recommendation, c.want_recommendation);
    EXPECT_EQ(r.timeline.ready, c.want_ready);
    EXPECT_DOUBLE_EQ(r.summary.replica_seconds, c.want_replica_seconds);
  }
}

TEST(Simulate, OpenLoopTakesCurrentReplicasFromTheTrace) {
  const Trace trace =
      MustParse("time,load,current_replicas\n0,20,2\n15,20,5\n30,20,\n");
  const SimResult r =
      MustSimulate(DirectSpec(TargetType::kValue), trace, Startup(30));
  EXPECT_FALSE(r.summary.closed_loop);
  // ceil(current * 20 / 10); at t=30 current is missing so the engine
  // assumes its previous recommendation (10).
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(4, 10, 20));
  // Ready replicas are the trace's, at once, and hold when the cell is empty.
  EXPECT_THAT(r.timeline.ready, ElementsAre(2, 5, 5));
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 2 * 15 + 5 * 15);
}

TEST(Simulate, EmptyCellIsAMissingReadingAndHoldsTheRecommendation) {
  const Trace trace = MustParse("time,load\n0,55\n15,\n30,\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(0));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(6, 6, 6));
  EXPECT_TRUE(std::isnan(r.timeline.input_values[0][1]));
  EXPECT_EQ(r.timeline.proposals[0][1], -1);
  EXPECT_EQ(r.timeline.limited_by[1], engine::Limit::kMissingData);
  EXPECT_EQ(r.summary.missing_input_ticks, 2);
}

TEST(Simulate, SummaryOfATinyTraceMatchesHandComputedNumbers) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].slo.max = 25;
  spec.inputs[0].slo.max_per_replica = 12;
  const Trace trace = MustParse("time,load\n0,30\n15,30\n30,10\n45,10\n");
  const SimResult r = MustSimulate(spec, trace, Startup(15));
  // t=0: ready 1, rec 3 (pods ready at 15); load 30 breaks both SLOs.
  // t=15: ready 3, rec 3; 30 / 3 = 10 is fine but 30 > max 25.
  // t=30: rec 1, scale-down at once; 10 is fine. t=45: end of run.
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(3, 3, 1, 1));
  EXPECT_THAT(r.timeline.ready, ElementsAre(1, 3, 1, 1));
  EXPECT_EQ(r.summary.ticks, 4);
  EXPECT_DOUBLE_EQ(r.summary.duration_seconds, 45);
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 15 + 45 + 15);
  EXPECT_DOUBLE_EQ(r.summary.mean_replicas, 75.0 / 45);
  EXPECT_EQ(r.summary.scale_events, 2);
  EXPECT_DOUBLE_EQ(r.summary.slo_violation_seconds, 30);
  EXPECT_EQ(r.summary.max_replicas, 3);
  EXPECT_EQ(r.summary.target, "web");
}

TEST(Simulate, PerReplicaSloUsesReadyReplicasNotTheRecommendation) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].slo.max_per_replica = 12;
  const Trace trace = MustParse("time,load\n0,30\n30,30\n");
  // Pods ready at 20: 30 / 1 breaks the SLO until then, 30 / 3 does not.
  EXPECT_DOUBLE_EQ(
      MustSimulate(spec, trace, Startup(20)).summary.slo_violation_seconds, 20);
}

TEST(Simulate, JobArrivalsRunThroughTheQueueAndFeedBacklog) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0] = {.name = "backlog", .target = 1};
  spec.inputs.push_back({.name = "wait_seconds",
                         .target_type = TargetType::kValue,
                         .target = 10});
  const Trace trace = MustParse("time,arrivals,work_seconds\n0,4,8\n30,0,0\n");
  const SimResult r = MustSimulate(spec, trace, Startup(0));
  // t=0: four 2-s jobs, one slot: one starts, three wait -> rec 3, two more
  // start at once; the last starts at 2 (wait 2 s) and ends at 4.
  EXPECT_THAT(r.timeline.input_values[0], ElementsAre(3, 0, 0));
  EXPECT_THAT(r.timeline.input_values[1], ElementsAre(0, 0, 0));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(3, 1, 1));
  ASSERT_TRUE(r.summary.queue.has_value());
  EXPECT_EQ(r.summary.queue->jobs_arrived, 4);
  EXPECT_EQ(r.summary.queue->jobs_completed, 4);
  EXPECT_DOUBLE_EQ(r.summary.queue->mean_job_wait_seconds, 0.5);
  EXPECT_DOUBLE_EQ(r.summary.queue->max_job_wait_seconds, 2);
}

TEST(Simulate, WaitSecondsIsTheAgeOfTheFirstJobInLine) {
  TargetSpec spec = DirectSpec(TargetType::kValue);
  spec.inputs[0].name = "wait_seconds";
  spec.max_replicas = 1;  // one slot, never more
  const Trace trace = MustParse("time,arrivals,work_seconds\n0,3,60\n30,0,0\n");
  const SimResult r = MustSimulate(spec, trace, Startup(0));
  // Jobs of 20 s: the second starts at 20, the third at 40; at t=30 the
  // third (arrived at 0) is first in line.
  EXPECT_THAT(r.timeline.input_values[0], ElementsAre(0, 15, 30));
}

TEST(Simulate, WorkerConcurrencyMultipliesSlotsPerReplica) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0] = {.name = "backlog", .target = 1};
  const Trace trace = MustParse("time,arrivals,work_seconds\n0,4,8\n");
  SimOptions options = Startup(0);
  options.worker_concurrency = 2;
  EXPECT_THAT(MustSimulate(spec, trace, options).timeline.input_values[0],
              ElementsAre(2));
}

TEST(Simulate, StartAndDurationSelectPartOfTheTrace) {
  const Trace trace = MustParse("time,load\n0,10\n100,50\n200,90\n");
  SimOptions options = Startup(0);
  options.start = 100;
  options.duration_seconds = 30;
  const SimResult r = MustSimulate(DirectSpec(), trace, options);
  EXPECT_THAT(r.timeline.time, ElementsAre(0, 15, 30));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(5, 5, 5));
  EXPECT_DOUBLE_EQ(r.summary.start_time, 100);
}

TEST(Simulate, InputWithoutColumnIsAnErrorNamingIt) {
  const Trace trace = MustParse("time,rps\n0,1\n");
  absl::StatusOr<SimResult> r = Simulate(DirectSpec(), trace, SimOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("input 'load'"));
  EXPECT_FALSE(CheckTraceCovers(DirectSpec(), trace).ok());
}

TEST(Simulate, BacklogWithoutQueueColumnsExplainsWhatIsNeeded) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].name = "backlog";
  const Trace trace = MustParse("time,arrivals\n0,1\n");
  EXPECT_THAT(CheckTraceCovers(spec, trace).message(),
              HasSubstr("needs columns 'arrivals' and 'work_seconds'"));
}

TEST(Simulate, FractionalArrivalsAreAnErrorWithTheLine) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].name = "backlog";
  const Trace trace =
      MustParse("time,arrivals,work_seconds\n0,1,1\n15,2.5,1\n");
  EXPECT_THAT(Simulate(spec, trace, SimOptions{}).status().message(),
              HasSubstr("t.csv:3: column 'arrivals': not a whole number"));
}

TEST(Simulate, RejectsStartOutsideTheTraceAndBadOptions) {
  const Trace trace = MustParse("time,load\n0,10\n60,10\n");
  SimOptions options;
  options.start = 61;
  EXPECT_FALSE(Simulate(DirectSpec(), trace, options).ok());
  options = SimOptions{};
  options.poll_interval_seconds = 0;
  EXPECT_FALSE(Simulate(DirectSpec(), trace, options).ok());
  options = SimOptions{};
  options.worker_concurrency = 0;
  EXPECT_FALSE(Simulate(DirectSpec(), trace, options).ok());
}

}  // namespace
}  // namespace ballast::sim

namespace ballast::sim {
namespace {

TEST(Simulate, NoQueueRunsWhenNoInputUsesItsSignals) {
  const Trace trace =
      MustParse("time,load,arrivals,work_seconds\n0,10,5,100\n15,10,0,0\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(0));
  EXPECT_FALSE(r.summary.queue.has_value());
}

}  // namespace
}  // namespace ballast::sim

namespace ballast::sim {
namespace {

// Six ticks, pods ready 15 s after they are asked for:
//   t    load  rec  ready  load/ready  event       SLO (12/replica)
//   0    10    1    1      10          -           ok
//   15   30    3    1      30          up          broken until 30
//   30   30    3    3      10          -           ok
//   45   50    5    3      16.67       up          broken until 60
//   60   20    2    2      10          down        ok (5 ready at 60, 3 go)
//   75   20    2    2      10          -           (end of the run)
const char kSixTicks[] = "time,load\n0,10\n15,30\n30,30\n45,50\n60,20\n75,20\n";

TEST(Simulate, CountsScaleUpsAndDownsAndPerReplicaLoadOfSixTicks) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].slo.max_per_replica = 12;
  const SimResult r = MustSimulate(spec, MustParse(kSixTicks), Startup(15));
  EXPECT_THAT(r.timeline.recommendation, ElementsAre(1, 3, 3, 5, 2, 2));
  EXPECT_THAT(r.timeline.ready, ElementsAre(1, 1, 3, 3, 2, 2));
  const Summary& s = r.summary;
  EXPECT_EQ(s.ticks, 6);
  EXPECT_EQ(s.scale_ups, 2);
  EXPECT_EQ(s.scale_downs, 1);
  EXPECT_EQ(s.scale_events, 3);
  // 1 x 30 + 3 x 15 + 3 x 15 + 2 x 15.
  EXPECT_DOUBLE_EQ(s.replica_seconds, 150);
  EXPECT_DOUBLE_EQ(s.slo_violation_seconds, 30);
  // Per replica: 10, 30, 10, 16.67, 10, 10; nearest rank: p50 is the 3rd
  // smallest (10), p99 the 6th (30).
  ASSERT_EQ(s.per_replica_load.size(), 1u);
  EXPECT_EQ(s.per_replica_load[0].input, "load");
  EXPECT_EQ(s.per_replica_load[0].ticks, 6);
  EXPECT_DOUBLE_EQ(s.per_replica_load[0].p50, 10);
  EXPECT_DOUBLE_EQ(s.per_replica_load[0].p99, 30);
  EXPECT_FALSE(s.window.has_value());
}

TEST(Simulate, WindowFiguresCoverOnlyThePartAsked) {
  TargetSpec spec = DirectSpec();
  spec.inputs[0].slo.max_per_replica = 12;
  SimOptions options = Startup(15);
  options.window_from = 30;
  options.window_to = 60;
  const SimResult r = MustSimulate(spec, MustParse(kSixTicks), options);
  // The whole run is unchanged.
  EXPECT_DOUBLE_EQ(r.summary.replica_seconds, 150);
  EXPECT_EQ(r.summary.scale_events, 3);
  ASSERT_TRUE(r.summary.window.has_value());
  const WindowFigures& w = *r.summary.window;
  EXPECT_DOUBLE_EQ(w.from_seconds, 30);
  EXPECT_DOUBLE_EQ(w.to_seconds, 60);
  EXPECT_EQ(w.ticks, 2);  // 30 and 45
  EXPECT_EQ(w.scale_ups, 1);
  EXPECT_EQ(w.scale_downs, 0);
  EXPECT_DOUBLE_EQ(w.replica_seconds, 3 * 30);
  EXPECT_DOUBLE_EQ(w.duration_seconds, 30);
  EXPECT_DOUBLE_EQ(w.mean_replicas, 3);
  EXPECT_DOUBLE_EQ(w.slo_violation_seconds, 15);
  EXPECT_EQ(w.max_replicas, 5);
  ASSERT_EQ(w.per_replica_load.size(), 1u);
  EXPECT_DOUBLE_EQ(w.per_replica_load[0].p50, 10);
  EXPECT_DOUBLE_EQ(w.per_replica_load[0].p99, 50.0 / 3);
}

TEST(Simulate, WindowToTheEndIncludesTheLastTickAndSplitsPodStarts) {
  SimOptions options = Startup(15);
  options.window_from = 20;  // between ticks; pods of t=15 ready at 30
  options.window_to = 1000;  // past the end: the end
  const SimResult r = MustSimulate(DirectSpec(), MustParse(kSixTicks), options);
  const WindowFigures& w = *r.summary.window;
  EXPECT_DOUBLE_EQ(w.to_seconds, 75);
  EXPECT_EQ(w.ticks, 4);  // 30, 45, 60, 75
  EXPECT_EQ(w.scale_ups, 1);
  EXPECT_EQ(w.scale_downs, 1);
  // 1 x 10 (20..30) + 3 x 30 + 2 x 15.
  EXPECT_DOUBLE_EQ(w.replica_seconds, 130);
}

TEST(Simulate, RejectsAnEmptyWindowOrOneAfterTheEnd) {
  const Trace trace = MustParse(kSixTicks);
  SimOptions options;
  options.window_from = 75;
  EXPECT_FALSE(Simulate(DirectSpec(), trace, options).ok());
  options.window_from = 30;
  options.window_to = 30;
  EXPECT_FALSE(Simulate(DirectSpec(), trace, options).ok());
}

TEST(Simulate, PerReplicaLoadSkipsTicksWithoutLoadAndIsInfiniteWithoutPods) {
  // Open loop: ready replicas are the trace's.
  const Trace trace =
      MustParse("time,load,current_replicas\n0,0,1\n15,20,0\n30,20,2\n45,,2\n");
  const SimResult r = MustSimulate(DirectSpec(), trace, Startup(0));
  const PerReplicaLoad& load = r.summary.per_replica_load.at(0);
  EXPECT_EQ(load.ticks, 2);  // 20 / 0 and 20 / 2; 0 and missing skipped
  EXPECT_DOUBLE_EQ(load.p50, 10);
  EXPECT_TRUE(std::isinf(load.p99));
}

TEST(Simulate, MeasureInputsJudgeAnotherPolicyByTheirSlos) {
  // The policy has no SLO and scales on `value`; the measure is
  // load per replica <= 12 and averageValue (a per-replica load).
  TargetSpec policy = DirectSpec(TargetType::kValue);
  TargetSpec judge = DirectSpec();
  judge.inputs[0].slo.max_per_replica = 12;
  SimOptions options = Startup(15);
  options.measure_inputs = judge.inputs;
  const SimResult unjudged =
      MustSimulate(policy, MustParse(kSixTicks), Startup(15));
  EXPECT_DOUBLE_EQ(unjudged.summary.slo_violation_seconds, 0);
  EXPECT_TRUE(unjudged.summary.per_replica_load.empty());  // a `value` input
  const SimResult r = MustSimulate(policy, MustParse(kSixTicks), options);
  EXPECT_GT(r.summary.slo_violation_seconds, 0);
  ASSERT_EQ(r.summary.per_replica_load.size(), 1u);
  EXPECT_EQ(r.summary.per_replica_load[0].ticks, 6);
}

}  // namespace
}  // namespace ballast::sim
