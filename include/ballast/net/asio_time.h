// ballast/net/asio_time.h
//
// absl::Duration to the std::chrono duration Asio's timers take, one
// conversion for every timer: a negative duration is zero (expire now).
//
//   timer.expires_after(ToChrono(absl::Milliseconds(500)));
#ifndef BALLAST_NET_ASIO_TIME_H_
#define BALLAST_NET_ASIO_TIME_H_

#include <algorithm>
#include <chrono>

#include "absl/time/time.h"

namespace ballast::net {

inline std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(std::max(d, absl::ZeroDuration()));
}

}  // namespace ballast::net

#endif  // BALLAST_NET_ASIO_TIME_H_
