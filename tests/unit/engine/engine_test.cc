// Table-driven timelines for the engine: each step is one tick at a time
// given as data, with the replica count and the limit it must produce.
#include "ballast/engine/engine.h"

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace ballast::engine {
namespace {

constexpr std::optional<double> kMissing = std::nullopt;

struct Step {
  int64_t t;                                  // seconds
  std::optional<int32_t> current;             // nullopt: follows ballast
  std::vector<std::optional<double>> values;  // one per input
  int32_t want;
  Limit want_limit;
};

// Runs `steps` in order through one history and checks every tick.
void RunTimeline(const TargetSpec& spec, const std::vector<Step>& steps) {
  TargetHistory history;
  for (const Step& s : steps) {
    TickInput in{.now = absl::FromUnixSeconds(s.t),
                 .current_replicas = s.current,
                 .inputs = {}};
    for (const auto& v : s.values) {
      in.inputs.push_back(
          v ? InputReading::Value(*v)
            : InputReading::Missing(absl::UnavailableError("poll failed")));
    }
    TickResult r = Tick(spec, std::move(history), in);
    history = std::move(r.history);
    EXPECT_EQ(r.recommendation.replicas, s.want) << "at t=" << s.t;
    EXPECT_EQ(LimitName(r.recommendation.limited_by), LimitName(s.want_limit))
        << "at t=" << s.t;
  }
}

InputSpec Average(double target, std::string name = "backlog") {
  return InputSpec{.name = std::move(name),
                   .target_type = TargetType::kAverageValue,
                   .target = target};
}

InputSpec Level(double target, std::string name = "latency") {
  return InputSpec{.name = std::move(name),
                   .target_type = TargetType::kValue,
                   .target = target};
}

TargetSpec Spec(std::vector<InputSpec> inputs, int32_t min = 1,
                int32_t max = 100) {
  TargetSpec spec;
  spec.name = "worker";
  spec.min_replicas = min;
  spec.max_replicas = max;
  spec.inputs = std::move(inputs);
  spec.behavior = Behavior::Defaults();
  return spec;
}

// A behavior whose only limit is the one under test.
Behavior Permissive() {
  Behavior b;
  b.scale_up = {.stabilization_window_seconds = 0,
                .select_policy = SelectPolicy::kMax,
                .policies = {{PolicyType::kPercent, 10000, 15}}};
  b.scale_down = {.stabilization_window_seconds = 0,
                  .select_policy = SelectPolicy::kMax,
                  .policies = {{PolicyType::kPercent, 100, 15}}};
  return b;
}

TEST(EngineArithmetic, AverageValueProposesCeilOfValueOverTarget) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 3, {95}, 10, Limit::kNone},
                        {15, 10, {121}, 13, Limit::kNone},
                        {30, 13, {0}, 1, Limit::kMinReplicas},
                    });
}

TEST(EngineArithmetic, AverageValueWithinToleranceKeepsCurrent) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        // 105 / (10 * 10) = 1.05: within 0.1.
                        {0, 10, {105}, 10, Limit::kTolerance},
                        // exactly 1 + tolerance is still within.
                        {15, 10, {110}, 10, Limit::kTolerance},
                        {30, 10, {111}, 12, Limit::kNone},
                        {45, 10, {90}, 10, Limit::kTolerance},
                        {60, 10, {89}, 9, Limit::kNone},
                    });
}

TEST(EngineArithmetic, ValueTargetScalesCurrentByRatio) {
  TargetSpec spec = Spec({Level(2.0)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 4, {3.0}, 6, Limit::kNone},        // ceil(4 * 1.5)
                        {15, 6, {2.1}, 6, Limit::kTolerance},  // 1.05
                        {30, 6, {1.0}, 3, Limit::kNone},       // ceil(6 * 0.5)
                    });
}

TEST(EngineArithmetic, ValueTargetFromZeroReplicasIsCeilOfRatio) {
  // Percent policies cannot grow 0 replicas; the default 4 Pods can.
  TargetSpec spec = Spec({Level(2.0)}, 0, 100);
  RunTimeline(spec, {{0, 0, {5.0}, 3, Limit::kNone}});
}

// Scale to zero: minReplicas 0, KEDA's activation rule, a behavior whose
// policies can leave 0 (Pods) and a scale-down window of `window` seconds.
TargetSpec ZeroSpec(std::vector<InputSpec> inputs, int32_t window = 0) {
  TargetSpec spec = Spec(std::move(inputs), 0, 100);
  spec.behavior = Permissive();
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 100, 15}};
  spec.behavior->scale_down.stabilization_window_seconds = window;
  return spec;
}

InputSpec WithActivation(InputSpec input, double activation) {
  input.activation = activation;
  return input;
}

TEST(EngineScaleToZero, ActivationDecidesBetweenZeroAndOne) {
  TargetSpec spec = ZeroSpec({WithActivation(Average(10), 5)});
  RunTimeline(spec, {
                        // 3 is not above 5: 0, though ceil(3 / 10) is 1.
                        {0, 0, {3}, 0, Limit::kActivation},
                        {15, 0, {5}, 0, Limit::kActivation},
                        // Above it: the arithmetic's count, from 0.
                        {30, 0, {6}, 1, Limit::kNone},
                        {45, 1, {42}, 5, Limit::kNone},
                        {60, 5, {4}, 0, Limit::kActivation},
                        {75, 0, {0}, 0, Limit::kNone},
                    });
}

TEST(EngineScaleToZero, ValueTargetLeavesZeroOnceActive) {
  // A value target scales the current count: from 0 it is ceil(ratio).
  TargetSpec spec = ZeroSpec({WithActivation(Level(2.0), 0.5)});
  RunTimeline(spec, {
                        {0, 0, {0.4}, 0, Limit::kActivation},
                        {15, 0, {1.0}, 1, Limit::kNone},
                        {30, 1, {4.0}, 2, Limit::kNone},
                    });
}

TEST(EngineScaleToZero, AnActiveInputWhoseProposalIsZeroGetsOne) {
  // The median of the window is 0 while the latest reading is 1: active.
  InputSpec backlog = Average(10);
  backlog.smoothing = {.kind = Smoothing::Kind::kQuantile,
                       .quantile = 0.5,
                       .window_seconds = 60};
  RunTimeline(ZeroSpec({backlog}), {
                                       {0, 0, {0}, 0, Limit::kNone},
                                       {15, 0, {0}, 0, Limit::kNone},
                                       {30, 0, {1}, 1, Limit::kActivation},
                                   });
}

TEST(EngineScaleToZero, ZeroWaitsForTheScaleDownWindow) {
  TargetSpec spec = ZeroSpec({WithActivation(Average(10), 5)}, 60);
  RunTimeline(spec, {
                        {0, 2, {20}, 2, Limit::kNone},
                        {15, 2, {2}, 2, Limit::kScaleDownStabilization},
                        {59, 2, {2}, 2, Limit::kScaleDownStabilization},
                        {61, 2, {2}, 0, Limit::kActivation},
                    });
}

