#include "ballast/state/election.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ballast/net/asio_time.h"

namespace ballast::state {

// client-go's JitterFactor: renewDeadline must exceed retryPeriod by it.
constexpr double kRetryFactor = 1.2;

absl::Status ValidateElectionOptions(const ElectionOptions& options) {
  if (options.identity.empty()) {
    return absl::InvalidArgumentError("leader election: identity is empty");
  }
  if (options.retry_period <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "leader election: retry_period must be positive");
  }
  if (options.renew_deadline <= options.retry_period * kRetryFactor) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader election: renew_deadline (",
                     absl::FormatDuration(options.renew_deadline),
                     ") must be more than 1.2 * retry_period (",
                     absl::FormatDuration(options.retry_period), ")"));
  }
  if (options.lease_duration <= options.renew_deadline) {
    return absl::InvalidArgumentError(
        absl::StrCat("leader election: lease_duration (",
                     absl::FormatDuration(options.lease_duration),
                     ") must be more than renew_deadline (",
                     absl::FormatDuration(options.renew_deadline), ")"));
  }
  if (!options.clock) {
    return absl::InvalidArgumentError("leader election: no clock");
  }
  return absl::OkStatus();
}

// --- Campaign --------------------------------------------------------------

Campaign::Campaign(Timing timing, absl::AnyInvocable<double()> random)
    : timing_(timing), random_(std::move(random)) {}

absl::Time Campaign::deadline() const {
  return leading_ ? renewed_at_ + timing_.renew_deadline
                  : absl::InfiniteFuture();
}

absl::Time Campaign::NextWake() const {
  if (phase_ != Phase::kRunning) return absl::InfiniteFuture();
  const absl::Time next = in_flight_ ? absl::InfiniteFuture() : next_attempt_;
  return std::min(next, deadline());
}

void Campaign::StartAttempt(absl::Time now, Step& step) {
  in_flight_ = true;
  attempt_started_ = now;
  next_attempt_ = absl::InfiniteFuture();
  step.attempt = true;
}

void Campaign::CheckDeadline(absl::Time now, Step& step) {
  if (leading_ && now >= deadline()) {
    leading_.reset();
    step.changes.push_back(std::nullopt);
  }
}

void Campaign::ScheduleNext(absl::Time now) {
  absl::Duration period = timing_.retry_period;
  if (!leading_ && timing_.jitter > 0 && random_) {
    period += timing_.retry_period * (timing_.jitter * random_());
  }
  next_attempt_ = now + period;
}

Campaign::Step Campaign::Start(absl::Time now) {
  Step step;
  if (phase_ != Phase::kIdle) {
    step.wake = NextWake();
    return step;
  }
  phase_ = Phase::kRunning;
  StartAttempt(now, step);
  step.wake = NextWake();
  return step;
}

Campaign::Step Campaign::AttemptDone(absl::Time now,
                                     const absl::StatusOr<LockState>& result) {
  Step step;
  in_flight_ = false;
  if (result.ok()) {
    observed_leader_ = result->holder;
    may_hold_ = result->held;
  }
  if (phase_ == Phase::kStopping) {
    if (may_hold_) {
      releasing_ = true;
      step.release = true;
    } else {
      phase_ = Phase::kStopped;
      step.stopped = true;
    }
    return step;
  }
  if (phase_ != Phase::kRunning) return step;

  if (result.ok() && result->held) {
    // A renewal is only worth its start time: the record was written at or
    // after it, and nobody counts its expiry from earlier.
    if (now < attempt_started_ + timing_.renew_deadline) {
      if (leading_ && *leading_ != result->term) {
        step.changes.push_back(std::nullopt);
        leading_.reset();
      }
      if (!leading_) {
        leading_ = result->term;
        step.changes.push_back(result->term);
      }
      renewed_at_ = attempt_started_;
    }
  } else if (result.ok() && leading_) {
    // The record names another holder (or none): not leading, whatever the
    // deadline says.
    leading_.reset();
    step.changes.push_back(std::nullopt);
  }
  CheckDeadline(now, step);
  ScheduleNext(now);
  step.wake = NextWake();
  return step;
}

Campaign::Step Campaign::ReleaseDone(absl::Time /*now*/) {
  Step step;
  releasing_ = false;
  may_hold_ = false;
  if (phase_ == Phase::kStopping) {
    phase_ = Phase::kStopped;
    step.stopped = true;
  }
  return step;
}

Campaign::Step Campaign::Wake(absl::Time now) {
  Step step;
  if (phase_ != Phase::kRunning) return step;
  CheckDeadline(now, step);
  if (!in_flight_ && now >= next_attempt_) StartAttempt(now, step);
  step.wake = NextWake();
  return step;
}

Campaign::Step Campaign::Stop(absl::Time /*now*/) {
  Step step;
  switch (phase_) {
    case Phase::kIdle:
      phase_ = Phase::kStopped;
      step.stopped = true;
      return step;
    case Phase::kStopped:
      step.stopped = true;
      return step;
    case Phase::kStopping:
      return step;  // finishes with the first Stop
    case Phase::kRunning:
      break;
  }
  phase_ = Phase::kStopping;
  leading_.reset();  // not reported: no change after Stop
  if (in_flight_) return step;
  if (may_hold_) {
    releasing_ = true;
    step.release = true;
  } else {
    phase_ = Phase::kStopped;
    step.stopped = true;
  }
  return step;
}

