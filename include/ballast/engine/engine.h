// ballast/engine/engine.h
//
// The recommendation engine: a pure function from (target spec, history, this
// tick's readings) to (recommendation, new history). No I/O, clocks or
// threads: time is an argument, so the daemon, `ballast simulate` and the
// tests all run exactly the same arithmetic.
//
//   TargetHistory history;  // empty for a new target
//   TickInput in{.now = absl::FromUnixSeconds(1000),
//                .current_replicas = 3,
//                .inputs = {InputReading::Value(42.0)}};
//   TickResult r = Tick(spec, std::move(history), in);
//   // r.recommendation.replicas, r.recommendation.limited_by
//   history = std::move(r.history);
//
// Semantics: Kubernetes' HPA (autoscaling/v2) for tolerance, max over inputs,
// behavior stabilization windows and rate policies, min/max clamping; plus
// per-input smoothing, hold-on-missing-data and KEDA-style fallback. A target
// in HPA mode (TargetSpec::mode) gets the controller's decisions exactly,
// bookkeeping and Quantity arithmetic included. See README.md "Engine
// semantics" for the exact rules and where ballast's mode differs.
#ifndef BALLAST_ENGINE_ENGINE_H_
#define BALLAST_ENGINE_ENGINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ballast/core/ring_deque.h"
#include "ballast/core/target_spec.h"

namespace ballast::engine {

// What decided the final replica count. The names (LimitName) are part of
// the public surface: they appear in logs, the API and simulate's output.
enum class Limit {
  kNone,
  kTolerance,
  kScaleUpStabilization,
  kScaleDownStabilization,
  kScaleUpPolicy,
  kScaleDownPolicy,
  kMinReplicas,
  kMaxReplicas,
  kFallback,
  kMissingData,
  // HPA mode: the current count is 0 and minReplicas > 0, which the HPA
  // reads as "scaling is disabled" and leaves alone.
  kScalingDisabled,
  // ballast mode: an input's trend (Trend) raised the proposal that won.
  kTrend,
  // ballast mode: burst mode (Burst) raised the count past the windows and
  // policies, or kept it from falling.
  kBurst,
  // ballast mode: a scale-down smaller than behavior.scaleDown.minChange*.
  kScaleDownMinChange,
  // ballast mode, minReplicas 0: no input above its activation made the
  // proposal 0, or an active one raised a proposal of 0 to 1.
  kActivation,
};
std::string_view LimitName(Limit limit);  // "none", "scaleUpPolicy", ...
// The Limit whose LimitName is `name` (exact, case-sensitive); nullopt for
// any other string.
std::optional<Limit> ParseLimitName(std::string_view name);

// One input's reading for this tick: a value, or the reason there is none.
struct InputReading {
  std::optional<double> value;
  absl::Status error;  // set iff !value

  static InputReading Value(double v) { return {v, absl::OkStatus()}; }
  static InputReading Missing(absl::Status why) { return {std::nullopt, why}; }
};

struct TickInput {
  absl::Time now;
  // The workload's replica count as observed (the scale subresource's
  // spec.replicas, a PromQL answer). nullopt: assume it follows ballast, i.e.
  // the previous recommendation, or at first the spec's initial replicas,
  // else minReplicas. It feeds the HPA arithmetic (tolerance, Value
  // targets); windows and rate policies start from ballast's previous
  // recommendation once there is one. On a target's first tick (empty
  // history) it also seeds the stabilization windows (in both modes).
  std::optional<int32_t> current_replicas;
  // Ready pods, if known (HPA mode: a Value target scales the ready count,
  // as replica_calculator.go's getUsageRatioReplicaCount). nullopt: the
  // current count.
  std::optional<int32_t> ready_replicas;
  // One per spec.inputs, same order. A missing or non-finite value is missing
  // data for this tick.
  std::vector<InputReading> inputs;
};

struct InputExplanation {
  std::string name;
  std::optional<double> raw;        // this tick's reading
  std::optional<double> smoothed;   // value used for the proposal
  std::optional<int32_t> proposal;  // after tolerance; nullopt if unusable
  // ceil(...) before the tolerance test; equals proposal unless the input
  // was within tolerance.
  std::optional<int32_t> untolerated_proposal;
  bool within_tolerance = false;
  bool fallback = false;  // proposal is fallback.replicas
  // Trend: the value expected horizonSeconds ahead (when a rising trend was
  // fitted), and whether it raised the proposal.
  std::optional<double> predicted;
  bool trend = false;
  // Drain: the per-replica throughput measured so far (units of the value
  // per second), and whether the proposal is the drain rule's.
  std::optional<double> throughput;
  bool drain = false;
  // Scale to zero (minReplicas 0, ballast mode): whether the reading is
  // above the input's activation (a fallback proposal above 0 is active);
  // nullopt when the rule does not apply or there is no reading.
  std::optional<bool> active;
  int32_t consecutive_failures = 0;
  std::string error;  // why raw is missing; empty when it is present