TEST(EngineScaleToZero, AMissingInputKeepsTheTargetFromZero) {
  TargetSpec spec = ZeroSpec({Average(10), Average(10, "other")});
  RunTimeline(spec, {
                        {0, 2, {15, 15}, 2, Limit::kNone},
                        // `other` may be active: no drop to 0.
                        {15, 2, {0, kMissing}, 2, Limit::kMissingData},
                        {30, 2, {0, 0}, 0, Limit::kNone},
                    });
}

TEST(EngineScaleToZero, ExplainsWhichInputsAreActive) {
  TargetSpec spec =
      ZeroSpec({WithActivation(Average(10), 5), Average(10, "other")});
  TickResult r = Tick(
      spec, {},
      TickInput{.now = absl::FromUnixSeconds(0),
                .current_replicas = 0,
                .inputs = {InputReading::Value(3), InputReading::Value(1)}});
  EXPECT_EQ(r.recommendation.inputs[0].active, false);
  EXPECT_EQ(r.recommendation.inputs[1].active, true);
  EXPECT_EQ(r.recommendation.replicas, 1);
  // minReplicas 1: the rule does not apply and says nothing.
  spec.min_replicas = 1;
  r = Tick(
      spec, {},
      TickInput{.now = absl::FromUnixSeconds(0),
                .current_replicas = 1,
                .inputs = {InputReading::Value(3), InputReading::Value(1)}});
  EXPECT_EQ(r.recommendation.inputs[0].active, std::nullopt);
  EXPECT_EQ(r.recommendation.replicas, 1);
}

TEST(EngineArithmetic, CustomToleranceApplies) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.tolerance = 0.3;
  RunTimeline(spec, {
                        {0, 10, {125}, 10, Limit::kTolerance},
                        {15, 10, {131}, 14, Limit::kNone},
                    });
}

TEST(EngineArithmetic, LargestProposalWins) {
  TargetSpec spec = Spec({Average(10), Level(2.0)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 4, {30, 4.0}, 8, Limit::kNone},  // 3 vs 8
                        {15, 8, {150, 2.0}, 15, Limit::kNone},
                    });
}

TEST(EngineArithmetic, ExplanationCarriesEveryInput) {
  TargetSpec spec = Spec({Average(10), Level(2.0)});
  spec.behavior = Permissive();
  TickResult r =
      Tick(spec, {},
           {.now = absl::FromUnixSeconds(0),
            .current_replicas = 4,
            .inputs = {InputReading::Value(30), InputReading::Value(2.1)}});
  const Recommendation& rec = r.recommendation;
  ASSERT_EQ(rec.inputs.size(), 2u);
  EXPECT_EQ(rec.inputs[0].name, "backlog");
  EXPECT_EQ(rec.inputs[0].raw, 30);
  EXPECT_EQ(rec.inputs[0].proposal, 3);
  EXPECT_FALSE(rec.inputs[0].within_tolerance);
  EXPECT_EQ(rec.inputs[1].proposal, 4);
  EXPECT_EQ(rec.inputs[1].untolerated_proposal, 5);
  EXPECT_TRUE(rec.inputs[1].within_tolerance);
  EXPECT_EQ(rec.desired, 4);
  EXPECT_EQ(rec.current_replicas, 4);
  EXPECT_EQ(rec.replicas, 4);
  // The untolerated max (5) differs from desired (4): tolerance decided.
  EXPECT_EQ(rec.limited_by, Limit::kTolerance);
}

TEST(EngineStabilization, ScaleDownHeldForWholeWindowExclusiveEdge) {
  TargetSpec spec = Spec({Average(10)});  // default down window 300 s
  RunTimeline(spec, {
                        {0, 10, {100}, 10, Limit::kNone},
                        {15, 10, {20}, 10, Limit::kScaleDownStabilization},
                        {150, 10, {20}, 10, Limit::kScaleDownStabilization},
                        {299, 10, {20}, 10, Limit::kScaleDownStabilization},
                        // The proposal of t=0 is exactly at now - 300: out.
                        {300, 10, {20}, 2, Limit::kNone},
                    });
}

TEST(EngineStabilization, ScaleDownGoesToMaxOfWindowNotAllTheWay) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior->scale_down.stabilization_window_seconds = 60;
  RunTimeline(spec, {
                        {0, 10, {100}, 10, Limit::kNone},
                        {30, 10, {60}, 10, Limit::kScaleDownStabilization},
                        {45, 10, {20}, 10, Limit::kScaleDownStabilization},
                        // t=0 leaves the window; 6 (t=30) is the max left.
                        {60, 10, {20}, 6, Limit::kScaleDownStabilization},
                        {90, 6, {20}, 2, Limit::kNone},
                    });
}

TEST(EngineStabilization, ScaleUpWindowTakesMinimumOfWindow) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.behavior->scale_up.stabilization_window_seconds = 60;
  RunTimeline(spec, {
                        {0, 2, {20}, 2, Limit::kNone},
                        {30, 2, {100}, 2, Limit::kScaleUpStabilization},
                        {59, 2, {100}, 2, Limit::kScaleUpStabilization},
                        // t=0 (2) out: min over {t=30, 59, 60} is 10.
                        {60, 2, {100}, 10, Limit::kNone},
                    });
}

TEST(EngineStabilization, ScaleUpWindowAllowsPartialRise) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.behavior->scale_up.stabilization_window_seconds = 30;
  RunTimeline(spec,
              {
                  // The first tick's seed (2, the observed count) is in the
                  // window: min(5, 2) holds 2, as the controller's first sync.
                  {0, 2, {50}, 2, Limit::kScaleUpStabilization},
                  {15, 5, {100}, 2, Limit::kScaleUpStabilization},
                  // min(10 at 15, 10 at 30) is 10 once t=0 is out.
                  {30, 5, {100}, 10, Limit::kNone},
                  // min(10 at 30, 20 at 45): no rise.
                  {45, std::nullopt, {200}, 10, Limit::kScaleUpStabilization},
                  // min(20 at 45, 30 at 60): a partial rise to 20.
                  {60, std::nullopt, {300}, 20, Limit::kScaleUpStabilization},
              });
}

TEST(EnginePolicies, PodsPolicyCountsEventsInsideItsPeriod) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 4, 60}};
  RunTimeline(spec, {
                        {0, std::nullopt, {20}, 5, Limit::kScaleUpPolicy},
                        // start of period = 5 - 4 = 1: still 5.
                        {15, std::nullopt, {20}, 5, Limit::kScaleUpPolicy},
                        {59, std::nullopt, {20}, 5, Limit::kScaleUpPolicy},
                        // The event at t=0 is exactly at now - 60: out.
                        {60, std::nullopt, {20}, 9, Limit::kScaleUpPolicy},
                        {120, std::nullopt, {20}, 13, Limit::kScaleUpPolicy},
                    });
}

TEST(EnginePolicies, PercentPolicyRoundsUp) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_up.policies = {{PolicyType::kPercent, 10, 15}};
  RunTimeline(spec, {
                        {0, 3, {20}, 4, Limit::kScaleUpPolicy},   // ceil(3.3)
                        {15, 4, {20}, 5, Limit::kScaleUpPolicy},  // ceil(4.4)
                    });
  RunTimeline(spec, {{0, 10, {20}, 11, Limit::kScaleUpPolicy}});
}