// --- The driver ------------------------------------------------------------

namespace {

namespace asio = boost::asio;

// Everything the elector's callbacks touch, kept alive by them: destroying
// the Elector abandons it (no OnChange any more, timer cancelled) while a
// backend call may still be on its way back.
class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(asio::io_context& io, std::unique_ptr<LockBackend> backend,
       const ElectionOptions& options, double jitter)
      : strand_(asio::make_strand(io)),
        timer_(strand_),
        clock_(options.clock),
        on_error_(options.on_error),
        backend_(std::move(backend)),
        campaign_({.renew_deadline = options.renew_deadline,
                   .retry_period = options.retry_period,
                   .jitter = jitter},
                  [this] {
                    return std::uniform_real_distribution<double>(0,
                                                                  1)(random_);
                  }) {}

  void Start(Elector::OnChange on_change) {
    asio::post(strand_, [self = shared_from_this(),
                         on_change = std::move(on_change)]() mutable {
      self->on_change_ = std::move(on_change);
      self->Apply(self->campaign_.Start(self->clock_()));
    });
  }

  void Stop(absl::AnyInvocable<void()> done) {
    asio::post(strand_,
               [self = shared_from_this(), done = std::move(done)]() mutable {
                 self->stop_done_.push_back(std::move(done));
                 self->Apply(self->campaign_.Stop(self->clock_()));
               });
  }

  // From ~Elector: no OnChange from now on, nothing scheduled.
  void Abandon() {
    abandoned_.store(true);
    asio::post(strand_, [self = shared_from_this()] {
      self->timer_.cancel();
      self->on_change_ = nullptr;
    });
  }

  std::string observed_leader() const {
    absl::MutexLock lock(&mu_);
    return observed_leader_;
  }

 private:
  // On the strand.
  void Apply(const Campaign::Step& step) {
    {
      absl::MutexLock lock(&mu_);
      observed_leader_ = campaign_.observed_leader();
    }
    for (const std::optional<uint64_t>& change : step.changes) {
      if (!abandoned_.load() && on_change_) on_change_(change);
    }
    if (step.attempt) {
      backend_->TryAcquireOrRenew(
          [self =
               shared_from_this()](absl::StatusOr<LockState> result) mutable {
            Core* core = self.get();
            asio::post(core->strand_, [self = std::move(self),
                                       result = std::move(result)]() mutable {
              if (!result.ok() && self->on_error_) {
                self->on_error_(result.status());
              }
              self->Apply(self->campaign_.AttemptDone(self->clock_(), result));
            });
          });
    }
    if (step.release) {
      backend_->Release(
          [self = shared_from_this()](const absl::Status& /*status*/) mutable {
            // Best effort, as client-go's: a failed release leaves the
            // record to expire after lease_duration.
            Core* core = self.get();
            asio::post(core->strand_, [self = std::move(self)] {
              self->Apply(self->campaign_.ReleaseDone(self->clock_()));
            });
          });
    }
    Arm(step.wake);
    if (step.stopped) {
      std::vector<absl::AnyInvocable<void()>> done = std::move(stop_done_);
      stop_done_.clear();
      for (auto& d : done) std::move(d)();
    }
  }

  void Arm(absl::Time wake) {
    if (wake == absl::InfiniteFuture() || abandoned_.load()) {
      timer_.cancel();
      return;
    }
    // The injected clock says when; the steady timer only wakes the
    // campaign, which looks at the clock again (an early wake-up re-arms).
    timer_.expires_after(net::ToChrono(wake - clock_()));
    timer_.async_wait(asio::bind_executor(
        strand_,
        [self = shared_from_this()](const boost::system::error_code& ec) {
          if (ec) return;  // re-armed or cancelled
          self->Apply(self->campaign_.Wake(self->clock_()));
        }));
  }

  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer timer_;
  const Clock clock_;
  const std::function<void(const absl::Status&)> on_error_;
  std::mt19937_64 random_{std::random_device{}()};
  const std::unique_ptr<LockBackend> backend_;
  Campaign campaign_;
  Elector::OnChange on_change_;
  std::vector<absl::AnyInvocable<void()>> stop_done_;
  std::atomic<bool> abandoned_{false};

  mutable absl::Mutex mu_;
  std::string observed_leader_ ABSL_GUARDED_BY(mu_);
};

class BackendElector : public Elector {
 public:
  explicit BackendElector(std::shared_ptr<Core> core)
      : core_(std::move(core)) {}
  // Abandon only posts to the strand (an allocation could throw).
  // NOLINTNEXTLINE(bugprone-exception-escape)
  ~BackendElector() override { core_->Abandon(); }

  void Start(OnChange on_change) override {
    core_->Start(std::move(on_change));
  }
  void Stop(absl::AnyInvocable<void()> done) override {
    core_->Stop(std::move(done));
  }
  std::string observed_leader() const override {
    return core_->observed_leader();
  }

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace

std::unique_ptr<Elector> MakeElector(asio::io_context& io,
                                     std::unique_ptr<LockBackend> backend,
                                     const ElectionOptions& options,
                                     double jitter) {
  return std::make_unique<BackendElector>(
      std::make_shared<Core>(io, std::move(backend), options, jitter));
}

}  // namespace ballast::state
