// The engine's HPA mode (TargetSpec::mode = kHpa), table-driven: each case
// names the function of Kubernetes' pkg/controller/podautoscaler
// (horizontal.go, replica_calculator.go; 1.35) or of KEDA's pkg/fallback
// (2.17) whose decision it checks. tests/hpa_model/ checks the same mode
// against an independent model over generated scenarios.
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "ballast/engine/engine.h"
#include "ballast/engine/quantity.h"
#include "gtest/gtest.h"

namespace ballast::engine {
namespace {

constexpr std::optional<double> kMissing = std::nullopt;

struct Step {
  int64_t t;                                  // seconds
  std::optional<int32_t> current;             // nullopt: what HPA mode set
  std::vector<std::optional<double>> values;  // one per input
  int32_t want;
  Limit want_limit;
};

struct Case {
  std::string name;
  std::string follows;  // the controller function
  TargetSpec spec;
  std::vector<Step> steps;
};

InputSpec Average(double target, std::string name = "a") {
  return {.name = std::move(name),
          .target_type = TargetType::kAverageValue,
          .target = target};
}

InputSpec Level(double target, std::string name = "v") {
  return {.name = std::move(name),
          .target_type = TargetType::kValue,
          .target = target};
}

TargetSpec Hpa(std::vector<InputSpec> inputs, int32_t min, int32_t max,
               std::optional<Behavior> behavior = Behavior::Defaults()) {
  TargetSpec spec;
  spec.name = "t";
  spec.mode = Mode::kHpa;
  spec.min_replicas = min;
  spec.max_replicas = max;
  spec.inputs = std::move(inputs);
  spec.behavior = std::move(behavior);
  return spec;
}

Behavior Rules(ScalingRules up, ScalingRules down) {
  return Behavior{.scale_up = std::move(up), .scale_down = std::move(down)};
}

ScalingRules Pods(int32_t value, int32_t period, int32_t window = 0) {
  return ScalingRules{.stabilization_window_seconds = window,
                      .select_policy = SelectPolicy::kMax,
                      .policies = {{PolicyType::kPods, value, period}},
                      .tolerance = std::nullopt};
}

ScalingRules WithTolerance(ScalingRules rules, double tolerance) {
  rules.tolerance = tolerance;
  return rules;
}

TargetSpec WithFallback(TargetSpec spec, FallbackBehavior behavior) {
  spec.fallback =
      Fallback{.failure_threshold = 1, .replicas = 4, .behavior = behavior};
  return spec;
}

TargetSpec WithTolerance(TargetSpec spec, double tolerance) {
  spec.tolerance = tolerance;
  return spec;
}

// --horizontal-pod-autoscaler-downscale-stabilization=0s.
TargetSpec ZeroLegacyWindow(TargetSpec spec) {
  spec.legacy_downscale_window_seconds = 0;
  return spec;
}

std::vector<Case> Cases() {
  const Behavior quick = Rules(Pods(100, 15), Pods(100, 15));
  return {
      {"FirstSyncRecordsTheCurrentCount",
       "recordInitialRecommendation + stabilizeRecommendationWithBehaviors",
       Hpa({Average(1)}, 1, 20),
       {{0, 10, {2}, 10, Limit::kScaleDownStabilization},
        {285, std::nullopt, {2}, 10, Limit::kScaleDownStabilization},
        {300, std::nullopt, {2}, 2, Limit::kNone}}},
      {"AboveMaxGoesToMaxWithoutMetrics",
       "reconcileAutoscaler",
       Hpa({Average(1)}, 1, 10),
       {{0, 15, {kMissing}, 10, Limit::kMaxReplicas}}},
      {"BelowMinGoesToMinWithoutMetrics",
       "reconcileAutoscaler",
       Hpa({Average(1)}, 3, 10),
       {{0, 1, {kMissing}, 3, Limit::kMinReplicas}}},
      {"ZeroWithMinAboveZeroDisablesScaling",
       "reconcileAutoscaler",
       Hpa({Average(1)}, 1, 10),
       {{0, 0, {50}, 0, Limit::kScalingDisabled},
        {15, std::nullopt, {50}, 0, Limit::kScalingDisabled}}},
      {"ZeroWithMinZeroScalesFromZero",
       "reconcileAutoscaler + GetExternalPerPodMetricReplicas",
       Hpa({Average(1)}, 0, 10, quick),
       {{0, 0, {3}, 3, Limit::kNone}}},
      {"TheJumpToABoundIsAScaleEvent",
       "storeScaleEvent + calculateScaleUpLimitWithScalingRules",
       Hpa({Average(1)}, 5, 100, Rules(Pods(4, 60), Pods(100, 15))),
       // 1 -> 5 at t=0 is +4 in the 60 s period: no room left at t=10.
       {{0, 1, {20}, 5, Limit::kMinReplicas},
        {10, std::nullopt, {20}, 5, Limit::kScaleUpPolicy},
        {61, std::nullopt, {20}, 9, Limit::kScaleUpPolicy}}},
      {"AnOutdatedEventsSlotIsReusedAndLeavesTheOtherDirection",
       "storeScaleEvent + markScaleEventsOutdated + "
       "calculateScaleDownLimitWithBehaviors",
       WithTolerance(
           Hpa({Average(1)}, 1, 100, Rules(Pods(10, 15), Pods(1, 120))), 0),
       // +10 at 0 is outdated for scale-up's 15 s at t=30 and overwritten by
       // +10 at 30; the 120 s scale-down period then sees only one of them:
       // start 21 - 10 = 11, limit 10 (with both, start 1 and down to 1).
       {{0, 1, {11}, 11, Limit::kNone},
        {30, std::nullopt, {21}, 21, Limit::kNone},
        {40, std::nullopt, {1}, 10, Limit::kScaleDownPolicy}}},
      {"AverageValueInMilliUnits",
       "GetExternalPerPodMetricReplicas",
       // 2100m / 300m = 7 exactly (2.1 / 0.3 in doubles is above 7).
       Hpa({Average(0.3)}, 1, 100, quick),
       {{0, 1, {2.1}, 7, Limit::kNone}}},
      {"ValueInMilliUnitsIsWithinTolerance",
       "GetExternalMetricReplicas + getUsageRatioReplicaCount",
       // 90m / 100m = 0.9: within 0.1 (0.09 / 0.1 in doubles is below 0.9).
       Hpa({Level(0.1)}, 1, 100, quick),
       {{0, 10, {0.09}, 10, Limit::kTolerance}}},
      {"MilliValueRoundsUp",
       "Quantity.MilliValue",
       Hpa({Average(0.001)}, 0, 100, quick),
       {{0, 1, {0.0041}, 5, Limit::kNone}}},
      {"ToleranceUpIsItsOwn",
       "tolerancesForHpa + Tolerances.isWithin",
       Hpa({Average(1)}, 1, 100,
           Rules(WithTolerance(Pods(100, 15), 0), Pods(100, 15))),
       {{0, 10, {10.5}, 11, Limit::kNone}}},
      {"ToleranceDownIsItsOwn",
       "tolerancesForHpa + Tolerances.isWithin",
       Hpa({Average(1)}, 1, 100,
           Rules(Pods(100, 15), WithTolerance(Pods(100, 15), 0.5))),
       {{0, 10, {6}, 10, Limit::kTolerance},
        {15, std::nullopt, {10.9}, 10, Limit::kTolerance},
        {30, std::nullopt, {4}, 4, Limit::kNone}}},
      {"LegacyPathKnowsOnlyTheControllerWideTolerance",
       "tolerancesForHpa (no behavior) + normalizeDesiredReplicas",
       WithTolerance(Hpa({Average(1)}, 1, 100, std::nullopt), 0.2),
       {{0, 10, {11.9}, 10, Limit::kTolerance},
        {15, std::nullopt, {50}, 20, Limit::kScaleUpPolicy}}},
      {"LegacyStabilizationIncludesTheWindowsEdge",
       "stabilizeRecommendation + convertDesiredReplicasWithRules",
       Hpa({Average(1)}, 1, 100, std::nullopt),
       {{0, 10, {10}, 10, Limit::kNone},
        {300, std::nullopt, {2}, 10, Limit::kScaleDownStabilization},
        {301, std::nullopt, {2}, 2, Limit::kNone}}},
      {"LegacyZeroWindowHoldsNotEvenTheFirstSyncsRecord",
       "recordInitialRecommendation + stabilizeRecommendation",
       // The record (50) is older than the cutoff the sync reads after it.
       ZeroLegacyWindow(Hpa({Average(1)}, 1, 100, std::nullopt)),
       {{0, 50, {1}, 1, Limit::kNone}}},
      {"SomeInputsMissingBlockAScaleDown",
       "computeReplicasForMetrics",
       Hpa({Average(1), Average(1, "b")}, 1, 100, quick),
       {{0, 10, {2, kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {20, kMissing}, 20, Limit::kNone}}},
      {"FallbackStatic",
       "GetMetricsWithFallback + doFallback",
       WithFallback(Hpa({Average(1)}, 1, 100, quick),
                    FallbackBehavior::kStatic),
       // Failures must exceed failureThreshold (1): the second one falls back.
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 4, Limit::kFallback}}},
      {"FallbackCurrentReplicas",
       "doFallback",
       WithFallback(Hpa({Average(1)}, 1, 100, quick),
                    FallbackBehavior::kCurrentReplicas),
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 10, Limit::kFallback}}},
      {"FallbackCurrentReplicasIfHigher",
       "doFallback",
       WithFallback(Hpa({Average(1)}, 1, 100, quick),
                    FallbackBehavior::kCurrentReplicasIfHigher),
       {{0, 2, {kMissing}, 2, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 4, Limit::kFallback}}},
      {"FallbackCurrentReplicasIfLower",
       "doFallback",
       WithFallback(Hpa({Average(1)}, 1, 100, quick),
                    FallbackBehavior::kCurrentReplicasIfLower),
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 4, Limit::kFallback}}},
      {"FallbackWithinToleranceKeepsTheCount",
       "doFallback + GetExternalPerPodMetricReplicas",
       WithTolerance(WithFallback(Hpa({Average(1)}, 1, 100, quick),
                                  FallbackBehavior::kStatic),
                     0.3),
       // 4 replicas' worth at 5 running: 0.8, within 0.3; at 6, 0.67 is not.
       {{0, 5, {kMissing}, 5, Limit::kMissingData},
        {15, 5, {kMissing}, 5, Limit::kFallback},
        {30, 6, {kMissing}, 4, Limit::kFallback}}},
      {"FallbackTruncatesAFractionalTarget",
       "doFallback (int64 of target)",
       WithFallback(Hpa({Average(0.5)}, 0, 100, quick),
                    FallbackBehavior::kStatic),
       // int64(0.5) = 0: KEDA serves 0 and the HPA goes to 0.
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 0, Limit::kFallback}}},
      {"FallbackValuePastInt64",
       "doFallback (int64(target) * 1000 * replicas)",
       WithFallback(Hpa({Average(5e15)}, 1, 100, quick),
                    FallbackBehavior::kStatic),
       // 5e15 * 1000 * 4 = 2e19 is past int64 (Go wraps it): the float64
       // product still makes the HPA compute the 4 replicas KEDA meant.
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 4, Limit::kFallback}}},
      {"NoFallbackForValueTargets",
       "isFallbackEnabled",
       WithFallback(Hpa({Level(1)}, 1, 100, quick), FallbackBehavior::kStatic),
       {{0, 10, {kMissing}, 10, Limit::kMissingData},
        {15, std::nullopt, {kMissing}, 10, Limit::kMissingData}}},
  };
}

