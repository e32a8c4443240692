// Shared between the engine's two modes (engine.cc: ballast's; hpa.cc: the
// Kubernetes HPA controller's). Not part of the engine's interface.
#ifndef BALLAST_SRC_ENGINE_INTERNAL_H_
#define BALLAST_SRC_ENGINE_INTERNAL_H_

#include <cstdint>

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

// Tick in HPA mode (hpa.cc).
TickResult HpaTick(const TargetSpec& spec, TargetHistory history,
                   const TickInput& in);

}  // namespace ballast::engine::internal

#endif  // BALLAST_SRC_ENGINE_INTERNAL_H_
