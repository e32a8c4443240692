// The behavior arithmetic both modes share (internal.h): the HPA
// controller's stabilization windows and rate policies, as horizontal.go
// computes them.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "internal.h"

namespace ballast::engine::internal {

WindowCutoffs StabilizationCutoffs(const Behavior& b, absl::Time now) {
  return {
      .up = now - absl::Seconds(b.scale_up.stabilization_window_seconds),
      .down = now - absl::Seconds(b.scale_down.stabilization_window_seconds)};
}

int64_t SaturatedInt64(double x) {
  constexpr double kBound = 4611686018427387904.0;  // 2^62
  if (std::isnan(x)) return 0;
  return static_cast<int64_t>(std::clamp(x, -kBound, kBound));
}

int32_t ApplyRateLimits(const TargetSpec& spec, int32_t current,
                        int32_t stabilized, int32_t up_limit,
                        int32_t down_limit, Limit& limit) {
  if (stabilized > current) {
    up_limit = std::max(up_limit, current);
    const bool rate_limited = spec.max_replicas > up_limit;
    const int32_t max_allowed = rate_limited ? up_limit : spec.max_replicas;
    if (stabilized > max_allowed) {
      limit = rate_limited ? Limit::kScaleUpPolicy : Limit::kMaxReplicas;
      return max_allowed;
    }
  } else if (stabilized < current) {
    down_limit = std::min(down_limit, current);
    const bool rate_limited = spec.min_replicas < down_limit;
    const int32_t min_allowed = rate_limited ? down_limit : spec.min_replicas;
    if (stabilized < min_allowed) {
      limit = rate_limited ? Limit::kScaleDownPolicy : Limit::kMinReplicas;
      return min_allowed;
    }
  }
  return stabilized;
}

}  // namespace ballast::engine::internal
