// ballast/control/readings.h
//
// What a tick reads and the interface of whatever reads it: the control
// loop takes a Source (the Poller in production, a fake in tests) and gets
// one PollResult a tick. Its own header, so that the loop and the poller
// depend on it and not on each other.
#ifndef BALLAST_CONTROL_READINGS_H_
#define BALLAST_CONTROL_READINGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ballast::control {

struct TargetReadings {
  std::string target;
  // One per spec.inputs, same order.
  std::vector<absl::StatusOr<double>> inputs;
  // nullopt: `currentReplicas` is static or absent, so the engine assumes
  // the workload follows ballast. Otherwise the count read, or why not.
  std::optional<absl::StatusOr<int32_t>> current_replicas;
};

// How one source fared this tick (for telemetry).
struct SourcePoll {
  std::string kind;  // "redis", "prometheus", "kubernetes"
  std::string name;  // the config's source name ("" for kubernetes)
  absl::Duration duration;
  int32_t reads = 0;
  int32_t errors = 0;
  // The status code name of each error ("unavailable", "deadline_exceeded",
  // ...), for counting errors by kind.
  std::vector<std::string> error_kinds;
};

struct PollResult {
  absl::Time time;                      // the `now` given to Poll
  std::vector<TargetReadings> targets;  // config order
  std::vector<SourcePoll> sources;
};

// What the loop reads each tick: every input and currentReplicas of every
// target of the config it was made for.
class Source {
 public:
  virtual ~Source() = default;
  // Reads everything once at `now`; `done` runs once (on any thread), within
  // about `budget`, with one TargetReadings per target in config order. A
  // failed read is an error, never a zero.
  virtual void Poll(absl::Time now, absl::Duration budget,
                    absl::AnyInvocable<void(PollResult)> done) = 0;
};

}  // namespace ballast::control

#endif  // BALLAST_CONTROL_READINGS_H_