  bool operator==(const InputExplanation&) const = default;
};

struct Recommendation {
  absl::Time time;
  int32_t current_replicas = 0;  // as observed (TickInput::current_replicas)
  int32_t desired = 0;           // combined proposal before windows/policies
  int32_t replicas = 0;          // the recommendation
  Limit limited_by = Limit::kNone;
  bool burst = false;  // burst mode is on after this tick
  std::vector<InputExplanation> inputs;

  bool operator==(const Recommendation&) const = default;
};

struct TimedReplicas {
  absl::Time time;
  int32_t replicas;

  bool operator==(const TimedReplicas&) const = default;
};

// One raw reading, with the ready replicas of its tick.
struct RawSample {
  absl::Time time;
  double value = 0;
  int32_t ready = 0;

  bool operator==(const RawSample&) const = default;
};

// Per-input smoothing and failure state.
struct InputState {
  std::optional<double> ewma;
  absl::Time ewma_time;
  core::RingDeque<std::pair<absl::Time, double>> window;  // quantile samples
  int32_t consecutive_failures = 0;
  // Raw samples for trend, drain and burst: those of the longest of their
  // windows, and at least the latest.
  core::RingDeque<RawSample> raw;
  // Drain: per-replica drain rates observed when the value fell, within
  // throughput_window_seconds, and the estimate (their maximum; kept when
  // the window empties).
  core::RingDeque<std::pair<absl::Time, double>> drain_rates;
  std::optional<double> throughput;

  bool operator==(const InputState&) const = default;
};

// A scale event as the HPA controller keeps it (timestampedScaleEvent).
struct HpaScaleEvent {
  absl::Time time;
  int32_t replicas = 0;  // replicas added (up list) or removed (down list)
  bool outdated = false;

  bool operator==(const HpaScaleEvent&) const = default;
};

// The HPA controller's memory of one HPA (HPA mode), kept as horizontal.go
// keeps it: a slot that has aged out is reused, not removed.
struct HpaState {
  // Unstabilized recommendations; empty until the first sync, which records
  // the current count (recordInitialRecommendation).
  std::vector<TimedReplicas> recommendations;
  std::vector<HpaScaleEvent> scale_up_events;
  std::vector<HpaScaleEvent> scale_down_events;

  bool operator==(const HpaState&) const = default;
};

// Everything the engine remembers between ticks of one target. Bounded: no
// entry is older than the longest window or policy period of the spec.
struct TargetHistory {
  std::optional<int32_t> last_recommendation;
  // Desired per tick (stabilization), after the first tick's seed: with no
  // last_recommendation and no proposals, a tick first records the
  // observed count at its `now`, as the HPA controller's first sync
  // (recordInitialRecommendation), so a restart waits out the windows.
  core::RingDeque<TimedReplicas> proposals;
  core::RingDeque<TimedReplicas> scale_up_events;    // replicas added
  core::RingDeque<TimedReplicas> scale_down_events;  // replicas removed (> 0)
  std::vector<InputState> inputs;  // resized to spec.inputs on each tick
  // Burst mode: when its threshold was last crossed (nullopt: not in burst)
  // and the highest burst proposal since it began.
  std::optional<absl::Time> burst_triggered;
  int32_t burst_peak = 0;
  HpaState hpa;  // HPA mode only

  bool operator==(const TargetHistory&) const = default;
};

struct TickResult {
  Recommendation recommendation;
  TargetHistory history;
};

// Runs one tick in the spec's mode (TargetSpec::mode). `spec` must be valid (as
// the config loader guarantees: min <= max, targets > 0, one reading per
// input). Ticks of one target must come with non-decreasing `now`. Cost:
// O(inputs + window and period sizes).
TickResult Tick(const TargetSpec& spec, TargetHistory history,
                const TickInput& in);

// A spec with the plain Kubernetes HPA defaults over the same inputs, in HPA
// mode: no smoothing, no fallback, tolerance 0.1, no `behavior` (legacy
// rule). Used by `ballast simulate --baseline hpa`.
TargetSpec PlainHpaSpec(const TargetSpec& spec);

}  // namespace ballast::engine

#endif  // BALLAST_ENGINE_ENGINE_H_
