// ballast/core/clock.h
//
// The time a long-running ballast reads for anything that measures an
// interval: the engine's windows and EWMA, an input's age, cache TTLs,
// "check again after" deadlines. The wall clock can step (NTP after a
// suspend, an operator, a VM restored from a snapshot); an hour backwards
// would freeze every window for an hour, an hour forwards would expire them
// all at once. MonotonicNow() is the wall clock read once, at its first
// call, advanced by CLOCK_MONOTONIC since: it never goes backwards and a step
// of the wall clock does not move it. It still reads as a date (close to the
// wall clock, apart from steps and slew since the start), so the timestamps
// it gives in explanations and APIs stay meaningful.
//
//   const ballast::Clock clock = ballast::MonotonicNow;   // production
//   ballast::Clock fake = [&t] { return t; };             // tests
//   absl::Time deadline = clock() + absl::Seconds(10);
//
// Log lines and "last reload" timestamps are wall-clock facts and keep
// absl::Now().
#ifndef BALLAST_CORE_CLOCK_H_
#define BALLAST_CORE_CLOCK_H_

#include <functional>

#include "absl/time/time.h"

namespace ballast {

// A source of time. Injected where code measures intervals, so that tests
// can drive time and production reads MonotonicNow.
using Clock = std::function<absl::Time()>;

// Thread-safe.
absl::Time MonotonicNow();

}  // namespace ballast

#endif  // BALLAST_CORE_CLOCK_H_
