// The election's timing (Campaign) as timelines, time as data; and the
// asynchronous driver (MakeElector) against a fake backend.

#include "ballast/state/election.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::state {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;
using Changes = std::vector<std::optional<uint64_t>>;

const absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
absl::Time At(double seconds) { return t0 + absl::Seconds(seconds); }

constexpr Campaign::Timing kTiming{.renew_deadline = absl::Seconds(10),
                                   .retry_period = absl::Seconds(2)};

LockState Held(uint64_t term) {
  return {.held = true, .term = term, .holder = "me"};
}
LockState HeldBy(std::string holder) { return {.holder = std::move(holder)}; }

// --- One event at a time ---------------------------------------------------

TEST(Campaign, StartTriesAtOnceAndReportsTheTermWhenHeld) {
  Campaign c(kTiming);
  Campaign::Step s = c.Start(t0);
  EXPECT_TRUE(s.attempt);
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_EQ(s.wake, absl::InfiniteFuture());  // waits for the try

  s = c.AttemptDone(At(0.05), Held(3));
  EXPECT_THAT(s.changes, ElementsAre(Optional(uint64_t{3})));
  EXPECT_FALSE(s.attempt);
  EXPECT_EQ(s.wake, At(2.05));  // the next renewal
  EXPECT_THAT(c.leading(), Optional(uint64_t{3}));
  EXPECT_EQ(c.deadline(), At(10));  // from the try's start
  EXPECT_EQ(c.observed_leader(), "me");
}

TEST(Campaign, RenewalsOfOneHoldingAreNotReported) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(At(0.05), Held(3));
  Campaign::Step s = c.Wake(At(1));  // early: nothing to do yet
  EXPECT_FALSE(s.attempt);
  EXPECT_EQ(s.wake, At(2.05));
  s = c.Wake(At(2.05));
  EXPECT_TRUE(s.attempt);
  EXPECT_EQ(s.wake, At(10));  // in flight: only the deadline is left
  s = c.AttemptDone(At(2.1), Held(3));
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_EQ(c.deadline(), At(12.05));
  EXPECT_EQ(s.wake, At(4.1));
}

TEST(Campaign, AFollowerSeesTheHolderAndKeepsTrying) {
  Campaign c(kTiming);
  c.Start(t0);
  Campaign::Step s = c.AttemptDone(At(0.05), HeldBy("other"));
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_EQ(c.observed_leader(), "other");
  EXPECT_EQ(s.wake, At(2.05));
  EXPECT_EQ(c.leading(), std::nullopt);
}

TEST(Campaign, AFollowerWaitsUpToJitterMoreThanTheRetryPeriod) {
  Campaign c({.renew_deadline = absl::Seconds(10),
              .retry_period = absl::Seconds(2),
              .jitter = 0.2},
             [] { return 0.5; });
  c.Start(t0);
  EXPECT_EQ(c.AttemptDone(t0, HeldBy("other")).wake, At(2.2));
  c.Wake(At(2.2));
  // The leader renews on the period itself.
  EXPECT_EQ(c.AttemptDone(At(2.2), Held(1)).wake, At(4.2));
}

TEST(Campaign, AnotherHolderEndsLeadingAtOnce) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  c.Wake(At(2));
  Campaign::Step s = c.AttemptDone(At(2.1), HeldBy("other"));
  EXPECT_THAT(s.changes, ElementsAre(std::nullopt));
  EXPECT_EQ(c.leading(), std::nullopt);
  EXPECT_EQ(c.observed_leader(), "other");
  EXPECT_EQ(c.deadline(), absl::InfiniteFuture());
}

TEST(Campaign, ANewTermWhileLeadingReportsTheEndThenTheNewTerm) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  c.Wake(At(2));
  Campaign::Step s = c.AttemptDone(At(2.1), Held(5));
  EXPECT_THAT(s.changes, ElementsAre(std::nullopt, Optional(uint64_t{5})));
  EXPECT_THAT(c.leading(), Optional(uint64_t{5}));
}

TEST(Campaign, AHungRenewalEndsLeadingAtTheDeadline) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  Campaign::Step s = c.Wake(At(2));
  ASSERT_TRUE(s.attempt);
  EXPECT_EQ(s.wake, At(10));
  s = c.Wake(At(10));  // the try never answered
  EXPECT_THAT(s.changes, ElementsAre(std::nullopt));
  EXPECT_FALSE(s.attempt);  // one try at a time
  EXPECT_EQ(s.wake, absl::InfiniteFuture());
  EXPECT_EQ(c.leading(), std::nullopt);
}