TEST(EnginePolicies, DefaultScaleUpIsMaxOfFourPodsAndDoubling) {
  TargetSpec spec = Spec({Average(1)});
  RunTimeline(spec, {
                        {0, 1, {100}, 5, Limit::kScaleUpPolicy},    // 1+4 > 2
                        {15, 5, {100}, 10, Limit::kScaleUpPolicy},  // 5*2 > 9
                        {30, 10, {100}, 20, Limit::kScaleUpPolicy},
                        {45, 20, {100}, 40, Limit::kScaleUpPolicy},
                        {60, 40, {100}, 80, Limit::kScaleUpPolicy},
                        {75, 80, {200}, 100, Limit::kMaxReplicas},
                    });
}

struct SelectCase {
  SelectPolicy select;
  int32_t want_up;    // from 10 with {Pods 4, Percent 100}
  int32_t want_down;  // from 10 with {Pods 2, Percent 50}
};

class EngineSelectPolicy : public testing::TestWithParam<SelectCase> {};

TEST_P(EngineSelectPolicy, PicksAllowanceAsSelected) {
  const SelectCase& c = GetParam();
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_up.select_policy = c.select;
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 4, 60},
                                      {PolicyType::kPercent, 100, 60}};
  spec.behavior->scale_down.select_policy = c.select;
  spec.behavior->scale_down.stabilization_window_seconds = 0;
  spec.behavior->scale_down.policies = {{PolicyType::kPods, 2, 60},
                                        {PolicyType::kPercent, 50, 60}};
  const Limit up_limit = Limit::kScaleUpPolicy;
  const Limit down_limit = Limit::kScaleDownPolicy;
  RunTimeline(spec, {{0, 10, {50}, c.want_up, up_limit}});
  RunTimeline(spec, {{0, 10, {1}, c.want_down, down_limit}});
}

INSTANTIATE_TEST_SUITE_P(AllSelectPolicies, EngineSelectPolicy,
                         testing::Values(SelectCase{SelectPolicy::kMax, 20, 5},
                                         SelectCase{SelectPolicy::kMin, 14, 8},
                                         SelectCase{SelectPolicy::kDisabled, 10,
                                                    10}),
                         [](const testing::TestParamInfo<SelectCase>& p) {
                           return std::string(SelectPolicyName(p.param.select));
                         });

TEST(EnginePolicies, ScaleDownPercentTruncates) {
  TargetSpec spec = Spec({Average(1)}, 0, 100);
  spec.behavior->scale_down = {.stabilization_window_seconds = 0,
                               .select_policy = SelectPolicy::kMax,
                               .policies = {{PolicyType::kPercent, 50, 15}}};
  RunTimeline(spec, {
                        {0, 3, {0}, 1, Limit::kScaleDownPolicy},  // trunc 1.5
                    });
  RunTimeline(spec, {
                        {0, 9, {0}, 4, Limit::kScaleDownPolicy},  // trunc 4.5
                    });
}

TEST(EnginePolicies, ScaleDownEventsTightenLaterScaleDowns) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_down = {.stabilization_window_seconds = 0,
                               .select_policy = SelectPolicy::kMax,
                               .policies = {{PolicyType::kPods, 3, 60}}};
  RunTimeline(spec, {
                        {0, 20, {1}, 17, Limit::kScaleDownPolicy},
                        {30, std::nullopt, {1}, 17, Limit::kScaleDownPolicy},
                        {60, std::nullopt, {1}, 14, Limit::kScaleDownPolicy},
                    });
}

TEST(EnginePolicies, ScaleDownOfPeriodRaisesScaleUpStart) {
  // Replicas removed in the period count back into the scale-up start.
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 2, 60}};
  spec.behavior->scale_down = {.stabilization_window_seconds = 0,
                               .select_policy = SelectPolicy::kMax,
                               .policies = {{PolicyType::kPercent, 100, 60}}};
  RunTimeline(spec, {
                        {0, 10, {4}, 4, Limit::kNone},  // -6 at t=0
                        // start = 4 + 6 = 10: up to 12 allowed.
                        {15, std::nullopt, {30}, 12, Limit::kScaleUpPolicy},
                    });
}

TEST(EngineBounds, ClampsToMinAndMax) {
  TargetSpec spec = Spec({Average(10)}, 2, 8);
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 4, {500}, 8, Limit::kMaxReplicas},
                        {15, 8, {1}, 2, Limit::kMinReplicas},
                    });
}

TEST(EngineBounds, CurrentOutsideBoundsGoesStraightToBound) {
  TargetSpec spec = Spec({Average(10)}, 2, 8);
  RunTimeline(spec, {
                        {0, 50, {500}, 8, Limit::kMaxReplicas},
                        // The first tick's seed (50) holds the 300 s
                        // scale-down window: ballast's count (8) stays.
                        {15, 1, {1}, 8, Limit::kScaleDownStabilization},
                    });
  RunTimeline(spec, {{0, 1, {1}, 2, Limit::kMinReplicas}});
}

TEST(EngineLegacy, NoBehaviorLimitsScaleUpToDoubleOrFour) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior.reset();
  RunTimeline(spec, {
                        {0, 1, {100}, 4, Limit::kScaleUpPolicy},
                        {15, 4, {100}, 8, Limit::kScaleUpPolicy},
                        {30, 8, {100}, 16, Limit::kScaleUpPolicy},
                    });
  RunTimeline(spec, {{0, 60, {200}, 100, Limit::kMaxReplicas}});
}

