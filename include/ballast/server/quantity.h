// ballast/server/quantity.h
//
// Kubernetes Quantity strings in canonical decimal (DecimalSI) form, as the
// external metrics API serves metric values.
//
//   absl::StatusOr<std::string> q = FormatQuantity(1.5);  // "1500m"
//   FormatQuantity(2000);    // "2k"
//   FormatQuantity(0.0005);  // "500u"
//   FormatQuantity(NAN);     // InvalidArgument: NaN cannot be served
//
// The value is first rounded to the nearest nano-unit (the finest suffix), so
// binary noise such as 0.1 + 0.2 serves as "300m". Then trailing zeros move
// into the exponent, the exponent goes down to a multiple of 3 and becomes a
// suffix: n (-9), u (-6), m (-3), none, k, M, G, T, P, E (18). Beyond E the
// extra digits stay in the mantissa (1e21 -> "1000E"), which Kubernetes
// parses. Values smaller than half a nano-unit serve as "0".
#ifndef BALLAST_SERVER_QUANTITY_H_
#define BALLAST_SERVER_QUANTITY_H_

#include <string>

#include "absl/status/statusor.h"

namespace ballast::server {

// The canonical Quantity of `value`. InvalidArgument for NaN and +-Inf.
absl::StatusOr<std::string> FormatQuantity(double value);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_QUANTITY_H_