TEST(Campaign, ATryAnsweredAfterTheRenewDeadlineDoesNotLead) {
  Campaign c(kTiming);
  c.Start(t0);
  Campaign::Step s = c.AttemptDone(At(10), Held(3));  // started at t0
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_EQ(c.leading(), std::nullopt);
  EXPECT_EQ(s.wake, At(12));
  // The next one, quick, does.
  c.Wake(At(12));
  s = c.AttemptDone(At(12.1), Held(3));
  EXPECT_THAT(s.changes, ElementsAre(Optional(uint64_t{3})));
}

TEST(Campaign, ALateRenewalLeadsOnlyUntilItsStartPlusTheDeadline) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  c.Wake(At(2));   // renewal starts at 2
  c.Wake(At(10));  // steps down at 10, still in flight
  Campaign::Step s = c.AttemptDone(At(11), Held(3));
  EXPECT_THAT(s.changes, ElementsAre(Optional(uint64_t{3})));
  EXPECT_EQ(c.deadline(), At(12));
  EXPECT_EQ(s.wake, At(12));  // before the next try at 13
  s = c.Wake(At(12));
  EXPECT_THAT(s.changes, ElementsAre(std::nullopt));
}

TEST(Campaign, ErrorsKeepALeaderUntilTheDeadlineOnly) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  std::vector<double> tries;
  Changes changes;
  for (double t = 2; t < 20; t += 2) {
    Campaign::Step s = c.Wake(At(t));
    for (auto& ch : s.changes) changes.push_back(ch);
    if (!s.attempt) continue;
    tries.push_back(t);
    s = c.AttemptDone(At(t), absl::UnavailableError("down"));
    for (auto& ch : s.changes) changes.push_back(ch);
    if (t == 8) {
      EXPECT_EQ(s.wake, At(10));  // the deadline
    }
  }
  EXPECT_THAT(tries, ElementsAre(2, 4, 6, 8, 10, 12, 14, 16, 18));
  EXPECT_THAT(changes, ElementsAre(std::nullopt));
  EXPECT_EQ(c.observed_leader(), "me");  // errors say nothing of the holder
}

// --- Stop ------------------------------------------------------------------

TEST(Campaign, StopBeforeStartOrAsAFollowerFinishesAtOnce) {
  Campaign idle(kTiming);
  EXPECT_TRUE(idle.Stop(t0).stopped);

  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, HeldBy("other"));
  Campaign::Step s = c.Stop(At(1));
  EXPECT_TRUE(s.stopped);
  EXPECT_FALSE(s.release);
  EXPECT_EQ(s.wake, absl::InfiniteFuture());
  EXPECT_FALSE(c.Wake(At(2)).attempt);
}

TEST(Campaign, StopReleasesWhatIsHeldWithoutReportingAChange) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(3));
  Campaign::Step s = c.Stop(At(1));
  EXPECT_TRUE(s.release);
  EXPECT_FALSE(s.stopped);
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_EQ(s.wake, absl::InfiniteFuture());
  EXPECT_EQ(c.leading(), std::nullopt);
  EXPECT_FALSE(c.Wake(At(2)).attempt);
  s = c.ReleaseDone(At(1.1));
  EXPECT_TRUE(s.stopped);
  EXPECT_THAT(s.changes, IsEmpty());
}

TEST(Campaign, StopWaitsForTheTryInFlightThenReleasesIfItHeld) {
  Campaign c(kTiming);
  c.Start(t0);
  Campaign::Step s = c.Stop(At(0.01));
  EXPECT_FALSE(s.stopped);
  EXPECT_FALSE(s.release);
  EXPECT_TRUE(c.Stop(At(0.02)).changes.empty());  // a second Stop waits too
  s = c.AttemptDone(At(0.05), Held(1));
  EXPECT_THAT(s.changes, IsEmpty());
  EXPECT_TRUE(s.release);
  EXPECT_TRUE(c.ReleaseDone(At(0.06)).stopped);
}

TEST(Campaign, StopWaitsForTheTryInFlightAndFinishesIfItDidNotHold) {
  Campaign c(kTiming);
  c.Start(t0);
  c.Stop(At(0.01));
  Campaign::Step s = c.AttemptDone(At(0.05), HeldBy("other"));
  EXPECT_FALSE(s.release);
  EXPECT_TRUE(s.stopped);
}

TEST(Campaign, StopReleasesWhenAnErrorLeftTheHoldingUnknown) {
  Campaign c(kTiming);
  c.Start(t0);
  c.AttemptDone(t0, Held(2));
  c.Wake(At(2));
  c.AttemptDone(At(2.5), absl::DeadlineExceededError("slow"));
  EXPECT_TRUE(c.Stop(At(3)).release);
}

// --- Timelines -------------------------------------------------------------

// Runs a Campaign as the driver does: each try is answered `latency` after
// it starts, by answer(start time).
struct Timeline {
  using Answer = std::function<absl::StatusOr<LockState>(absl::Time)>;