// Values the config accepts (maxReplicas and Pods policies up to 2^31 - 1)
// must not overflow int32 in either mode: twice a current count near 2e9 on
// the legacy path, and the sum of the scale events of a policy period. A
// limit past maxReplicas is clamped, never wrapped (UBSan checks the rest).
TEST(EngineOverflow, LimitsPastInt32AreClampedInBothModes) {
  constexpr int32_t kMaxInt32 = std::numeric_limits<int32_t>::max();
  Behavior huge_pods;
  huge_pods.scale_up = {.stabilization_window_seconds = 0,
                        .select_policy = SelectPolicy::kMax,
                        .policies = {{PolicyType::kPods, kMaxInt32, 1800}}};
  huge_pods.scale_down = huge_pods.scale_up;
  huge_pods.scale_down.policies = {{PolicyType::kPods, kMaxInt32 - 1, 1800}};
  // Up to 1e9 and back to 1 every 15 s: by t=75 the up events of the period
  // sum to 3e9 - 3, by t=90 the down events too; the period always starts
  // at 1, so every step is allowed.
  std::vector<Step> seesaw;
  for (int64_t t = 0; t <= 120; t += 15) {
    const bool up = t % 30 == 0;
    seesaw.push_back({t,
                      std::nullopt,
                      {up ? 1e9 : 0.0},
                      up ? 1'000'000'000 : 1,
                      up ? Limit::kNone : Limit::kMinReplicas});
  }
  for (const Mode mode : {Mode::kBallast, Mode::kHpa}) {
    SCOPED_TRACE(ModeName(mode));
    TargetSpec legacy = Spec({Average(1)}, 1, kMaxInt32);
    legacy.mode = mode;
    legacy.behavior.reset();
    // 2 * current is past int32 from current 2^30 on: the limit is then
    // maxReplicas, never a wrapped (negative or tiny) count.
    if (mode == Mode::kBallast) {
      // Proposals stop at 1e9 here; the window holds the first tick's seed
      // (the observed count), which a wrapped limit would cut.
      RunTimeline(legacy, {{0,
                            2'000'000'000,
                            {1e9},
                            2'000'000'000,
                            Limit::kScaleDownStabilization}});
      RunTimeline(
          legacy,
          {{0, kMaxInt32, {5e8}, kMaxInt32, Limit::kScaleDownStabilization}});
      // In range the doubling limit holds as before.
      RunTimeline(
          legacy,
          {{0, 400'000'000, {1e9}, 800'000'000, Limit::kScaleUpPolicy}});
    } else {
      RunTimeline(legacy,
                  {{0, 1'800'000'000, {2.1e9}, 2'100'000'000, Limit::kNone}});
      RunTimeline(legacy,
                  {{0, 1'500'000'000, {1e18}, kMaxInt32, Limit::kNone}});
      RunTimeline(
          legacy,
          {{0, 1'000'000'000, {2.1e9}, 2'000'000'000, Limit::kScaleUpPolicy}});
    }

    TargetSpec policies = Spec({Average(1)}, 1, kMaxInt32);
    policies.mode = mode;
    policies.behavior = huge_pods;
    RunTimeline(policies, seesaw);
  }
}

TEST(EngineLegacy, NoBehaviorHoldsScaleDownInclusiveEdge) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior.reset();
  RunTimeline(spec, {
                        {0, 10, {10}, 10, Limit::kNone},
                        {15, 10, {3}, 10, Limit::kScaleDownStabilization},
                        // Legacy keeps a proposal exactly 300 s old.
                        {300, 10, {3}, 10, Limit::kScaleDownStabilization},
                        {301, 10, {3}, 3, Limit::kNone},
                    });
}

TEST(EngineLegacy, NoBehaviorScalesDownAllTheWayAtOnce) {
  TargetSpec spec = Spec({Average(1)}, 1, 100);
  spec.behavior.reset();
  spec.legacy_downscale_window_seconds = 0;
  RunTimeline(spec, {{0, 50, {1}, 1, Limit::kNone}});
}

// A target's first tick (a fresh `ballast serve`, a restart without stored
// state) seeds the windows with the observed count, as the HPA controller's
// first sync (recordInitialRecommendation): every case runs in both modes,
// with the same expectations. Before the seed, ballast's mode scaled down
// on the first tick.
struct FirstTickCase {
  std::string name;
  TargetSpec spec;
  std::vector<Step> steps;
};

TargetSpec DownWindow(int32_t seconds, TargetSpec spec) {
  spec.behavior->scale_down.stabilization_window_seconds = seconds;
  return spec;
}

TargetSpec WithInitial(int32_t initial, TargetSpec spec) {
  spec.initial_replicas = initial;
  return spec;
}

TargetSpec LegacyWindow(int32_t seconds, TargetSpec spec) {
  spec.behavior.reset();
  spec.legacy_downscale_window_seconds = seconds;
  return spec;
}

std::vector<FirstTickCase> FirstTickCases() {
  // Backlog 10 at averageValue 10 asks for 1 replica.
  const TargetSpec base = Spec({Average(10)});
  TargetSpec pods3 = DownWindow(60, base);
  pods3.behavior->scale_down.policies = {{PolicyType::kPods, 3, 15}};
  TargetSpec min3 = Spec({Average(10)}, 3, 100);
  min3.behavior = Permissive();
  min3.behavior->scale_up.stabilization_window_seconds = 60;
  TargetSpec up30 = base;
  up30.behavior = Permissive();
  up30.behavior->scale_up.stabilization_window_seconds = 30;
  return {
      {"HoldsTheObservedCountThroughTheScaleDownWindow",
       DownWindow(60, base),
       {{0, 10, {10}, 10, Limit::kScaleDownStabilization},
        {15, 10, {10}, 10, Limit::kScaleDownStabilization},
        {59, 10, {10}, 10, Limit::kScaleDownStabilization},
        // The seed is exactly 60 s old: out; 100 % / 15 s allows all.
        {60, 10, {10}, 1, Limit::kNone}}},
      {"AfterTheWindowThePoliciesPaceTheDrop",
       pods3,
       {{0, 10, {10}, 10, Limit::kScaleDownStabilization},
        {30, std::nullopt, {10}, 10, Limit::kScaleDownStabilization},
        {60, std::nullopt, {10}, 7, Limit::kScaleDownPolicy},
        {75, std::nullopt, {10}, 4, Limit::kScaleDownPolicy},
        {90, std::nullopt, {10}, 1, Limit::kNone}}},
      {"LegacyRuleHoldsItThroughItsWindowEdgeIncluded",
       LegacyWindow(60, base),
       {{0, 10, {10}, 10, Limit::kScaleDownStabilization},
        {60, std::nullopt, {10}, 10, Limit::kScaleDownStabilization},
        {61, std::nullopt, {10}, 1, Limit::kNone}}},
      {"LegacyZeroWindowHoldsNothing",
       LegacyWindow(0, base),
       {{0, 10, {10}, 1, Limit::kNone}}},
      {"ZeroScaleDownWindowIgnoresTheSeed",
       DownWindow(0, base),
       {{0, 10, {10}, 1, Limit::kNone}}},
      {"WithoutCurrentReplicasSeedsFromInitialReplicas",
       WithInitial(6, DownWindow(60, base)),
       {{0, std::nullopt, {10}, 6, Limit::kScaleDownStabilization},
        {30, std::nullopt, {10}, 6, Limit::kScaleDownStabilization},
        {60, std::nullopt, {10}, 1, Limit::kNone}}},
      {"WithoutCurrentReplicasOrInitialSeedsFromMinReplicas",
       // The seed (3) is the scale-up window's minimum for 60 s.
       min3,
       {{0, std::nullopt, {100}, 3, Limit::kScaleUpStabilization},
        {30, std::nullopt, {100}, 3, Limit::kScaleUpStabilization},
        {60, std::nullopt, {100}, 10, Limit::kNone}}},
      {"AZeroScaleUpWindowIgnoresTheSeed",
       // Default scale-up: max(+4 Pods, +100 %) per 15 s from 2.
       base,
       {{0, 2, {100}, 6, Limit::kScaleUpPolicy}}},
      {"AScaleUpWindowHoldsTheSeedAsTheControllersDoes",
       up30,
       {{0, 4, {100}, 4, Limit::kScaleUpStabilization},
        {15, std::nullopt, {100}, 4, Limit::kScaleUpStabilization},
        {30, std::nullopt, {100}, 10, Limit::kNone}}},
      {"AFirstTickWithoutDataKeepsTheSeed",
       DownWindow(60, base),
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {10}, 10, Limit::kScaleDownStabilization},
        {60, std::nullopt, {10}, 1, Limit::kNone}}},
      {"AFirstTickAboveMaxKeepsTheSeed",
       DownWindow(60, Spec({Average(10)}, 1, 20)),
       // 50 is recorded, then the count goes to the bound; the window holds
       // the bound until the seed leaves it.
       {{0, 50, {10}, 20, Limit::kMaxReplicas},
        {15, std::nullopt, {10}, 20, Limit::kScaleDownStabilization},
        {60, std::nullopt, {10}, 1, Limit::kNone}}},
  };
}

