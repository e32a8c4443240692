// Shared between the engine's two modes (engine.cc: ballast's; hpa.cc: the
// Kubernetes HPA controller's). Not part of the engine's interface.
#ifndef BALLAST_SRC_ENGINE_INTERNAL_H_
#define BALLAST_SRC_ENGINE_INTERNAL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/time/time.h"
#include "ballast/core/target_spec.h"
#include "ballast/engine/engine.h"

namespace ballast::engine::internal {

// Applies `smoothing` to this tick's value `v`, updating `state`.
double Smooth(const Smoothing& smoothing, absl::Time now, double v,
              InputState& state);

// The count a failing input proposes under `fallback` (KEDA's doFallback),
// given the workload's current count.
int32_t FallbackReplicas(const Fallback& fallback, int32_t current);

// Why an input has no value this tick ("missing" if the reading says none).
std::string MissingReason(const InputReading& reading);

// --- behavior: shared by both modes, named after horizontal.go ---------------

// Where the stabilization windows of `b` begin at `now`: a recommendation
// counts for a direction when it is strictly newer than that direction's
// cutoff.
struct WindowCutoffs {
  absl::Time up;
  absl::Time down;
};
WindowCutoffs StabilizationCutoffs(const Behavior& b, absl::Time now);

// A float64 limit as int64, saturated to +-2^62 (converting a double past
// int64 is undefined behaviour).
int64_t SaturatedInt64(double x);

// getReplicasChangePerPeriod: the sum of the event sizes strictly newer than
// now - period, in int64 (events of up to maxReplicas each, 2^31 - 1, add up
// past int32, where the controller's sum wraps). `Events` holds items with
// `time` and `replicas` (the HPA mode's events also carry `outdated`, which
// this sum ignores, as the controller's does).
template <typename Events>
int64_t ChangeInPeriod(const Events& events, absl::Time now,
                       int32_t period_seconds) {
  const absl::Time cutoff = now - absl::Seconds(period_seconds);
  int64_t sum = 0;
  for (const auto& e : events) {
    if (e.time > cutoff) sum += e.replicas;
  }
  return sum;
}

enum class Direction { kUp, kDown };

// calculateScaleUpLimitWithScalingRules (kUp) and
// calculateScaleDownLimitWithBehaviors (kDown): the bound `rules` put on a
// scale from `current`, each policy counting from the replicas at the start
// of its period (current minus the replicas added, plus those removed,
// inside it). Max picks the policy that allows the biggest change, Min the
// smallest; Disabled allows none (current). Clamped to int32.
template <typename Events>
int32_t PolicyLimit(const ScalingRules& rules, Direction direction,
                    int32_t current, const Events& up_events,
                    const Events& down_events, absl::Time now) {
  if (rules.select_policy == SelectPolicy::kDisabled) return current;
  constexpr int64_t kMin = std::numeric_limits<int32_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  // Up: Max keeps the highest bound; down: Max keeps the lowest.
  const bool highest = (rules.select_policy == SelectPolicy::kMax) ==
                       (direction == Direction::kUp);
  int64_t result = highest ? kMin : kMax;
  for (const ScalingPolicy& p : rules.policies) {
    const int64_t start = int64_t{current} -
                          ChangeInPeriod(up_events, now, p.period_seconds) +
                          ChangeInPeriod(down_events, now, p.period_seconds);
    const double percent = static_cast<double>(p.value) / 100;
    int64_t bound;
    if (direction == Direction::kUp) {
      bound = p.type == PolicyType::kPods
                  ? start + p.value
                  : SaturatedInt64(
                        std::ceil(static_cast<double>(start) * (1 + percent)));
    } else {
      bound = p.type == PolicyType::kPods
                  ? start - p.value
                  : SaturatedInt64(static_cast<double>(start) * (1 - percent));
    }
    result = highest ? std::max(result, bound) : std::min(result, bound);
  }
  return static_cast<int32_t>(std::clamp(result, kMin, kMax));
}

// convertDesiredReplicasWithBehaviorRate: `stabilized` held within the
// bound of the direction it moves in (PolicyLimit, computed for that
// direction only) and [minReplicas, maxReplicas]. Sets `limit` to the bound
// that applied, if any.
template <typename Events>
int32_t ApplyRateLimits(const TargetSpec& spec, int32_t current,
                        int32_t stabilized, const Events& up_events,
                        const Events& down_events, absl::Time now,
                        Limit& limit) {
  const Behavior& b = *spec.behavior;
  if (stabilized > current) {
    const int32_t up_limit =
        std::max(PolicyLimit(b.scale_up, Direction::kUp, current, up_events,
                             down_events, now),
                 current);
    const bool rate_limited = spec.max_replicas > up_limit;
    const int32_t max_allowed = rate_limited ? up_limit : spec.max_replicas;
    if (stabilized > max_allowed) {
      limit = rate_limited ? Limit::kScaleUpPolicy : Limit::kMaxReplicas;
      return max_allowed;
    }
  } else if (stabilized < current) {
    const int32_t down_limit =
        std::min(PolicyLimit(b.scale_down, Direction::kDown, current, up_events,
                             down_events, now),
                 current);
    const bool rate_limited = spec.min_replicas < down_limit;
    const int32_t min_allowed = rate_limited ? down_limit : spec.min_replicas;
    if (stabilized < min_allowed) {
      limit = rate_limited ? Limit::kScaleDownPolicy : Limit::kMinReplicas;
      return min_allowed;
    }
  }
  return stabilized;
}

// Tick in HPA mode (hpa.cc).
TickResult HpaTick(const TargetSpec& spec, TargetHistory history,
                   const TickInput& in);

}  // namespace ballast::engine::internal

#endif  // BALLAST_SRC_ENGINE_INTERNAL_H_
