// src/app/daemon_metrics.h
//
// The daemon's own metric families (per target, per source, reloads, build
// info), registered in the registry that /metrics renders. The servers
// register theirs where they are built.
//
//   DaemonMetrics metrics(registry);
//   metrics.ObserveTarget(state, now);
//   metrics.ObservePoll(result);
//   metrics.ForgetTarget("old-target");  // after a reload removed it
//
// Not thread-safe: the daemon calls it from its state strand.
#ifndef BALLAST_SRC_APP_DAEMON_METRICS_H_
#define BALLAST_SRC_APP_DAEMON_METRICS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "ballast/control/poller.h"
#include "ballast/store/recommendation_store.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::app {

class DaemonMetrics {
 public:
  explicit DaemonMetrics(prometheus::Registry& registry);

  // Per target: recommendation, desired, current, each input's held value
  // and age, and which limit applied (1 for the active one, 0 for others).
  void ObserveTarget(const store::TargetState& state, absl::Time now);
  // The age of a target's last good current replica count (read from
  // Kubernetes or Prometheus; the count is ballast_current_replicas).
  void ObserveCurrentReplicasAge(const std::string& target,
                                 absl::Time sampled_at, absl::Time now);
  // Removes every series of a target that is no longer configured.
  void ForgetTarget(const std::string& target);
  // Per source: poll duration, reads and errors by kind.
  void ObservePoll(const control::PollResult& result);
  void CountTick(bool skipped);
  void CountReload(bool success, absl::Time now);
  // The served snapshot's age (0 before the first).
  void ObserveSnapshotAge(absl::Duration age);

 private:
  struct TargetSeries {
    prometheus::Gauge* recommended;
    prometheus::Gauge* desired;
    prometheus::Gauge* current;
    prometheus::Gauge* current_age = nullptr;  // once a count was read
    std::map<std::string, prometheus::Gauge*> input_value;
    std::map<std::string, prometheus::Gauge*> input_age;
    std::map<std::string, prometheus::Gauge*> limited_by;
  };
  TargetSeries& SeriesOf(const std::string& target);

  prometheus::Family<prometheus::Gauge>& recommended_;
  prometheus::Family<prometheus::Gauge>& desired_;
  prometheus::Family<prometheus::Gauge>& current_;
  prometheus::Family<prometheus::Gauge>& current_age_;
  prometheus::Family<prometheus::Gauge>& input_value_;
  prometheus::Family<prometheus::Gauge>& input_age_;
  prometheus::Family<prometheus::Gauge>& limited_by_;
  prometheus::Family<prometheus::Histogram>& poll_duration_;
  prometheus::Family<prometheus::Counter>& source_errors_;
  prometheus::Family<prometheus::Counter>& source_reads_;
  prometheus::Family<prometheus::Counter>& ticks_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Gauge& last_reload_success_;
  prometheus::Gauge& snapshot_age_;
  std::map<std::string, TargetSeries> targets_;
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_DAEMON_METRICS_H_