class EngineFirstTick : public testing::TestWithParam<FirstTickCase> {};

TEST_P(EngineFirstTick, SeedsTheWindowsWithTheObservedCountInBothModes) {
  for (const Mode mode : {Mode::kBallast, Mode::kHpa}) {
    SCOPED_TRACE(ModeName(mode));
    TargetSpec spec = GetParam().spec;
    spec.mode = mode;
    RunTimeline(spec, GetParam().steps);
  }
}

INSTANTIATE_TEST_SUITE_P(Restart, EngineFirstTick,
                         testing::ValuesIn(FirstTickCases()),
                         [](const auto& p) { return p.param.name; });

// Only a target with no history is seeded: a history restored from a state
// store (or the next tick) already has a last recommendation.
TEST(EngineFirstTick, AHistoryWithARecommendationIsNotSeeded) {
  TargetSpec spec = DownWindow(60, Spec({Average(10)}));
  TargetHistory restored;
  restored.last_recommendation = 10;
  TickResult r = Tick(spec, std::move(restored),
                      {.now = absl::FromUnixSeconds(0),
                       .current_replicas = 10,
                       .inputs = {InputReading::Value(10)}});
  EXPECT_EQ(r.recommendation.replicas, 1);
  ASSERT_EQ(r.history.proposals.size(), 1u);
  EXPECT_EQ(r.history.proposals[0].replicas, 1);

  TickResult first = Tick(spec, {},
                          {.now = absl::FromUnixSeconds(0),
                           .current_replicas = 10,
                           .inputs = {InputReading::Value(10)}});
  EXPECT_EQ(first.recommendation.replicas, 10);
  ASSERT_EQ(first.history.proposals.size(), 2u);
  EXPECT_EQ(first.history.proposals[0].replicas, 10);  // the seed
  EXPECT_EQ(first.history.proposals[0].time, absl::FromUnixSeconds(0));
  EXPECT_EQ(first.history.proposals[1].replicas, 1);  // this tick's desired
}

TEST(EngineMissingData, AllInputsMissingHoldsLastRecommendation) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 5, {80}, 8, Limit::kNone},
                        // Never read as zero: hold 8 even though current is 5.
                        {15, 5, {kMissing}, 8, Limit::kMissingData},
                        {30, 8, {kMissing}, 8, Limit::kMissingData},
                        {45, 8, {20}, 2, Limit::kNone},
                    });
}

TEST(EngineMissingData, FirstTickWithoutDataHoldsCurrent) {
  TargetSpec spec = Spec({Average(10)});
  RunTimeline(spec, {{0, 6, {kMissing}, 6, Limit::kMissingData}});
}

TEST(EngineMissingData, PartialDataBlocksScaleDownNotScaleUp) {
  TargetSpec spec = Spec({Average(10), Level(2.0)});
  spec.behavior = Permissive();
  RunTimeline(spec, {
                        {0, 10, {100, 2.0}, 10, Limit::kNone},
                        // latency missing, backlog asks for 2: hold.
                        {15, 10, {20, kMissing}, 10, Limit::kMissingData},
                        // backlog asks for 30: scale up anyway.
                        {30, 10, {300, kMissing}, 30, Limit::kNone},
                    });
}

TEST(EngineMissingData, NonFiniteValueIsMissing) {
  TargetSpec spec = Spec({Average(10)});
  TargetHistory h;
  TickResult r = Tick(spec, std::move(h),
                      {.now = absl::FromUnixSeconds(0),
                       .current_replicas = 4,
                       .inputs = {InputReading::Value(
                           std::numeric_limits<double>::quiet_NaN())}});
  EXPECT_EQ(r.recommendation.replicas, 4);
  EXPECT_EQ(r.recommendation.limited_by, Limit::kMissingData);
  EXPECT_EQ(r.recommendation.inputs[0].error, "non-finite value");
  EXPECT_FALSE(r.recommendation.inputs[0].proposal.has_value());
}

TEST(EngineFallback, AppliesAfterMoreThanThresholdFailures) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.fallback = Fallback{.failure_threshold = 2, .replicas = 6};
  RunTimeline(spec, {
                        {0, 3, {30}, 3, Limit::kNone},
                        {15, 3, {kMissing}, 3, Limit::kMissingData},
                        {30, 3, {kMissing}, 3, Limit::kMissingData},
                        {45, 3, {kMissing}, 6, Limit::kFallback},
                        {60, 6, {kMissing}, 6, Limit::kFallback},
                        // Recovery resets the count and follows the data.
                        {75, 6, {40}, 4, Limit::kNone},
                        {90, 4, {kMissing}, 4, Limit::kMissingData},
                    });
}

TEST(EngineFallback, HealthyInputAboveFallbackWins) {
  TargetSpec spec = Spec({Average(10), Level(2.0)});
  spec.behavior = Permissive();
  spec.fallback = Fallback{.failure_threshold = 0, .replicas = 6};
  RunTimeline(spec, {
                        {0, 5, {200, kMissing}, 20, Limit::kNone},
                        {15, 20, {20, kMissing}, 6, Limit::kFallback},
                    });
}

TEST(EngineSmoothing, EwmaHalvesWeightEveryHalfLife) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior = Permissive();
  spec.inputs[0].smoothing = {.kind = Smoothing::Kind::kEwma,
                              .half_life_seconds = 30};
  TargetHistory h;
  auto tick = [&](int64_t t, double v) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(t),
                         .current_replicas = 10,
                         .inputs = {InputReading::Value(v)}});
    h = std::move(r.history);
    return r.recommendation.inputs[0];
  };
  EXPECT_DOUBLE_EQ(*tick(0, 0).smoothed, 0);
  EXPECT_DOUBLE_EQ(*tick(30, 100).smoothed, 50);    // one half-life
  EXPECT_DOUBLE_EQ(*tick(90, 100).smoothed, 87.5);  // two more: 50 + 50*3/4
  const InputExplanation ex = tick(90 + 15, 0);
  EXPECT_NEAR(*ex.smoothed, 87.5 * std::exp2(-0.5), 1e-9);
  EXPECT_EQ(ex.raw, 0);
  EXPECT_EQ(ex.proposal, 62);  // ceil(61.87)
}

TEST(EngineSmoothing, MissingSampleDoesNotMoveEwma) {
  TargetSpec spec = Spec({Average(1)});
  spec.inputs[0].smoothing = {.kind = Smoothing::Kind::kEwma,
                              .half_life_seconds = 30};
  TargetHistory h;
  for (int64_t t : {0, 15}) {
    const std::optional<double> v =
        t == 0 ? std::optional<double>(40) : kMissing;
    TickResult r = Tick(
        spec, std::move(h),
        {.now = absl::FromUnixSeconds(t),
         .current_replicas = 40,
         .inputs = {v ? InputReading::Value(*v)
                      : InputReading::Missing(absl::UnavailableError("x"))}});
    h = std::move(r.history);
  }
  ASSERT_TRUE(h.inputs[0].ewma.has_value());
  EXPECT_DOUBLE_EQ(*h.inputs[0].ewma, 40);
}

