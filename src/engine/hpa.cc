// The engine's HPA mode: the decisions of the Kubernetes HPA controller
// (pkg/controller/podautoscaler/horizontal.go and replica_calculator.go of
// Kubernetes 1.35) for external metrics, with KEDA's fallback (2.17+,
// pkg/fallback) in front of the metrics. Each function names the controller
// function it follows; the arithmetic is the controller's: Quantity
// milli-values in int64, its float64 ratios and ceilings, its int32 limits.
#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "ballast/engine/engine.h"
#include "ballast/engine/quantity.h"
#include "internal.h"

namespace ballast::engine::internal {
namespace {

constexpr int32_t kMaxInt32 = std::numeric_limits<int32_t>::max();

// replica_calculator.go Tolerances.
struct Tolerances {
  double down;
  double up;
  bool IsWithin(double ratio) const {
    return 1.0 - down <= ratio && ratio <= 1.0 + up;
  }
};

// horizontal.go tolerancesForHpa: the controller-wide tolerance, replaced per
// direction by behavior.scaleDown/scaleUp.tolerance (read as
// Quantity.AsApproximateFloat64) when the HPA has a behavior.
Tolerances TolerancesForHpa(const TargetSpec& spec) {
  Tolerances t{spec.tolerance, spec.tolerance};
  if (!spec.behavior) return t;
  if (spec.behavior->scale_down.tolerance) {
    t.down = ApproximateFloat64(*spec.behavior->scale_down.tolerance);
  }
  if (spec.behavior->scale_up.tolerance) {
    t.up = ApproximateFloat64(*spec.behavior->scale_up.tolerance);
  }
  return t;
}

// Go's int32(math.Ceil(x)) for the results the controller caps at MaxInt32.
int32_t CeilToInt32(double x) {
  const double c = std::ceil(x);
  if (std::isnan(c)) return 0;
  if (c > kMaxInt32) return kMaxInt32;
  if (c < std::numeric_limits<int32_t>::min()) {
    return std::numeric_limits<int32_t>::min();
  }
  return static_cast<int32_t>(c);
}

// replica_calculator.go GetExternalPerPodMetricReplicas (averageValue):
// usage and target in milli-units, the tolerance on usage / (target *
// status.replicas).
void PerPodProposal(double usage, int64_t target, int32_t status_replicas,
                    Tolerances tol, InputExplanation& ex) {
  const double untolerated = usage / static_cast<double>(target);
  ex.untolerated_proposal = CeilToInt32(untolerated);
  // With 0 replicas the ratio is +Inf or NaN: never within tolerance.
  ex.within_tolerance =
      status_replicas != 0 &&
      tol.IsWithin(usage / (static_cast<double>(target) * status_replicas));
  ex.proposal =
      ex.within_tolerance ? status_replicas : *ex.untolerated_proposal;
}

// replica_calculator.go GetExternalMetricReplicas and
// getUsageRatioReplicaCount (value): the ratio usage / target against the
// tolerance, then scaled by the ready pods; from 0 replicas ceil(ratio).
void ValueProposal(double usage, int64_t target, int32_t spec_replicas,
                   int32_t ready_pods, Tolerances tol, InputExplanation& ex) {
  const double ratio = usage / static_cast<double>(target);
  if (spec_replicas == 0) {
    ex.proposal = ex.untolerated_proposal = CeilToInt32(ratio);
    return;
  }
  ex.untolerated_proposal =
      CeilToInt32(ratio * static_cast<double>(ready_pods));
  ex.within_tolerance = tol.IsWithin(ratio);
  ex.proposal = ex.within_tolerance ? spec_replicas : *ex.untolerated_proposal;
}

// KEDA's fallback value int64(target) * 1000 * replicas in milli-units:
// exact in int64 when it fits; past int64 (where Go wraps) the float64
// product, so that the HPA still computes `replicas` from it.
double FallbackUsage(double target, int32_t replicas) {
  const double whole = std::trunc(target);
  int64_t product = 0;
  if (std::abs(whole) < 9.2e18 &&
      !__builtin_mul_overflow(static_cast<int64_t>(whole),
                              int64_t{1000} * replicas, &product)) {
    return static_cast<double>(product);
  }
  return whole * 1000.0 * static_cast<double>(replicas);
}

int32_t LongestPolicyPeriod(const ScalingRules& rules) {
  int32_t longest = 0;
  for (const ScalingPolicy& p : rules.policies) {
    longest = std::max(longest, p.period_seconds);
  }
  return longest;
}

// horizontal.go storeScaleEvent with markScaleEventsOutdated: events older
// than the direction's longest policy period are marked outdated, and the
// new event takes the slot of the last outdated one (else it is appended).
// The other direction's limits read this list too, over their own periods,
// so an event that is overwritten stops counting for them.
void StoreScaleEvent(const std::optional<Behavior>& behavior, HpaState& h,
                     int32_t previous, int32_t replicas, absl::Time now) {
  if (!behavior) return;
  const bool up = replicas > previous;
  std::vector<HpaScaleEvent>& events =
      up ? h.scale_up_events : h.scale_down_events;
  const absl::Time cutoff =
      now - absl::Seconds(LongestPolicyPeriod(up ? behavior->scale_up
                                                 : behavior->scale_down));
  std::optional<size_t> old;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].time < cutoff) events[i].outdated = true;
    if (events[i].outdated) old = i;
  }
  const HpaScaleEvent event{now, up ? replicas - previous : previous - replicas,
                            false};
  if (old) {
    events[*old] = event;
  } else {
    events.push_back(event);
  }
}