class HpaMode : public testing::TestWithParam<Case> {};

TEST_P(HpaMode, MakesTheControllersDecision) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.follows);
  TargetHistory history;
  for (const Step& s : c.steps) {
    TickInput in{.now = absl::FromUnixSeconds(s.t),
                 .current_replicas = s.current,
                 .ready_replicas = std::nullopt,
                 .inputs = {}};
    for (const auto& v : s.values) {
      in.inputs.push_back(
          v ? InputReading::Value(*v)
            : InputReading::Missing(absl::UnavailableError("poll failed")));
    }
    TickResult r = Tick(c.spec, std::move(history), in);
    history = std::move(r.history);
    EXPECT_EQ(r.recommendation.replicas, s.want) << "at t=" << s.t;
    EXPECT_EQ(LimitName(r.recommendation.limited_by), LimitName(s.want_limit))
        << "at t=" << s.t;
  }
}

INSTANTIATE_TEST_SUITE_P(Controller, HpaMode, testing::ValuesIn(Cases()),
                         [](const auto& p) { return p.param.name; });

TEST(HpaMode, ValueTargetsScaleTheReadyPods) {
  // getUsageRatioReplicaCount: ceil(ratio * readyPodCount), not the spec's.
  TargetSpec spec =
      Hpa({Level(1)}, 1, 100, Rules(Pods(100, 15), Pods(100, 15)));
  TickInput in{.now = absl::FromUnixSeconds(0),
               .current_replicas = 10,
               .ready_replicas = 4,
               .inputs = {InputReading::Value(2)}};
  EXPECT_EQ(Tick(spec, {}, in).recommendation.replicas, 8);
}