TEST(EngineSmoothing, QuantileOverWindowInterpolates) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior = Permissive();
  spec.inputs[0].smoothing = {.kind = Smoothing::Kind::kQuantile,
                              .quantile = 0.9,
                              .window_seconds = 60};
  TargetHistory h;
  double smoothed = 0;
  // Samples 10, 20, ..., 50 at t = 0, 15, ..., 60: at t=60 the window
  // (t > 0) holds 20..50; p90 = 50 - 0.3 * 10 = 47.
  for (int i = 0; i < 5; ++i) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(15 * i),
                         .current_replicas = 10,
                         .inputs = {InputReading::Value(10.0 * (i + 1))}});
    h = std::move(r.history);
    smoothed = *r.recommendation.inputs[0].smoothed;
  }
  EXPECT_DOUBLE_EQ(smoothed, 47);
  EXPECT_EQ(h.inputs[0].window.size(), 4u);
}

TEST(EngineHistory, StaysBoundedByLongestWindowAndPeriod) {
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_down.stabilization_window_seconds = 120;
  spec.behavior->scale_down.policies = {{PolicyType::kPods, 1, 60}};
  TargetHistory h;
  for (int i = 0; i < 1000; ++i) {
    // Load alternates so that events happen both ways.
    const double v = (i / 10) % 2 == 0 ? 50 : 5;
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(15 * i),
                         .current_replicas = std::nullopt,
                         .inputs = {InputReading::Value(v)}});
    h = std::move(r.history);
  }
  EXPECT_LE(h.proposals.size(), 120u / 15 + 1);
  EXPECT_LE(h.scale_up_events.size(), 60u / 15);
  EXPECT_LE(h.scale_down_events.size(), 60u / 15);
}

// A steady count polled every second keeps one proposal, not one per tick
// of its 300 s window.
TEST(EngineHistory, SteadyCountKeepsOneProposal) {
  TargetSpec spec = DownWindow(300, Spec({Average(10)}));
  TargetHistory h;
  for (int i = 0; i < 600; ++i) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(i),
                         .current_replicas = 4,
                         .inputs = {InputReading::Value(40)}});
    ASSERT_EQ(r.recommendation.replicas, 4);
    h = std::move(r.history);
  }
  ASSERT_EQ(h.proposals.size(), 1u);
  EXPECT_EQ(h.proposals[0].time, absl::FromUnixSeconds(599));
}

// The proposals kept are only those a window can need: every decision is
// the one of the whole list (an independent model here: every tick's
// desired count kept, both windows read from it), over random loads,
// windows and a reload that lengthens the windows.
TEST(EngineHistory, KeptProposalsDecideAsTheWholeList) {
  std::mt19937 rng(11);
  for (int run = 0; run < 20; ++run) {
    TargetSpec spec = Spec({Average(10)}, 1, 1000);
    spec.behavior = Permissive();
    spec.behavior->scale_up.stabilization_window_seconds =
        static_cast<int32_t>(rng() % 60);
    spec.behavior->scale_down.stabilization_window_seconds =
        static_cast<int32_t>(rng() % 300);
    std::vector<std::pair<absl::Time, int32_t>> all;  // (time, desired)
    TargetHistory h;
    int32_t previous = 0;
    size_t most_kept = 0;
    for (int i = 0; i < 900; ++i) {
      if (i == 450) {  // a reload: longer windows see what was kept
        spec.behavior->scale_up.stabilization_window_seconds += 30;
        spec.behavior->scale_down.stabilization_window_seconds += 200;
      }
      const absl::Time now = absl::FromUnixSeconds(1000 + i);
      const double load =
          50 + 40 * std::sin(i / 37.0) + static_cast<double>(rng() % 60);
      TickResult r = Tick(spec, std::move(h),
                          {.now = now, .inputs = {InputReading::Value(load)}});
      h = std::move(r.history);
      const int32_t desired = r.recommendation.desired;
      if (i == 0) {
        // The first tick: the seed (minReplicas, as nothing was observed)
        // and the model agree on where they start.
        all.emplace_back(now, 1);
        previous = 1;
      }
      const absl::Time up_cutoff =
          now -
          absl::Seconds(spec.behavior->scale_up.stabilization_window_seconds);
      const absl::Time down_cutoff =
          now -
          absl::Seconds(spec.behavior->scale_down.stabilization_window_seconds);
      int32_t up = desired;
      int32_t down = desired;
      for (const auto& [t, d] : all) {
        if (t > up_cutoff) up = std::min(up, d);
        if (t > down_cutoff) down = std::max(down, d);
      }
      all.emplace_back(now, desired);
      int32_t want = previous;
      if (want < up) want = up;
      if (want > down) want = down;
      ASSERT_EQ(r.recommendation.replicas, want)
          << "run " << run << " tick " << i;
      previous = r.recommendation.replicas;
      most_kept = std::max(most_kept, h.proposals.size());
    }
    // Far fewer than one per tick of the longest window.
    EXPECT_LT(most_kept, 120u) << "run " << run;
  }
}

TEST(EngineHistory, LaggingWorkloadDoesNotRestartPolicyPeriod) {
  // Open loop: the workload takes two ticks to follow ballast. Policies run
  // on ballast's own recommendations, so the 1->5 change is counted once and
  // the lagging count does not pull the recommendation back.
  TargetSpec spec = Spec({Average(1)});
  spec.behavior->scale_up.policies = {{PolicyType::kPods, 4, 30}};
  RunTimeline(spec, {
                        {0, 1, {20}, 5, Limit::kScaleUpPolicy},
                        {15, 1, {20}, 5, Limit::kScaleUpPolicy},
                        {30, 5, {20}, 9, Limit::kScaleUpPolicy},
                    });
}

TEST(EnginePlainHpa, DropsSmoothingBehaviorAndFallback) {
  TargetSpec spec = Spec({Average(10)});
  spec.inputs[0].smoothing = {.kind = Smoothing::Kind::kEwma,
                              .half_life_seconds = 30};
  spec.fallback = Fallback{.failure_threshold = 1, .replicas = 3};
  spec.tolerance = 0.3;
  const TargetSpec plain = PlainHpaSpec(spec);
  EXPECT_FALSE(plain.behavior.has_value());
  EXPECT_FALSE(plain.fallback.has_value());
  EXPECT_EQ(plain.inputs[0].smoothing.kind, Smoothing::Kind::kNone);
  EXPECT_DOUBLE_EQ(plain.tolerance, 0.1);
  EXPECT_EQ(plain.min_replicas, spec.min_replicas);
  EXPECT_EQ(plain.max_replicas, spec.max_replicas);
}