  void Run(absl::Time until, const Answer& answer, absl::Duration latency) {
    Campaign::Step s = c.Start(t0);
    absl::Time now = t0;
    std::optional<absl::Time> started;
    for (;;) {
      for (const auto& ch : s.changes) changes.emplace_back(now, ch);
      if (s.attempt) {
        started = now;
        tries.push_back(now);
      }
      const absl::Time answer_at =
          started ? *started + latency : absl::InfiniteFuture();
      now = std::min(s.wake, answer_at);
      if (now > until) return;
      if (now == answer_at) {
        const absl::Time start = *started;
        started.reset();
        s = c.AttemptDone(now, answer(start));
      } else {
        s = c.Wake(now);
      }
    }
  }

  Campaign c{kTiming};
  std::vector<absl::Time> tries;
  std::vector<std::pair<absl::Time, std::optional<uint64_t>>> changes;
};

TEST(Campaign, AnOutageOfTheStoreEndsLeadingWithinTheRenewDeadline) {
  // Held from the start; the store is unreachable from 5 s to 30 s (tries
  // fail after 1 s each); held again, with a new term, after.
  Timeline tl;
  tl.Run(
      At(40),
      [](absl::Time start) -> absl::StatusOr<LockState> {
        if (start >= At(5) && start < At(30)) {
          return absl::DeadlineExceededError("down");
        }
        return Held(start < At(5) ? 1 : 2);
      },
      absl::Seconds(1));
  using P = std::pair<absl::Time, std::optional<uint64_t>>;
  // Renewals start at 0, 3 (each answered 1 s later, the next 2 s after);
  // the last good one started at 3: leading ends at 13.
  EXPECT_THAT(tl.changes,
              ElementsAre(P(At(1), 1), P(At(13), std::nullopt), P(At(31), 2)));
  EXPECT_EQ(tl.tries.front(), t0);
  EXPECT_EQ(tl.tries[1], At(3));
  EXPECT_EQ(tl.tries[2], At(6));
}

TEST(Campaign, AFollowerTakesOverWhenTheLeaderGoes) {
  Timeline tl;
  tl.Run(
      At(20),
      [](absl::Time start) -> absl::StatusOr<LockState> {
        if (start < At(7)) return HeldBy("other");
        return Held(8);
      },
      absl::Milliseconds(100));
  using P = std::pair<absl::Time, std::optional<uint64_t>>;
  // Tries at 0, 2.1, 4.2, 6.3 (held by other), 8.4 (held).
  EXPECT_THAT(tl.changes, ElementsAre(P(At(8.5), 8)));
  EXPECT_EQ(tl.c.observed_leader(), "me");
}

// --- The driver ------------------------------------------------------------

// Answers each try from a script (the last entry repeats) after a delay on
// a thread of its own, as a network client would; records the calls.
class FakeBackend : public LockBackend {
 public:
  struct Shared {
    absl::Mutex mu;
    std::vector<absl::StatusOr<LockState>> script ABSL_GUARDED_BY(mu);
    size_t next ABSL_GUARDED_BY(mu) = 0;
    std::vector<std::string> calls ABSL_GUARDED_BY(mu);
    bool hang ABSL_GUARDED_BY(mu) = false;  // answer no try
    std::vector<AttemptDone> hung ABSL_GUARDED_BY(mu);
  };

  FakeBackend(boost::asio::io_context& io, std::shared_ptr<Shared> shared)
      : io_(io), shared_(std::move(shared)) {}

  void TryAcquireOrRenew(AttemptDone done) override {
    absl::StatusOr<LockState> answer;
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->calls.push_back("try");
      if (shared_->hang) {
        shared_->hung.push_back(std::move(done));
        return;
      }
      answer =
          shared_->script[std::min(shared_->next, shared_->script.size() - 1)];
      ++shared_->next;
    }
    boost::asio::post(io_, [done = std::move(done), answer]() mutable {
      std::move(done)(answer);
    });
  }

  void Release(ReleaseDone done) override {
    {
      absl::MutexLock lock(&shared_->mu);
      shared_->calls.push_back("release");
    }
    boost::asio::post(io_, [done = std::move(done)]() mutable {
      std::move(done)(absl::OkStatus());
    });
  }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<Shared> shared_;
};

ElectionOptions FastOptions() {
  return {.identity = "me",
          .lease_duration = absl::Milliseconds(400),
          .renew_deadline = absl::Milliseconds(300),
          .retry_period = absl::Milliseconds(20)};
}

// Runs `io` until `done()` or 5 s.
bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (!done() && absl::Now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(5));
  }
  return done();
}

void RunFor(boost::asio::io_context& io, absl::Duration d) {
  io.restart();
  io.run_for(absl::ToChronoMilliseconds(d));
}

