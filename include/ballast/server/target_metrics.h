// ballast/server/target_metrics.h
//
// The per-target series of /metrics and the fleet-wide counts, written as
// Prometheus text (version 0.0.4) straight from a store::Snapshot when
// /metrics is scraped. A tick sets no per-target gauge and nothing is kept
// per target between scrapes (prometheus-cpp's gauges cost ~6 KB a target
// and a scrape of 10,000 targets 0.3 s).
//
//   CurrentReplicasTimes current;  // the control loop's observer fills it
//   current.Set("asr-worker", sampled_at);
//   std::string body = prometheus::TextSerializer().Serialize(families);
//   AppendTargetMetrics(*store.Current(),
//                       {.detail = TargetMetrics::kSummary,
//                        .current_replicas = &current},
//                       body);
//
// The families (names, labels, HELP and TYPE as the gauges had them; labels
// in name order, as prometheus-cpp writes them):
//   every mode, fleet-wide:
//     ballast_targets                              targets in the snapshot
//     ballast_targets_limited_by{reason}           every Limit, 0 included
//     ballast_targets_with_failing_input           latest read failed
//     ballast_input_age_max_seconds                oldest held input value
//     ballast_current_replicas_age_max_seconds     oldest held current count
//   summary and full, per target with a recommendation:
//     ballast_recommended_replicas{target}
//     ballast_limited_by{reason,target} 1          only the active reason
//   full only:
//     ballast_desired_replicas{target}, ballast_current_replicas{target},
//     ballast_current_replicas_age_seconds{target} (while a count is held),
//     ballast_input_value{input,target}, ballast_input_age_seconds{...}
//     (inputs with a good read)
// Ages are as of the snapshot's time (the tick that computed it), as the
// gauges set at each tick were.
#ifndef BALLAST_SERVER_TARGET_METRICS_H_
#define BALLAST_SERVER_TARGET_METRICS_H_

#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/store/recommendation_store.h"

namespace ballast::server {

using TargetMetrics = config::TelemetryServerConfig::TargetMetrics;

// When each target's held currentReplicas count was read: the control loop
// knows it, the snapshot does not carry it. Thread-safe: the loop's strand
// writes, scrapes read.
class CurrentReplicasTimes {
 public:
  // `sampled_at` nullopt: no count is held (the target's series goes).
  void Set(absl::string_view target, std::optional<absl::Time> sampled_at);
  void Forget(absl::string_view target);
  std::optional<absl::Time> Find(absl::string_view target) const;
  // The earliest time held; nullopt when none is.
  std::optional<absl::Time> Oldest() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, absl::Time> times_ ABSL_GUARDED_BY(mu_);
};

struct TargetMetricsOptions {
  TargetMetrics detail = TargetMetrics::kSummary;
  // Null: no current replica ages.
  const CurrentReplicasTimes* current_replicas = nullptr;
};

// Appends the families above to `out`, each once, whole (none of them may
// be in the registries the caller serialized before).
void AppendTargetMetrics(const store::Snapshot& snapshot,
                         const TargetMetricsOptions& options, std::string& out);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_TARGET_METRICS_H_
