// ballast/state/election.h
//
// The part of leader election both electors share (state/leader.h): the
// timing of client-go's acquire and renew loops as a pure state machine
// (`Campaign`: events in, with the time they happen; what to do out), and
// the one asynchronous driver (`MakeElector`) that runs it on a strand
// against a `LockBackend`, the record itself (a Kubernetes Lease, a Redis
// key). A backend knows how to read and write its record once; when to try,
// when to give up leading and what to report is decided here only.
//
//   Campaign c({.renew_deadline = absl::Seconds(10),
//               .retry_period = absl::Seconds(2)});
//   Campaign::Step s = c.Start(t0);               // s.attempt: try now
//   s = c.AttemptDone(t0 + absl::Milliseconds(20),
//                     LockState{.held = true, .term = 4, .holder = "me"});
//   // s.changes == {4}: leading with term 4; s.wake == t0 + 20ms + 2s
//
//   std::unique_ptr<Elector> e =
//       MakeElector(io, std::move(backend), options);  // runs a Campaign
#ifndef BALLAST_STATE_ELECTION_H_
#define BALLAST_STATE_ELECTION_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/state/leader.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::state {

// What one try at the record found.
struct LockState {
  // This replica holds the record now (acquired or renewed it).
  bool held = false;
  // When held: the term (>= 1), the same for every renewal of one holding.
  uint64_t term = 0;
  // The holder the record names ("" when free); this replica's identity
  // when held.
  std::string holder;
};

// The record an elector campaigns for. The driver calls one method at a
// time: never again before the previous call's `done` ran. `done` may run
// on any thread.
class LockBackend {
 public:
  using AttemptDone = absl::AnyInvocable<void(absl::StatusOr<LockState>) &&>;
  using ReleaseDone = absl::AnyInvocable<void(absl::Status) &&>;

  virtual ~LockBackend() = default;

  // One try of client-go's tryAcquireOrRenew: takes the record when it is
  // free or its holder let it expire, renews it when this replica holds
  // it. OK with held = false when another replica holds it. An error when
  // it could not tell (Unavailable, DeadlineExceeded, DataLoss...) or lost
  // a race for the record (Aborted). Each request the backend makes has a
  // deadline, so `done` runs within a bounded time.
  virtual void TryAcquireOrRenew(AttemptDone done) = 0;

  // Gives the record up if this replica holds it (client-go's release), so
  // that another replica takes it at once. OK when it was not held.
  virtual void Release(ReleaseDone done) = 0;
};

// When to try, when leading ends, what to report: client-go's
// LeaderElector loops as a pure state machine.
//
// - A follower tries every retry_period (plus up to `jitter` of it, drawn
//   from `random`, as client-go's JitterUntil spreads replicas that started
//   together); the leader renews every retry_period. Periods are counted
//   from the end of the previous try (client-go's sliding period); one try
//   at a time.
// - The leader stops leading when it has not renewed for renew_deadline,
//   counted from the *start* of its last successful try (the record was
//   written no earlier, so no other replica can count its expiry from an
//   earlier time). A try that succeeds later than renew_deadline after it
//   started does not make a replica lead. A try that finds another holder
//   ends leading at once (client-go keeps retrying until the deadline; a
//   record naming someone else is already proof). It keeps campaigning.
// - A new term while leading (the record expired and was taken again)
//   reports nullopt, then the new term.
// - Stop: no change is reported any more; an attempt in flight is waited
//   for; then the record is released when the last try held it (or an
//   error left that unknown).
class Campaign {
 public:
  struct Timing {
    absl::Duration renew_deadline = absl::Seconds(10);
    absl::Duration retry_period = absl::Seconds(2);
    // A follower's period is retry_period * (1 + jitter * random()).
    double jitter = 0;
  };

  // What to do after an event.
  struct Step {
    bool attempt = false;  // start LockBackend::TryAcquireOrRenew now
    bool release = false;  // start LockBackend::Release now
    // OnChange calls to make, in order.
    std::vector<std::optional<uint64_t>> changes;
    // Call Wake() at this time (or later); replaces any earlier wake.
    // InfiniteFuture: none.
    absl::Time wake = absl::InfiniteFuture();
    bool stopped = false;  // Stop() has finished: run its `done`
  };

  // `random` returns a value in [0, 1) for the jitter; nullptr: 0.
  explicit Campaign(Timing timing, absl::AnyInvocable<double()> random = {});

  Step Start(absl::Time now);
  Step AttemptDone(absl::Time now, const absl::StatusOr<LockState>& result);
  Step ReleaseDone(absl::Time now);
  Step Wake(absl::Time now);
  // Before Start, or a second time: stopped at once (when nothing is in
  // flight) or once the first Stop finishes.
  Step Stop(absl::Time now);

  // The term while leading.
  std::optional<uint64_t> leading() const { return leading_; }
  // The holder the last successful try saw ("" before one).
  const std::string& observed_leader() const { return observed_leader_; }
  // When the leader stops leading unless it renews first.
  absl::Time deadline() const;

 private:
  enum class Phase { kIdle, kRunning, kStopping, kStopped };

  void StartAttempt(absl::Time now, Step& step);
  void CheckDeadline(absl::Time now, Step& step);
  void ScheduleNext(absl::Time now);
  absl::Time NextWake() const;

  const Timing timing_;
  absl::AnyInvocable<double()> random_;
  Phase phase_ = Phase::kIdle;
  bool in_flight_ = false;  // an attempt
  bool releasing_ = false;
  absl::Time attempt_started_ = absl::InfinitePast();
  absl::Time next_attempt_ = absl::InfiniteFuture();
  std::optional<uint64_t> leading_;
  absl::Time renewed_at_ = absl::InfinitePast();  // start of the last renewal
  // The record may name this replica: the last try held it, or failed
  // after one that did.
  bool may_hold_ = false;
  std::string observed_leader_;
};

// An Elector that runs a Campaign against `backend` on a strand of `io`:
// OnChange runs on that strand. options.clock measures every deadline;
// the timers only wake the campaign up. `jitter` as Campaign::Timing's.
std::unique_ptr<Elector> MakeElector(boost::asio::io_context& io,
                                     std::unique_ptr<LockBackend> backend,
                                     const ElectionOptions& options,
                                     double jitter = 0.2);

// InvalidArgument unless identity is set and 0 < retry_period * 1.2 <
// renew_deadline < lease_duration (client-go's NewLeaderElector checks).
absl::Status ValidateElectionOptions(const ElectionOptions& options);

}  // namespace ballast::state

#endif  // BALLAST_STATE_ELECTION_H_
