// ballast/core/target_spec.h
//
// The scaling policy of one target as plain values: what the engine needs to
// turn input values into a replica recommendation. It carries no source
// details (queries, Redis addresses): those belong to the config module.
//
//   TargetSpec spec;
//   spec.name = "asr-worker";
//   spec.min_replicas = 2;
//   spec.max_replicas = 40;
//   spec.inputs.push_back({.name = "backlog",
//                          .target_type = TargetType::kAverageValue,
//                          .target = 30});
//   spec.behavior = Behavior::Defaults();  // or std::nullopt: legacy HPA rule
//
// Field names follow Kubernetes' autoscaling/v2 where it has the concept.
#ifndef BALLAST_CORE_TARGET_SPEC_H_
#define BALLAST_CORE_TARGET_SPEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ballast {

// How an input's value is compared with its target (HPA MetricTarget types).
enum class TargetType {
  kAverageValue,  // per-replica capacity: proposal = ceil(v / target)
  kValue,         // a level to hold: proposal = ceil(current * v / target)
};

enum class PolicyType { kPods, kPercent };
enum class SelectPolicy { kMax, kMin, kDisabled };

std::string_view PolicyTypeName(PolicyType type);        // "Pods", "Percent"
std::string_view SelectPolicyName(SelectPolicy select);  // "Max", "Min", ...

// One HPAScalingPolicy: at most `value` pods (or percent) per `period_seconds`.
struct ScalingPolicy {
  PolicyType type = PolicyType::kPods;
  int32_t value = 0;           // > 0
  int32_t period_seconds = 0;  // 1..1800
};

// HPAScalingRules for one direction. Always fully defaulted once built by the
// config loader or by Behavior::Defaults().
struct ScalingRules {
  int32_t stabilization_window_seconds = 0;  // 0..3600
  SelectPolicy select_policy = SelectPolicy::kMax;
  std::vector<ScalingPolicy> policies;
  // HPAScalingRules.tolerance (KEP-4951): the tolerance of this direction;
  // nullopt: TargetSpec::tolerance (the controller-wide value).
  std::optional<double> tolerance;
  // Scale-down only (ballast's `minChangePods`, `minChangeRatio`): no
  // scale-down unless the stabilized goal lies at least
  // max(min_change_pods, ceil(min_change_ratio * current)) below the current
  // count (at most the distance to minReplicas). 0: any change.
  int32_t min_change_pods = 0;  // >= 0
  double min_change_ratio = 0;  // [0, 1)
};

// Burst mode (Knative's panic mode): a short window of the raw values; when
// its proposal reaches `threshold` x the current count, jump to it past the
// scale-up window and policies (not past maxReplicas) and scale down no
// more until `stable_window_seconds` pass without crossing the threshold.
struct Burst {
  double threshold = 2.0;              // > 1
  double window_seconds = 6;           // >= 0; this tick's raw value at least
  int32_t stable_window_seconds = 60;  // 1..3600
  std::vector<std::string> inputs;     // the inputs it watches; empty: all
};

// autoscaling/v2 HorizontalPodAutoscalerBehavior.
struct Behavior {
  ScalingRules scale_up;
  ScalingRules scale_down;
  std::optional<Burst> burst;  // ballast mode only

  // Kubernetes' defaults: up 0 s window, Max of {4 Pods/15 s, 100 %/15 s};
  // down 300 s window, {100 %/15 s}.
  static Behavior Defaults();
  static ScalingRules DefaultScaleUp();
  static ScalingRules DefaultScaleDown();
};

// Smoothing of an input's raw value before its proposal.
struct Smoothing {
  enum class Kind { kNone, kEwma, kQuantile };
  Kind kind = Kind::kNone;
  // kEwma: the weight of a sample halves every half_life_seconds.
  double half_life_seconds = 0;
  // kQuantile: the `quantile` (0..1, linear interpolation between ranks) of
  // the samples in the last window_seconds (the current one included).
  double quantile = 0;
  double window_seconds = 0;
};

