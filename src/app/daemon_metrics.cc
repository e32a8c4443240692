#include "daemon_metrics.h"

#include <algorithm>

#include "ballast/version.h"

namespace ballast::app {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

}  // namespace

DaemonMetrics::DaemonMetrics(prometheus::Registry& registry)
    : poll_duration_(BuildHistogram()
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
