// ballast/engine/quantity.h
//
// The integer arithmetic of k8s.io/apimachinery's resource.Quantity that the
// HPA controller runs on, for numbers ballast holds as doubles. A double
// stands for the decimal it prints as (its shortest round-trip form: 0.3 is
// "0.3"), which is what a user writes in YAML or a metrics adapter serves.
//
//   MilliValue(0.3) == 300;  MilliValue(2.1) == 2100;  MilliValue(1e-4) == 1
//   ApproximateFloat64(0.07) == 70 * 0.001  // "70m", as the API server stores
//
// Used by the engine's HPA mode (engine.h, TargetSpec::mode).
#ifndef BALLAST_ENGINE_QUANTITY_H_
#define BALLAST_ENGINE_QUANTITY_H_

#include <cstdint>

namespace ballast::engine {

// Quantity.MilliValue() of the decimal `x`: ceil(x * 1000), exact, saturated
// at the int64 bounds. NaN gives 0.
int64_t MilliValue(double x);

// Quantity.AsApproximateFloat64() of the decimal `x` in the canonical form
// the API server stores (mantissa and an exponent that is a multiple of 3:
// 0.05 is "50m", so 50 * 10^-3). Used for behavior.*.tolerance, which the
// controller reads that way.
double ApproximateFloat64(double x);

}  // namespace ballast::engine

#endif  // BALLAST_ENGINE_QUANTITY_H_