// A service-level objective on an input, used by `ballast simulate` to count
// violation time. Either bound may be absent.
struct Slo {
  std::optional<double> max;              // value above this is a violation
  std::optional<double> max_per_replica;  // value / ready replicas above this
};

// Trend-aware scale-up: a least-squares line through the raw samples of the
// last window_seconds, read horizon_seconds ahead; it may only raise the
// input's proposal above the current count, never lower it.
struct Trend {
  double horizon_seconds = 0;  // > 0, e.g. the pods' start-up time
  double window_seconds = 60;  // > 0; needs two samples or more
};

// Queue drain target (averageValue inputs, e.g. a Celery backlog): replicas
// to drain the backlog within `seconds` at the measured per-replica
// throughput; averageValue's rule until a throughput is measured.
struct Drain {
  double seconds = 0;                      // > 0
  double window_seconds = 60;              // the backlog's slope; > 0
  double throughput_window_seconds = 600;  // drain observations kept; > 0
};

struct InputSpec {
  std::string name;
  TargetType target_type = TargetType::kAverageValue;
  double target = 0;  // averageValue or value; > 0
  Smoothing smoothing;
  Slo slo;
  std::optional<Trend> trend;  // ballast mode only
  std::optional<Drain> drain;  // ballast mode only; averageValue only
  // Scale to zero (ballast mode, minReplicas 0), KEDA's activation rule: the
  // input is active while its reading is above this value. With no input
  // active the target's proposal is 0; with one active, at least 1.
  double activation = 0;
};

// KEDA's fallback.behavior (2.17+): which count a failing input proposes.
enum class FallbackBehavior {
  kStatic,                   // fallback.replicas
  kCurrentReplicas,          // the workload's current count
  kCurrentReplicasIfHigher,  // max(current, fallback.replicas)
  kCurrentReplicasIfLower,   // min(current, fallback.replicas)
};
std::string_view FallbackBehaviorName(FallbackBehavior b);  // "static", ...

struct Fallback {
  // Consecutive failed polls of an input allowed before fallback applies:
  // fallback is used once failures exceed this number (KEDA's rule).
  int32_t failure_threshold = 3;
  int32_t replicas = 0;
  FallbackBehavior behavior = FallbackBehavior::kStatic;
};

// Whose semantics the engine follows for a target.
enum class Mode {
  // ballast's: windows and policies run on ballast's own recommendation
  // series; the observed count feeds the arithmetic (README, "Where ballast
  // differs from the HPA").
  kBallast,
  // The Kubernetes HPA controller's, decision by decision (horizontal.go,
  // replica_calculator.go of Kubernetes 1.35), with KEDA's fallback.
  kHpa,
};
std::string_view ModeName(Mode mode);  // "ballast", "hpa"

struct TargetSpec {
  std::string name;
  Mode mode = Mode::kBallast;
  int32_t min_replicas = 1;
  int32_t max_replicas = 1;
  // Replicas assumed before anything is observed (currentReplicas.static, or
  // min_replicas when the config does not give it).
  std::optional<int32_t> initial_replicas;
  // The controller-wide tolerance (kube-controller-manager's
  // --horizontal-pod-autoscaler-tolerance), for both directions unless
  // behavior.scaleUp/scaleDown.tolerance says otherwise.
  double tolerance = 0.1;
  std::vector<InputSpec> inputs;
  // nullopt: no `behavior` in the config, so Kubernetes' legacy rule applies
  // (scale-down stabilization over legacy_downscale_window_seconds, scale-up
  // limited to max(2 * current, 4) per tick).
  std::optional<Behavior> behavior;
  int32_t legacy_downscale_window_seconds = 300;
  std::optional<Fallback> fallback;
};

}  // namespace ballast

#endif  // BALLAST_CORE_TARGET_SPEC_H_