// Stores `desired` in the slot at `old` or at the end (the recommendations'
// slot reuse in stabilizeRecommendation*).
void Record(HpaState& h, std::optional<size_t> old, int32_t desired,
            absl::Time now) {
  if (old) {
    h.recommendations[*old] = {now, desired};
  } else {
    h.recommendations.push_back({now, desired});
  }
}

// horizontal.go normalizeDesiredReplicas (no behavior): stabilizeRecommendation
// (the maximum of the recommendations not older than the downscale window,
// its edge included) and convertDesiredReplicasWithRules. A 0 s window holds
// nothing: the controller takes the window's time.Now() after it recorded
// every entry, the first sync's recordInitialRecommendation included, so
// each of them is older than that cutoff (and its slot is reused).
int32_t NormalizeLegacy(const TargetSpec& spec, HpaState& h, absl::Time now,
                        int32_t current, int32_t desired, Limit& limit) {
  const int32_t window = spec.legacy_downscale_window_seconds;
  const absl::Time cutoff = now - absl::Seconds(window);
  int32_t stabilized = desired;
  std::optional<size_t> old;
  for (size_t i = 0; i < h.recommendations.size(); ++i) {
    const TimedReplicas& r = h.recommendations[i];
    if (r.time < cutoff || window == 0) {
      old = i;
    } else {
      stabilized = std::max(stabilized, r.replicas);
    }
  }
  Record(h, old, desired, now);
  if (stabilized != desired) limit = Limit::kScaleDownStabilization;

  // calculateScaleUpLimit: int32(math.Max(2 * current, 4)), clamped to
  // MaxInt32 (so never below maxReplicas) instead of Go's out-of-range
  // conversion, which gives MinInt32 on amd64 for a current past 2^30.
  const int32_t up_limit = static_cast<int32_t>(std::min(
      std::max(2.0 * static_cast<double>(current), 4.0), double{kMaxInt32}));
  const bool rate_limited = spec.max_replicas > up_limit;
  const int32_t max_allowed = rate_limited ? up_limit : spec.max_replicas;
  if (stabilized < spec.min_replicas) {
    limit = Limit::kMinReplicas;
    return spec.min_replicas;
  }
  if (stabilized > max_allowed) {
    limit = rate_limited ? Limit::kScaleUpPolicy : Limit::kMaxReplicas;
    return max_allowed;
  }
  return stabilized;
}

// horizontal.go normalizeDesiredReplicasWithBehaviors:
// stabilizeRecommendationWithBehaviors, then
// convertDesiredReplicasWithBehaviorRate.
int32_t NormalizeWithBehaviors(const TargetSpec& spec, HpaState& h,
                               absl::Time now, int32_t current, int32_t desired,
                               Limit& limit) {
  const Behavior& b = *spec.behavior;
  const WindowCutoffs cutoff = StabilizationCutoffs(b, now);
  int32_t up = desired;
  int32_t down = desired;
  std::optional<size_t> old;
  for (size_t i = 0; i < h.recommendations.size(); ++i) {
    const TimedReplicas& r = h.recommendations[i];
    if (r.time > cutoff.up) up = std::min(up, r.replicas);
    if (r.time > cutoff.down) down = std::max(down, r.replicas);
    if (r.time < cutoff.up && r.time < cutoff.down) old = i;
  }
  int32_t stabilized = current;
  if (stabilized < up) stabilized = up;
  if (stabilized > down) stabilized = down;
  Record(h, old, desired, now);
  if (stabilized != desired) {
    limit = desired >= current ? Limit::kScaleUpStabilization
                               : Limit::kScaleDownStabilization;
  }

  return ApplyRateLimits(spec, current, stabilized, h.scale_up_events,
                         h.scale_down_events, now, limit);
}

}  // namespace