TEST(HpaMode, PlainHpaSpecIsHpaModeWithoutBehavior) {
  TargetSpec spec;
  spec.behavior = Behavior::Defaults();
  spec.tolerance = 0.3;
  const TargetSpec plain = PlainHpaSpec(spec);
  EXPECT_EQ(plain.mode, Mode::kHpa);
  EXPECT_FALSE(plain.behavior.has_value());
  EXPECT_EQ(plain.tolerance, 0.1);
}

TEST(Quantity, MilliValueIsTheCeilingOfTheDecimal) {
  EXPECT_EQ(MilliValue(0.3), 300);
  EXPECT_EQ(MilliValue(2.1), 2100);
  EXPECT_EQ(MilliValue(0.0001), 1);
  EXPECT_EQ(MilliValue(1.0005), 1001);
  EXPECT_EQ(MilliValue(-0.0005), 0);
  EXPECT_EQ(MilliValue(1e21), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(MilliValue(12345678), 12345678000);
  EXPECT_EQ(MilliValue(0), 0);
}

TEST(Quantity, ApproximateFloat64ReadsTheCanonicalForm) {
  // "0.57" is stored as "570m": 570 * 0.001, which is not the double 0.57.
  EXPECT_EQ(ApproximateFloat64(0.57), 570 * 0.001);
  EXPECT_NE(ApproximateFloat64(0.57), 0.57);
  EXPECT_EQ(ApproximateFloat64(0.0145), 14500 * (1 / 1e6));
  EXPECT_EQ(ApproximateFloat64(0.1), 0.1);
  EXPECT_EQ(ApproximateFloat64(2.5), 2500 * 0.001);
  EXPECT_EQ(ApproximateFloat64(30), 30.0);
  EXPECT_EQ(ApproximateFloat64(0), 0.0);
}

}  // namespace
}  // namespace ballast::engine
