#include "ballast/core/target_spec.h"

namespace ballast {

std::string_view PolicyTypeName(PolicyType type) {
  switch (type) {
    case PolicyType::kPods:
      return "Pods";
    case PolicyType::kPercent:
      return "Percent";
  }
  return "?";
}

std::string_view SelectPolicyName(SelectPolicy select) {
  switch (select) {
    case SelectPolicy::kMax:
      return "Max";
    case SelectPolicy::kMin:
      return "Min";
    case SelectPolicy::kDisabled:
      return "Disabled";
  }
  return "?";
}

ScalingRules Behavior::DefaultScaleUp() {
  return ScalingRules{
      .stabilization_window_seconds = 0,
      .select_policy = SelectPolicy::kMax,
      .policies = {{PolicyType::kPods, 4, 15}, {PolicyType::kPercent, 100, 15}},
  };
}

ScalingRules Behavior::DefaultScaleDown() {
  return ScalingRules{
      .stabilization_window_seconds = 300,
      .select_policy = SelectPolicy::kMax,
      .policies = {{PolicyType::kPercent, 100, 15}},
  };
}

Behavior Behavior::Defaults() {
  return Behavior{.scale_up = DefaultScaleUp(),
                  .scale_down = DefaultScaleDown()};
}

std::string_view FallbackBehaviorName(FallbackBehavior b) {
  switch (b) {
    case FallbackBehavior::kStatic:
      return "static";
    case FallbackBehavior::kCurrentReplicas:
      return "currentReplicas";
    case FallbackBehavior::kCurrentReplicasIfHigher:
      return "currentReplicasIfHigher";
    case FallbackBehavior::kCurrentReplicasIfLower:
      return "currentReplicasIfLower";
  }
  return "?";
}

std::string_view ModeName(Mode mode) {
  switch (mode) {
    case Mode::kBallast:
      return "ballast";
    case Mode::kHpa:
      return "hpa";
  }
  return "?";
}

}  // namespace ballast