// Burst mode: threshold 2, this tick's value only, 60 s stable window.
TargetSpec BurstSpec(int32_t max = 100) {
  TargetSpec spec = Spec({Average(10, "rps")}, 1, max);
  spec.behavior->scale_down.stabilization_window_seconds = 0;
  spec.behavior->burst =
      Burst{.threshold = 2.0, .window_seconds = 0, .stable_window_seconds = 60};
  return spec;
}

TEST(EngineBurst, EntersAtThresholdJumpsPastPoliciesAndHoldsUntilStable) {
  RunTimeline(BurstSpec(),
              {
                  {0, 4, {40}, 4, Limit::kNone},
                  // 6 < 2 x 4: no burst, an ordinary scale-up.
                  {15, std::nullopt, {60}, 6, Limit::kNone},
                  // 20 >= 2 x 6: at once, past {4 Pods, 100 %}/15 s (12).
                  {30, std::nullopt, {200}, 20, Limit::kBurst},
                  // The load falls: no scale-down while in burst.
                  {45, std::nullopt, {50}, 20, Limit::kBurst},
                  // Crossing again (50 >= 2 x 20) restarts the stable window.
                  {60, std::nullopt, {500}, 50, Limit::kBurst},
                  {75, std::nullopt, {50}, 50, Limit::kBurst},
                  {105, std::nullopt, {50}, 50, Limit::kBurst},
                  // 60 s without crossing since t=60: burst ends, the
                  // ordinary rules (100 % / 15 s down) apply.
                  {120, std::nullopt, {50}, 5, Limit::kNone},
              });
}

TEST(EngineBurst, CappedAtMaxReplicas) {
  const TargetSpec spec = BurstSpec(/*max=*/30);
  RunTimeline(spec, {
                        {0, 4, {40}, 4, Limit::kNone},
                        {15, std::nullopt, {1000}, 30, Limit::kMaxReplicas},
                        {30, std::nullopt, {10}, 30, Limit::kBurst},
                    });
  TickResult r = Tick(spec, {},
                      {.now = absl::FromUnixSeconds(0),
                       .current_replicas = 4,
                       .inputs = {InputReading::Value(1000)}});
  EXPECT_TRUE(r.recommendation.burst);
  EXPECT_EQ(r.recommendation.replicas, 30);
  EXPECT_EQ(r.recommendation.desired, 100);
}

TEST(EngineBurst, WatchesOnlyItsInputsOverTheShortWindowMean) {
  TargetSpec spec = Spec({Average(10, "rps"), Level(2.0, "latency")});
  spec.behavior->burst = Burst{.threshold = 2.0,
                               .window_seconds = 20,
                               .stable_window_seconds = 60,
                               .inputs = {"rps"}};
  RunTimeline(spec,
              {
                  {0, 4, {40, 2.0}, 4, Limit::kNone},
                  // mean(40, 100) = 70 -> 7 < 8: the ordinary limit (8).
                  {15, std::nullopt, {100, 2.0}, 8, Limit::kScaleUpPolicy},
                  // latency x5 is not watched: the ordinary limit again.
                  {30, std::nullopt, {100, 10.0}, 16, Limit::kScaleUpPolicy},
                  // mean(100, 400) = 250 -> 25 < 32: still no burst.
                  {45, std::nullopt, {400, 2.0}, 32, Limit::kScaleUpPolicy},
                  // mean(400, 900) = 650 -> 65 >= 64: burst.
                  {60, std::nullopt, {900, 2.0}, 65, Limit::kBurst},
              });
}

TEST(EngineBurst, AbsentBlockLeavesBehaviorUnchanged) {
  TargetSpec spec = BurstSpec();
  spec.behavior->burst.reset();
  RunTimeline(spec, {
                        {0, 4, {40}, 4, Limit::kNone},
                        {15, std::nullopt, {200}, 8, Limit::kScaleUpPolicy},
                        {30, std::nullopt, {10}, 1, Limit::kNone},
                    });
}

// Trend: 30 s ahead, least squares over the last 45 s.
TargetSpec TrendSpec() {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.inputs[0].trend = Trend{.horizon_seconds = 30, .window_seconds = 45};
  return spec;
}

TEST(EngineTrend, RisingTrendProposesTheValueAhead) {
  RunTimeline(TrendSpec(),
              {
                  {0, 1, {10}, 1, Limit::kNone},  // one sample: no trend
                  // +10 per 15 s: 20 + 20 expected in 30 s -> 4, not 2.
                  {15, std::nullopt, {20}, 4, Limit::kTrend},
                  {30, std::nullopt, {30}, 5, Limit::kTrend},
                  // The window (t > 0) holds 20, 30, 40: 40 + 20 -> 6.
                  {45, std::nullopt, {40}, 6, Limit::kTrend},
              });
}

TEST(EngineTrend, ReversalStopsRaisingAtOnce) {
  const TargetSpec spec = TrendSpec();
  RunTimeline(spec, {
                        {0, 1, {10}, 1, Limit::kNone},
                        {15, std::nullopt, {20}, 4, Limit::kTrend},
                        {30, std::nullopt, {30}, 5, Limit::kTrend},
                        // 20, 30, 28 still fit a rising line, but the last step
                        // falls: the current value's proposal alone (3).
                        {45, std::nullopt, {28}, 3, Limit::kNone},
                        {60, std::nullopt, {28}, 3, Limit::kNone},
                    });
}

TEST(EngineTrend, NeverLowersAndOnlyRaisesAboveCurrent) {
  const TargetSpec spec = TrendSpec();
  // Falling: exactly the proposals without a trend.
  RunTimeline(spec, {
                        {0, 10, {100}, 10, Limit::kNone},
                        {15, std::nullopt, {80}, 8, Limit::kNone},
                        {30, std::nullopt, {60}, 6, Limit::kNone},
                    });
  // Rising from a low level at 20 replicas: 50 -> 60 expects 80 (8) in
  // 30 s, still below 20: the trend neither holds the count nor raises it.
  TargetHistory h;
  for (const auto& [t, v] : {std::pair{0, 50.0}, std::pair{15, 60.0}}) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(t),
                         .current_replicas = 20,
                         .inputs = {InputReading::Value(v)}});
    h = std::move(r.history);
    if (t == 15) {
      const InputExplanation& ex = r.recommendation.inputs[0];
      EXPECT_DOUBLE_EQ(*ex.predicted, 80);
      EXPECT_FALSE(ex.trend);
      EXPECT_EQ(ex.proposal, 6);
      EXPECT_EQ(r.recommendation.replicas, 6);
    }
  }
}

// Drain within 60 s; averageValue 30 until a throughput is measured.
TargetSpec DrainSpec() {
  TargetSpec spec = Spec({Average(30)});
  spec.behavior = Permissive();
  spec.inputs[0].drain = Drain{
      .seconds = 60, .window_seconds = 20, .throughput_window_seconds = 600};
  return spec;
}

