#include "ballast/server/target_metrics.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <iterator>

#include "ballast/engine/engine.h"

namespace ballast::server {
namespace {

using store::InputValue;
using store::Snapshot;
using store::TargetState;

constexpr engine::Limit kLimits[] = {
    engine::Limit::kNone,
    engine::Limit::kTolerance,
    engine::Limit::kScaleUpStabilization,
    engine::Limit::kScaleDownStabilization,
    engine::Limit::kScaleUpPolicy,
    engine::Limit::kScaleDownPolicy,
    engine::Limit::kMinReplicas,
    engine::Limit::kMaxReplicas,
    engine::Limit::kFallback,
    engine::Limit::kMissingData,
    engine::Limit::kScalingDisabled,
    engine::Limit::kTrend,
    engine::Limit::kBurst,
    engine::Limit::kScaleDownMinChange,
    engine::Limit::kActivation,
};
// Every reason the engine can give is counted.
static_assert(std::size(kLimits) ==
              static_cast<size_t>(engine::Limit::kActivation) + 1);

// The snapshot's fields this file reads, in one place (the store's types
// may change their ownership, not their meaning).
const engine::Recommendation* LatestOf(const TargetState& t) {
  return t.latest ? &*t.latest : nullptr;
}
const std::vector<InputValue>& InputsOf(const TargetState& t) {
  return t.inputs;
}

// As prometheus-cpp's text serializer writes values: 16 significant digits,
// "Nan", "+Inf", "-Inf".
void AppendValue(double v, std::string& out) {
  if (std::isnan(v)) {
    out += "Nan";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else {
    std::array<char, 32> buf;
    const std::to_chars_result r = std::to_chars(
        buf.data(), buf.data() + buf.size(), v, std::chars_format::general, 16);
    out.append(buf.data(), r.ptr);
  }
}
void AppendValue(int64_t v, std::string& out) {
  std::array<char, 24> buf;
  const std::to_chars_result r =
      std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.append(buf.data(), r.ptr);
}

// A label value escaped as the exposition format asks: \\, \", \n.
void AppendLabelValue(std::string_view value, std::string& out) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void AppendHeader(std::string_view name, std::string_view help,
                  std::string& out) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += " gauge\n";
}

// `name{target="t"} value` (the `{` and the label included in `prefix`).
template <typename V>
void AppendTargetSample(std::string_view prefix, std::string_view target,
                        V value, std::string& out) {
  out += prefix;
  AppendLabelValue(target, out);
  out += "\"} ";
  AppendValue(value, out);
  out += '\n';
}

double Seconds(absl::Duration d) {
  return std::max(0.0, absl::ToDoubleSeconds(d));
}

}  // namespace

void CurrentReplicasTimes::Set(absl::string_view target,
                               std::optional<absl::Time> sampled_at) {
  absl::MutexLock lock(&mu_);
  if (!sampled_at) {
    times_.erase(target);
    return;
  }
  auto it = times_.find(target);
  if (it == times_.end()) {
    times_.emplace(std::string(target), *sampled_at);
  } else {
    it->second = *sampled_at;
  }
}

void CurrentReplicasTimes::Forget(absl::string_view target) {
  absl::MutexLock lock(&mu_);
  times_.erase(target);
}

std::optional<absl::Time> CurrentReplicasTimes::Find(
    absl::string_view target) const {
  absl::MutexLock lock(&mu_);
  auto it = times_.find(target);
  if (it == times_.end()) return std::nullopt;
  return it->second;
}

std::optional<absl::Time> CurrentReplicasTimes::Oldest() const {
  absl::MutexLock lock(&mu_);
  std::optional<absl::Time> oldest;
  for (const auto& [target, t] : times_) {
    if (!oldest || t < *oldest) oldest = t;
  }
  return oldest;
}

void AppendTargetMetrics(const Snapshot& snapshot,
                         const TargetMetricsOptions& options,
                         std::string& out) {
  const absl::Time now = snapshot.time;
  // Fleet-wide counts, one pass.
  std::array<int64_t, std::size(kLimits)> by_limit{};
  int64_t failing = 0;
  std::optional<absl::Time> oldest_input;
  // A little more than the body will take (the fixed text of each line,
  // the names, 20 characters a number), so that it is allocated once.
  size_t summary_bytes = 0, full_bytes = 0;
  for (const auto& [name, target] : snapshot.targets) {
    if (const engine::Recommendation* latest = LatestOf(target)) {
      ++by_limit[static_cast<size_t>(latest->limited_by)];
    }
    summary_bytes += 120 + 2 * name.size();
    full_bytes += 200 + 3 * name.size();
    bool target_failing = false;
    for (const InputValue& input : InputsOf(target)) {
      if (input.consecutive_failures > 0) target_failing = true;
      if (input.value && (!oldest_input || input.sampled_at < *oldest_input)) {
        oldest_input = input.sampled_at;
      }
      full_bytes += 140 + 2 * (input.name.size() + name.size());
    }
    if (target_failing) ++failing;
  }

  const size_t targets = snapshot.targets.size();
  out.reserve(out.size() + 4096 +
              (options.detail == TargetMetrics::kNone ? 0 : summary_bytes) +
              (options.detail == TargetMetrics::kFull ? full_bytes : 0));

  AppendHeader("ballast_targets", "Targets in the served snapshot", out);
  out += "ballast_targets ";
  AppendValue(static_cast<int64_t>(targets), out);
  out += '\n';
  AppendHeader("ballast_targets_limited_by",
               "Targets whose latest recommendation this reason limited", out);
  for (const engine::Limit limit : kLimits) {
    out += "ballast_targets_limited_by{reason=\"";
    out += engine::LimitName(limit);
    out += "\"} ";
    AppendValue(by_limit[static_cast<size_t>(limit)], out);
    out += '\n';
  }
  AppendHeader("ballast_targets_with_failing_input",
               "Targets with an input whose latest read failed", out);
  out += "ballast_targets_with_failing_input ";
  AppendValue(failing, out);
  out += '\n';
  AppendHeader("ballast_input_age_max_seconds",
               "Seconds since the last good read of the input read longest "
               "ago, over every target",
               out);
  if (oldest_input) {
    out += "ballast_input_age_max_seconds ";
    AppendValue(Seconds(now - *oldest_input), out);
    out += '\n';
  }
  AppendHeader("ballast_current_replicas_age_max_seconds",
               "Seconds since the last good read of the current replica "
               "count read longest ago, over every target",
               out);
  if (options.current_replicas != nullptr) {
    if (std::optional<absl::Time> oldest = options.current_replicas->Oldest()) {
      out += "ballast_current_replicas_age_max_seconds ";
      AppendValue(Seconds(now - *oldest), out);
      out += '\n';
    }
  }

  if (options.detail == TargetMetrics::kNone) return;

  AppendHeader("ballast_recommended_replicas",
               "The replica count ballast recommends", out);
  for (const auto& [name, target] : snapshot.targets) {
    if (const engine::Recommendation* latest = LatestOf(target)) {
      AppendTargetSample("ballast_recommended_replicas{target=\"", name,
                         int64_t{latest->replicas}, out);
    }
  }
  AppendHeader("ballast_limited_by",
               "1, with the reason that limited the latest recommendation",
               out);
  for (const auto& [name, target] : snapshot.targets) {
    if (const engine::Recommendation* latest = LatestOf(target)) {
      out += "ballast_limited_by{reason=\"";
      out += engine::LimitName(latest->limited_by);
      out += "\",target=\"";
      AppendLabelValue(name, out);
      out += "\"} 1\n";
    }
  }

  if (options.detail != TargetMetrics::kFull) return;

  AppendHeader("ballast_desired_replicas",
               "The combined proposal of the inputs, before stabilization "
               "windows and rate policies",
               out);
  for (const auto& [name, target] : snapshot.targets) {
    if (const engine::Recommendation* latest = LatestOf(target)) {
      AppendTargetSample("ballast_desired_replicas{target=\"", name,
                         int64_t{latest->desired}, out);
    }
  }
  AppendHeader("ballast_current_replicas",
               "The replica count the engine started from", out);
  for (const auto& [name, target] : snapshot.targets) {
    if (const engine::Recommendation* latest = LatestOf(target)) {
      AppendTargetSample("ballast_current_replicas{target=\"", name,
                         int64_t{latest->current_replicas}, out);
    }
  }
  AppendHeader("ballast_current_replicas_age_seconds",
               "Seconds since the current replica count's last good read "
               "(Kubernetes or Prometheus)",
               out);
  if (options.current_replicas != nullptr) {
    for (const auto& [name, target] : snapshot.targets) {
      if (std::optional<absl::Time> t = options.current_replicas->Find(name)) {
        AppendTargetSample("ballast_current_replicas_age_seconds{target=\"",
                           name, Seconds(now - *t), out);
      }
    }
  }
  // No series before an input's first good read: a 0 would read as a fresh
  // zero on a dashboard.
  AppendHeader("ballast_input_value", "The last good value read for an input",
               out);
  for (const auto& [name, target] : snapshot.targets) {
    for (const InputValue& input : InputsOf(target)) {
      if (!input.value) continue;
      out += "ballast_input_value{input=\"";
      AppendLabelValue(input.name, out);
      out += "\",target=\"";
      AppendLabelValue(name, out);
      out += "\"} ";
      AppendValue(*input.value, out);
      out += '\n';
    }
  }
  AppendHeader("ballast_input_age_seconds",
               "Seconds since the input's last good read", out);
  for (const auto& [name, target] : snapshot.targets) {
    for (const InputValue& input : InputsOf(target)) {
      if (!input.value) continue;
      out += "ballast_input_age_seconds{input=\"";
      AppendLabelValue(input.name, out);
      out += "\",target=\"";
      AppendLabelValue(name, out);
      out += "\"} ";
      AppendValue(Seconds(now - input.sampled_at), out);
      out += '\n';
    }
  }
}

}  // namespace ballast::server
