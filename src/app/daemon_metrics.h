// src/app/daemon_metrics.h
//
// The daemon's own metric families (per source, ticks, reloads, build
// info), registered in the registry that /metrics renders. The servers
// register theirs where they are built. The per-target series are not
// gauges: /metrics writes them from the snapshot it serves
// (server/target_metrics.h); this keeps only what the snapshot lacks, when
// each held currentReplicas count was read.
//
//   DaemonMetrics metrics(registry);
//   metrics.ObserveCurrentReplicas("asr-worker", sampled_at);
//   metrics.ObservePoll(result);
//   metrics.ForgetTarget("old-target");  // after a reload removed it
//   TelemetryServer::Start(..., &metrics.current_replicas());
//
// Not thread-safe but for current_replicas(): the daemon calls it from its
// state strand.
#ifndef BALLAST_SRC_APP_DAEMON_METRICS_H_
#define BALLAST_SRC_APP_DAEMON_METRICS_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/control/poller.h"
#include "ballast/server/target_metrics.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::app {

class DaemonMetrics {
 public:
  explicit DaemonMetrics(prometheus::Registry& registry);

  // When a target's held current replica count was read (from Kubernetes
  // or Prometheus; nullopt: none held), for its age in /metrics.
  void ObserveCurrentReplicas(absl::string_view target,
                              std::optional<absl::Time> sampled_at) {
    current_replicas_.Set(target, sampled_at);
  }
  // Forgets a target that is no longer configured.
  void ForgetTarget(absl::string_view target) {
    current_replicas_.Forget(target);
  }
  // What /metrics reads the current replica ages from; thread-safe.
  const server::CurrentReplicasTimes& current_replicas() const {
    return current_replicas_;
  }
  // Per source: poll duration, reads and errors by kind.
  void ObservePoll(const control::PollResult& result);
  void CountTick(bool skipped);
  void CountReload(bool success, absl::Time now);
  // The served snapshot's age (0 before the first).
  void ObserveSnapshotAge(absl::Duration age);

 private:
  prometheus::Family<prometheus::Histogram>& poll_duration_;
  prometheus::Family<prometheus::Counter>& source_errors_;
  prometheus::Family<prometheus::Counter>& source_reads_;
  prometheus::Family<prometheus::Counter>& ticks_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Gauge& last_reload_success_;
  prometheus::Gauge& snapshot_age_;
  server::CurrentReplicasTimes current_replicas_;
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_DAEMON_METRICS_H_