// horizontal.go reconcileAutoscaler, from the scale read to the rescale.
TickResult HpaTick(const TargetSpec& spec, TargetHistory history,
                   const TickInput& in) {
  TargetHistory& h = history;
  HpaState& hpa = h.hpa;
  h.inputs.resize(spec.inputs.size());
  // scale.Spec.Replicas: observed, else what the HPA last set.
  const int32_t current =
      in.current_replicas.value_or(h.last_recommendation.value_or(
          spec.initial_replicas.value_or(spec.min_replicas)));
  const int32_t ready = in.ready_replicas.value_or(current);

  Recommendation rec;
  rec.time = in.now;
  rec.current_replicas = current;
  rec.desired = current;
  rec.inputs.resize(spec.inputs.size());
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    rec.inputs[i].name = spec.inputs[i].name;
    rec.inputs[i].consecutive_failures = h.inputs[i].consecutive_failures;
  }
  auto finish = [&](int32_t replicas, Limit limit) {
    if (replicas != current) {
      StoreScaleEvent(spec.behavior, hpa, current, replicas, in.now);
    }
    rec.replicas = replicas;
    rec.limited_by = limit;
    h.last_recommendation = replicas;
    return TickResult{std::move(rec), std::move(history)};
  };

  // recordInitialRecommendation: the first sync remembers the current count
  // (scale.Spec.Replicas) as a recommendation made now, before the bounds and
  // the metrics, whatever this sync then decides. The list is never emptied
  // afterwards (slots are reused), so empty means the first sync.
  if (hpa.recommendations.empty()) {
    hpa.recommendations.push_back({in.now, current});
  }
  // The bounds come before the metrics, which are not read at all then.
  if (current == 0 && spec.min_replicas != 0) {
    return finish(0, Limit::kScalingDisabled);
  }
  if (current > spec.max_replicas) {
    rec.desired = spec.max_replicas;
    return finish(spec.max_replicas, Limit::kMaxReplicas);
  }
  if (current < spec.min_replicas) {
    rec.desired = spec.min_replicas;
    return finish(spec.min_replicas, Limit::kMinReplicas);
  }

  // computeReplicasForMetrics, each input an external metric behind KEDA's
  // fallback (GetMetricsWithFallback).
  const Tolerances tol = TolerancesForHpa(spec);
  int32_t replicas = 0;
  int32_t untolerated = 0;
  bool from_fallback = false;
  size_t invalid = 0;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const InputSpec& input = spec.inputs[i];
    InputState& state = h.inputs[i];
    InputExplanation& ex = rec.inputs[i];
    const InputReading reading =
        i < in.inputs.size()
            ? in.inputs[i]
            : InputReading::Missing(absl::NotFoundError("no reading"));
    const int64_t target = MilliValue(input.target);
    const bool average = input.target_type == TargetType::kAverageValue;
    // Milli-units, an int64 as the controller's, held as the double its
    // arithmetic converts it to at once.
    std::optional<double> usage;
    if (reading.value && std::isfinite(*reading.value)) {
      ex.raw = reading.value;
      state.consecutive_failures = 0;
      ex.smoothed = Smooth(input.smoothing, in.now, *reading.value, state);
      usage = static_cast<double>(MilliValue(*ex.smoothed));
    } else {
      ++state.consecutive_failures;
      ex.error = MissingReason(reading);
      // KEDA falls back for AverageValue metrics only, with a value of
      // int64(target) * 1000 * replicas milli-units.
      if (spec.fallback && average &&
          state.consecutive_failures > spec.fallback->failure_threshold) {
        ex.fallback = true;
        usage = FallbackUsage(ApproximateFloat64(input.target),
                              FallbackReplicas(*spec.fallback, current));
      }
    }
    ex.consecutive_failures = state.consecutive_failures;
    if (!usage) {
      ++invalid;
      continue;
    }
    if (average) {
      PerPodProposal(*usage, target, current, tol, ex);
    } else {
      ValueProposal(*usage, target, current, ready, tol, ex);
    }
    if (replicas == 0 || *ex.proposal > replicas) {
      replicas = *ex.proposal;
      untolerated = *ex.untolerated_proposal;
      from_fallback = ex.fallback;
    }
  }
  // All invalid, or some invalid and the rest would scale down: no change,
  // and nothing recorded.
  if (invalid >= spec.inputs.size() || (invalid > 0 && replicas < current)) {
    rec.desired = invalid >= spec.inputs.size() ? current : replicas;
    return finish(current, Limit::kMissingData);
  }
  const int32_t desired = std::max(replicas, 0);
  rec.desired = desired;
  Limit limit = from_fallback            ? Limit::kFallback
                : untolerated != desired ? Limit::kTolerance
                                         : Limit::kNone;
  const int32_t result =
      spec.behavior
          ? NormalizeWithBehaviors(spec, hpa, in.now, current, desired, limit)
          : NormalizeLegacy(spec, hpa, in.now, current, desired, limit);
  return finish(result, limit);
}

}  // namespace ballast::engine::internal