TEST(EngineDrain, NoThroughputYetUsesTheAverageValueRule) {
  const TargetSpec spec = DrainSpec();
  TargetHistory h;
  // A rising backlog measures nothing (arrivals may outpace the workers).
  for (const auto& [t, v, want] :
       {std::tuple{0, 300.0, 10}, std::tuple{15, 450.0, 15}}) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(t),
                         .current_replicas = 10,
                         .inputs = {InputReading::Value(v)}});
    h = std::move(r.history);
    const InputExplanation& ex = r.recommendation.inputs[0];
    EXPECT_FALSE(ex.drain) << t;
    EXPECT_FALSE(ex.throughput.has_value()) << t;
    EXPECT_EQ(r.recommendation.replicas, want) << t;
  }
}

TEST(EngineDrain, SizesTheFleetFromMeasuredThroughput) {
  const TargetSpec spec = DrainSpec();
  TargetHistory h;
  auto tick = [&](int64_t t, int32_t current, int32_t ready, double v) {
    TickResult r = Tick(spec, std::move(h),
                        {.now = absl::FromUnixSeconds(t),
                         .current_replicas = current,
                         .ready_replicas = ready,
                         .inputs = {InputReading::Value(v)}});
    h = std::move(r.history);
    return r.recommendation;
  };
  EXPECT_EQ(tick(0, 10, 10, 300).replicas, 10);  // 300 / 30
  // 150 taken in 15 s by 10 workers: >= 1 job/s each. Arrivals are
  // -10 + 10 x 1 = 0/s; 150 in 60 s takes 2.5 workers.
  Recommendation rec = tick(15, 10, 10, 150);
  EXPECT_TRUE(rec.inputs[0].drain);
  EXPECT_DOUBLE_EQ(*rec.inputs[0].throughput, 1.0);
  EXPECT_EQ(rec.replicas, 3);
  // Steady at 150 with 3 busy workers: 3/s arrive; 3 + 150 / 60 = 5.5.
  // (averageValue alone would say 5.)
  rec = tick(30, 3, 3, 150);
  EXPECT_EQ(rec.replicas, 6);
  // Growing by 2/s on 6 workers: 8/s arrive, (8 + 180 / 60) / 1 = 11.
  rec = tick(45, 6, 6, 180);
  EXPECT_EQ(rec.replicas, 11);
  EXPECT_DOUBLE_EQ(*rec.inputs[0].throughput, 1.0);
  // Only ready workers count: 11 asked, 6 ready, the backlog steady: the
  // 5 starting pods are enough, (6 + 3) / 1 = 9 does not ask for more.
  rec = tick(60, 11, 6, 180);
  EXPECT_EQ(rec.replicas, 9);
}

TEST(EngineDrain, EmptyBacklogUsesTheAverageValueRule) {
  const TargetSpec spec = DrainSpec();
  RunTimeline(spec, {
                        {0, 10, {300}, 10, Limit::kNone},
                        {15, std::nullopt, {150}, 3, Limit::kNone},
                        // Nothing queued: idle capacity, ceil(0 / 30).
                        {30, std::nullopt, {0}, 1, Limit::kMinReplicas},
                        // Empty within the slope's window (20 s): the
                        // workers may have idled, ceil(90 / 30) again.
                        {45, std::nullopt, {90}, 3, Limit::kNone},
                        // Queued throughout: 1 job/s per worker (t=15;
                        // t=30 counts 150 over the 10 workers of t=15):
                        // 3 + 1.5 / 1 = 4.5.
                        {60, std::nullopt, {90}, 5, Limit::kNone},
                    });
}

TEST(EngineMinChange, SmallDipIgnoredLargeOneTaken) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.behavior->scale_down.min_change_ratio = 0.2;
  RunTimeline(spec,
              {
                  {0, 10, {100}, 10, Limit::kNone},
                  // 9: one pod, less than 20 % of 10.
                  {15, std::nullopt, {85}, 10, Limit::kScaleDownMinChange},
                  {30, std::nullopt, {80}, 8, Limit::kNone},
              });
  spec.behavior->scale_down.min_change_pods = 3;
  RunTimeline(spec,
              {
                  {0, 10, {100}, 10, Limit::kNone},
                  {15, std::nullopt, {80}, 10, Limit::kScaleDownMinChange},
                  {30, std::nullopt, {70}, 7, Limit::kNone},
                  {45, std::nullopt, {60}, 7, Limit::kScaleDownMinChange},
              });
}

TEST(EngineMinChange, ComposesWithTheStabilizationWindow) {
  TargetSpec spec = Spec({Average(10)});
  spec.behavior = Permissive();
  spec.behavior->scale_down.stabilization_window_seconds = 60;
  spec.behavior->scale_down.min_change_pods = 3;
  RunTimeline(
      spec,
      {
          {0, 10, {100}, 10, Limit::kNone},
          {15, std::nullopt, {80}, 10, Limit::kScaleDownStabilization},
          // t=0 left the window: its maximum (8) is 2 below 10: too small.
          {60, std::nullopt, {80}, 10, Limit::kScaleDownMinChange},
          // The window still holds 8 (t=15..60) though 5 is proposed.
          {75, std::nullopt, {50}, 10, Limit::kScaleDownMinChange},
          // Only 5s in (75, 135]: one step of 5.
          {135, std::nullopt, {50}, 5, Limit::kNone},
      });
}

TEST(EngineMinChange, StillReachesMinReplicas) {
  TargetSpec spec = Spec({Average(10)}, 2, 100);
  spec.behavior = Permissive();
  spec.behavior->scale_down.min_change_pods = 3;
  // 3 -> 2 removes one pod, but minReplicas is as low as it goes.
  RunTimeline(spec, {{0, 3, {0}, 2, Limit::kMinReplicas}});
}

TEST(EngineLimitNames, MatchThePublicVocabulary) {
  EXPECT_EQ(LimitName(Limit::kNone), "none");
  EXPECT_EQ(LimitName(Limit::kScaleUpStabilization), "scaleUpStabilization");
  EXPECT_EQ(LimitName(Limit::kScaleDownPolicy), "scaleDownPolicy");
  EXPECT_EQ(LimitName(Limit::kMissingData), "missingData");
  EXPECT_EQ(LimitName(Limit::kTrend), "trend");
  EXPECT_EQ(LimitName(Limit::kBurst), "burst");
  EXPECT_EQ(LimitName(Limit::kScaleDownMinChange), "scaleDownMinChange");
}

TEST(EngineLimitNames, ParseBackEveryName) {
  // kActivation is the last enumerator: one past it has no name.
  const int last = static_cast<int>(Limit::kActivation);
  EXPECT_EQ(LimitName(static_cast<Limit>(last + 1)), "?");
  for (int i = 0; i <= last; ++i) {
    const auto limit = static_cast<Limit>(i);
    EXPECT_EQ(ParseLimitName(LimitName(limit)), limit) << LimitName(limit);
  }
}

TEST(EngineLimitNames, RefuseAnythingElse) {
  EXPECT_EQ(ParseLimitName(""), std::nullopt);
  EXPECT_EQ(ParseLimitName("?"), std::nullopt);
  EXPECT_EQ(ParseLimitName("None"), std::nullopt);
  EXPECT_EQ(ParseLimitName("scaleUpPolicy "), std::nullopt);
  EXPECT_EQ(ParseLimitName(std::string_view("trend\0", 6)), std::nullopt);
}

}  // namespace
}  // namespace ballast::engine