TEST(MakeElector, LeadsRenewsAndReleasesOnStop) {
  boost::asio::io_context io;
  auto shared = std::make_shared<FakeBackend::Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->script = {HeldBy("other"), Held(4)};
  }
  std::unique_ptr<Elector> e =
      MakeElector(io, std::make_unique<FakeBackend>(io, shared), FastOptions());
  Changes changes;
  e->Start([&](std::optional<uint64_t> term) { changes.push_back(term); });
  ASSERT_TRUE(RunUntil(io, [&] { return !changes.empty(); }));
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{4})));
  EXPECT_EQ(e->observed_leader(), "me");
  // Renewals go on, unreported.
  ASSERT_TRUE(RunUntil(io, [&] {
    absl::MutexLock lock(&shared->mu);
    return shared->calls.size() >= 5;
  }));
  bool stopped = false;
  e->Stop([&] { stopped = true; });
  ASSERT_TRUE(RunUntil(io, [&] { return stopped; }));
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{4})));
  absl::MutexLock lock(&shared->mu);
  EXPECT_EQ(shared->calls.back(), "release");
  EXPECT_EQ(std::count(shared->calls.begin(), shared->calls.end(), "release"),
            1);
}

TEST(MakeElector, AHungBackendEndsLeadingByTheInjectedClock) {
  boost::asio::io_context io;
  auto shared = std::make_shared<FakeBackend::Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->script = {Held(9)};
  }
  // A clock only the test moves: the timers wake the elector, the clock
  // says whether anything is due.
  absl::Time now = t0;
  ElectionOptions options = FastOptions();
  options.clock = [&now] { return now; };
  std::unique_ptr<Elector> e =
      MakeElector(io, std::make_unique<FakeBackend>(io, shared), options);
  Changes changes;
  e->Start([&](std::optional<uint64_t> term) { changes.push_back(term); });
  ASSERT_TRUE(RunUntil(io, [&] { return !changes.empty(); }));
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{9})));
  {
    absl::MutexLock lock(&shared->mu);
    shared->hang = true;  // every try from now on hangs
  }
  now += absl::Milliseconds(50);  // the renewal is due: it starts, and hangs
  ASSERT_TRUE(RunUntil(io, [&] {
    absl::MutexLock lock(&shared->mu);
    return shared->hung.size() == 1;
  }));
  RunFor(io, absl::Milliseconds(500));  // real time, not the clock's
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{9})));

  now = t0 + absl::Milliseconds(300);  // the deadline, from the first try
  ASSERT_TRUE(RunUntil(io, [&] { return changes.size() == 2; }));
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{9}), std::nullopt));
  {
    absl::MutexLock lock(&shared->mu);
    EXPECT_EQ(shared->hung.size(), 1u);  // one try at a time
  }

  // Stop waits for the hung try; its answer (held) is then released.
  bool stopped = false;
  e->Stop([&] { stopped = true; });
  RunFor(io, absl::Milliseconds(100));
  EXPECT_FALSE(stopped);
  {
    absl::MutexLock lock(&shared->mu);
    std::move(shared->hung.front())(Held(9));
  }
  ASSERT_TRUE(RunUntil(io, [&] { return stopped; }));
  EXPECT_THAT(changes, ElementsAre(Optional(uint64_t{9}), std::nullopt));
  absl::MutexLock lock(&shared->mu);
  EXPECT_EQ(shared->calls.back(), "release");
}

TEST(MakeElector, DestroyedWithoutStopReportsNothingMoreAndLetsIoFinish) {
  boost::asio::io_context io;
  auto shared = std::make_shared<FakeBackend::Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->script = {Held(2)};
  }
  int calls = 0;
  {
    std::unique_ptr<Elector> e = MakeElector(
        io, std::make_unique<FakeBackend>(io, shared), FastOptions());
    e->Start([&](std::optional<uint64_t>) { ++calls; });
    ASSERT_TRUE(RunUntil(io, [&] { return calls == 1; }));
  }
  io.restart();
  // Nothing left scheduled: run() returns once the last try is answered.
  const absl::Time before = absl::Now();
  io.run();
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  EXPECT_EQ(calls, 1);
}

TEST(ValidateElectionOptions, RefusesWhatClientGoRefuses) {
  EXPECT_TRUE(ValidateElectionOptions({.identity = "a"}).ok());  // defaults
  EXPECT_EQ(ValidateElectionOptions({}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateElectionOptions({.identity = "a",
                                     .lease_duration = absl::Seconds(10),
                                     .renew_deadline = absl::Seconds(10)})
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateElectionOptions({.identity = "a",
                                     .renew_deadline = absl::Seconds(2),
                                     .retry_period = absl::Seconds(2)})
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateElectionOptions({.identity = "a",
                                     .lease_duration = absl::Seconds(2),
                                     .renew_deadline = absl::Seconds(1.5),
                                     .retry_period = absl::Seconds(0.25)})
                .code(),
            absl::StatusCode::kOk);
}

}  // namespace
}  // namespace ballast::state
