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

}  // namespace ballast::engine::internal
