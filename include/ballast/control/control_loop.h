// ballast/control/control_loop.h
//
// The per-target control loop of `ballast serve`, without servers, sockets
// or timers: each tick it polls a Source at the injected clock's time, feeds
// each target's readings to the engine, keeps the last good value of every
// input (with when it was read, and how many polls failed since) and the
// last good currentReplicas, and publishes one store::Snapshot. A reload
// (Apply) keeps each target's history by target name and each input's
// smoothing state and held value by input name.
//
//   ControlLoop loop({.history = 20, .clock = MonotonicNow,
//                     .post = [&](auto task) { asio::post(strand, ...); }},
//                    store, observer);
//   loop.Apply(config, source);  // at start and on each reload
//   loop.Tick();                 // every pollIntervalSeconds
//   loop.Stop();                 // later poll results are dropped
//
// The daemon runs it on a strand with the Poller (poller.h) as its Source;
// tests run it inline with a fake Source and a fake clock.
//
// Thread-safety: every method must be called on the loop's serial executor
// (`post`); the Source's callback may run on any thread, the loop hands its
// result to `post`.
#ifndef BALLAST_CONTROL_CONTROL_LOOP_H_
#define BALLAST_CONTROL_CONTROL_LOOP_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/control/readings.h"
#include "ballast/core/clock.h"
#include "ballast/engine/engine.h"
#include "ballast/state/record.h"
#include "ballast/store/recommendation_store.h"

namespace ballast::control {

enum class Severity { kInfo, kWarn };
using LogFields = std::vector<std::pair<std::string, std::string>>;

// What the loop tells the outside: its log lines and what its metrics need.
// Called on the loop's executor.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void Log(Severity severity, absl::string_view message,
                   const LogFields& fields) = 0;
  // Each Tick(): skipped when the previous poll was still running.
  virtual void Ticked(bool skipped) = 0;
  // Each poll result the loop uses.
  virtual void Polled(const control::PollResult& result) = 0;
  // Each target of each published snapshot; `current_sampled_at` is when its
  // held currentReplicas was read (nullopt: none held).
  virtual void Published(const store::TargetState& state,
                         std::optional<absl::Time> current_sampled_at,
                         absl::Time now) = 0;
  // A target that a reload removed.
  virtual void Removed(const std::string& target) = 0;
};

struct ControlLoopOptions {
  // The last N recommendations kept per target for `ballast explain`.
  int history = 20;
  // The engine's time, inputs' ages and snapshot times (monotonic in
  // production).
  Clock clock = MonotonicNow;
  // Runs `task` on the loop's serial executor (the daemon's strand). Tests
  // run it at once.
  std::function<void(absl::AnyInvocable<void()>)> post;
  // Called on the executor after each poll's snapshot is published (the
  // daemon writes the state store then).
  std::function<void()> after_tick;
};

class ControlLoop {
 public:
  ControlLoop(ControlLoopOptions options, store::RecommendationStore& store,
              Observer& observer);
  ControlLoop(const ControlLoop&) = delete;
  ControlLoop& operator=(const ControlLoop&) = delete;

  // Swaps in a config and the source made for it: runtimes are kept by
  // target name (and per-input state by input name), a removed target is
  // forgotten, a currentReplicas count is not held across it, and a poll
  // still running for the previous config is dropped when it ends.
  void Apply(std::shared_ptr<const config::Config> config,
             std::shared_ptr<Source> source);

  // Starts one poll at clock(), within TickBudget(), unless the previous one
  // is still running (then the tick is skipped, counted and logged). When the
  // poll ends, its result runs the engine for every target and publishes a
  // snapshot (on the executor). Requires Apply.
  void Tick();

  // Publishes the current state (as after a reload) without polling, as
  // computed at `time` (default: now) by `computed_by` (default: this
  // loop's identity).
  void PublishSnapshot(std::optional<absl::Time> time = std::nullopt,
                       std::optional<std::string> computed_by = std::nullopt);

  // The state of every target of the config, as the state store keeps it:
  // copies, or each in place (config order) for a writer that encodes it.
  std::vector<state::TargetRecord> Records() const;
  void ForEachRecord(
      absl::FunctionRef<void(const state::TargetRecord&)> visit) const;

  // Replaces the state of each target of the config that has a record in
  // `records` (a restart, a new leader, a follower following): its history
  // continues from the record, inputs matched by name. A record of a target
  // whose mode changed is not used (the target starts seeded, as new); a
  // record of a target not in the config is ignored. Returns the names of
  // the records not used because incompatible.
  std::vector<std::string> Restore(std::vector<state::TargetRecord> records);

  // No more polls; results of running ones are dropped. The source is
  // released with the loop.
  void Stop();

  // The name this loop's own snapshots carry (Snapshot::computed_by): the
  // replica's identity when replicas share a state store.
  void set_identity(std::string identity) { identity_ = std::move(identity); }

  // The config last applied; requires Apply.
  const config::Config& config() const { return *config_; }
  // A tick ends within 90 % of the poll interval, so that a source slower
  // than the poll holds back only its own readings and the next tick still
  // starts on time.
  absl::Duration TickBudget() const;
  bool polling() const { return polling_; }

 private:
  // Everything the loop keeps per target between ticks: what the state
  // store persists (state::TargetRecord; `target` and `mode` filled when a
  // record is made).
  using TargetRuntime = state::TargetRecord;

  // The index of target `name` in config_->targets (and runtimes_).
  std::optional<size_t> FindTarget(absl::string_view name) const;
  // Keeps each input's state and held value under its name (the names of
  // runtime.inputs) when inputs are reordered, added or removed.
  static void RemapInputs(const TargetSpec& spec, TargetRuntime& runtime);
  void OnPoll(const control::PollResult& result);
  void TickTarget(const TargetSpec& spec, const control::TargetReadings& r,
                  absl::Time now, TargetRuntime& runtime);

  const ControlLoopOptions options_;
  store::RecommendationStore& store_;
  Observer& observer_;

  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<Source> source_;
  uint64_t config_generation_ = 0;
  // One per config_->targets, same order; index_ finds one by name.
  std::vector<TargetRuntime> runtimes_;
  absl::flat_hash_map<std::string, size_t> index_;
  bool polling_ = false;
  bool stopped_ = false;
  std::string identity_;
};

}  // namespace ballast::control

#endif  // BALLAST_CONTROL_CONTROL_LOOP_H_
