#include "daemon_metrics.h"

#include <algorithm>
#include <iterator>
#include <string_view>

#include "ballast/engine/engine.h"
#include "ballast/version.h"

namespace ballast::app {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

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
// Every reason the engine can give has its gauge.
static_assert(std::size(kLimits) ==
              static_cast<size_t>(engine::Limit::kActivation) + 1);

}  // namespace

DaemonMetrics::DaemonMetrics(prometheus::Registry& registry)
    : recommended_(BuildGauge()
                       .Name("ballast_recommended_replicas")
                       .Help("The replica count ballast recommends")
                       .Register(registry)),
      desired_(BuildGauge()
                   .Name("ballast_desired_replicas")
                   .Help("The combined proposal of the inputs, before "
                         "stabilization windows and rate policies")
                   .Register(registry)),
      current_(BuildGauge()
                   .Name("ballast_current_replicas")
                   .Help("The replica count the engine started from")
                   .Register(registry)),
      current_age_(BuildGauge()
                       .Name("ballast_current_replicas_age_seconds")
                       .Help("Seconds since the current replica count's last "
                             "good read (Kubernetes or Prometheus)")
                       .Register(registry)),
      input_value_(BuildGauge()
                       .Name("ballast_input_value")
                       .Help("The last good value read for an input")
                       .Register(registry)),
      input_age_(BuildGauge()
                     .Name("ballast_input_age_seconds")
                     .Help("Seconds since the input's last good read")
                     .Register(registry)),
      limited_by_(BuildGauge()
                      .Name("ballast_limited_by")
                      .Help("1 for what limited the latest recommendation, 0 "
                            "for the other reasons")
                      .Register(registry)),
      poll_duration_(BuildHistogram()
                         .Name("ballast_source_poll_duration_seconds")
                         .Help("Time for a source to answer one tick's reads")
                         .Register(registry)),
      source_errors_(BuildCounter()
                         .Name("ballast_source_errors_total")
                         .Help("Failed reads by source and error kind")
                         .Register(registry)),
      source_reads_(BuildCounter()
                        .Name("ballast_source_reads_total")
                        .Help("Reads by source, failed ones included")
                        .Register(registry)),
      ticks_(BuildCounter()
                 .Name("ballast_ticks_total")
                 .Help("Poll ticks, by whether they ran or were skipped "
                       "because the previous poll was still running")
                 .Register(registry)),
      reloads_(BuildCounter()
                   .Name("ballast_config_reloads_total")
                   .Help("Config reloads by result")
                   .Register(registry)),
      last_reload_success_(
          BuildGauge()
              .Name("ballast_config_last_reload_success_timestamp_seconds")
              .Help("When the running config was loaded")
              .Register(registry)
              .Add({})),
      snapshot_age_(BuildGauge()
                        .Name("ballast_snapshot_age_seconds")
                        .Help("Age of the snapshot this replica serves "
                              "(computed here, or read from the state "
                              "store), at its last tick")
                        .Register(registry)
                        .Add({})) {
  BuildGauge()
      .Name("ballast_build_info")
      .Help("ballast's version; always 1")
      .Register(registry)
      .Add({{"version", kVersion}})
      .Set(1);
}

DaemonMetrics::TargetSeries& DaemonMetrics::SeriesOf(const std::string& t) {
  auto it = targets_.find(t);
  if (it != targets_.end()) return it->second;
  TargetSeries s{
      .recommended = &recommended_.Add({{"target", t}}),
      .desired = &desired_.Add({{"target", t}}),
      .current = &current_.Add({{"target", t}}),
  };
  for (const engine::Limit limit : kLimits) {
    const std::string reason(engine::LimitName(limit));
    s.limited_by[reason] =
        &limited_by_.Add({{"target", t}, {"reason", reason}});
  }
  return targets_.emplace(t, std::move(s)).first->second;
}

void DaemonMetrics::ObserveTarget(const store::TargetState& state,
                                  absl::Time now) {
  const std::string& name = state.spec->name;
  TargetSeries& s = SeriesOf(name);
  for (const store::InputValue& input : state.inputs) {
    // No series before the input's first good read: a gauge created at 0
    // would read as a fresh zero on a dashboard.
    if (!input.value) continue;
    auto [value, added] = s.input_value.try_emplace(input.name, nullptr);
    if (added) {
      value->second =
          &input_value_.Add({{"target", name}, {"input", input.name}});
      s.input_age[input.name] =
          &input_age_.Add({{"target", name}, {"input", input.name}});
    }
    value->second->Set(*input.value);
    s.input_age[input.name]->Set(absl::ToDoubleSeconds(now - input.sampled_at));
  }
  if (!state.latest) return;
  s.recommended->Set(state.latest->replicas);
  s.desired->Set(state.latest->desired);
  s.current->Set(state.latest->current_replicas);
  const std::string_view active = engine::LimitName(state.latest->limited_by);
  for (auto& [reason, gauge] : s.limited_by)
    gauge->Set(reason == active ? 1 : 0);
}

void DaemonMetrics::ObserveCurrentReplicasAge(const std::string& target,
                                              absl::Time sampled_at,
                                              absl::Time now) {
  TargetSeries& s = SeriesOf(target);
  if (s.current_age == nullptr) {
    s.current_age = &current_age_.Add({{"target", target}});
  }
  s.current_age->Set(absl::ToDoubleSeconds(now - sampled_at));
}

void DaemonMetrics::ForgetTarget(const std::string& target) {
  auto it = targets_.find(target);
  if (it == targets_.end()) return;
  TargetSeries& s = it->second;
  recommended_.Remove(s.recommended);
  desired_.Remove(s.desired);
  current_.Remove(s.current);
  if (s.current_age != nullptr) current_age_.Remove(s.current_age);
  for (auto& [k, g] : s.input_value) input_value_.Remove(g);
  for (auto& [k, g] : s.input_age) input_age_.Remove(g);
  for (auto& [k, g] : s.limited_by) limited_by_.Remove(g);
  targets_.erase(it);
}

void DaemonMetrics::ObservePoll(const control::PollResult& result) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  for (const control::SourcePoll& s : result.sources) {
    const prometheus::Labels labels = {{"kind", s.kind}, {"source", s.name}};
    poll_duration_.Add(labels, kBuckets)
        .Observe(absl::ToDoubleSeconds(s.duration));
    source_reads_.Add(labels).Increment(s.reads);
    for (const std::string& kind : s.error_kinds) {
      source_errors_
          .Add({{"kind", s.kind}, {"source", s.name}, {"error", kind}})
          .Increment();
    }
  }
}

void DaemonMetrics::CountTick(bool skipped) {
  ticks_.Add({{"result", skipped ? "skipped" : "ran"}}).Increment();
}

void DaemonMetrics::ObserveSnapshotAge(absl::Duration age) {
  snapshot_age_.Set(std::max(0.0, absl::ToDoubleSeconds(age)));
}

void DaemonMetrics::CountReload(bool success, absl::Time now) {
  reloads_.Add({{"result", success ? "success" : "failure"}}).Increment();
  if (success)
    last_reload_success_.Set(absl::ToDoubleSeconds(now - absl::UnixEpoch()));
}

}  // namespace ballast::app
