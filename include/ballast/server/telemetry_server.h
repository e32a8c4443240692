// ballast/server/telemetry_server.h
//
// The telemetry endpoint over plain HTTP, on the same HTTP core as the
// external metrics API (so there is one HTTP stack, not prometheus-cpp's
// civetweb Exposer):
//   /metrics  the Prometheus text format (version 0.0.4) of the registries,
//             then the per-target series and fleet-wide counts written from
//             the current snapshot (server/target_metrics.h), as much of
//             each target as `targetMetrics` says
//   /healthz  200 "ok" while the process serves
//   /readyz   200 "ok" once the store has published a snapshot in which
//             every target has a recommendation, and while that snapshot
//             is younger than Readiness::stale_after; 503 with the reason
//   anything else: 404; a method other than GET: 405.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   CurrentReplicasTimes current;  // filled by the control loop's observer
//   absl::StatusOr<std::unique_ptr<TelemetryServer>> server =
//       TelemetryServer::Start(io, store, {registry},
//       cfg.server.telemetry.value(), {}, &current);
//   int port = (*server)->port();
#ifndef BALLAST_SERVER_TELEMETRY_SERVER_H_
#define BALLAST_SERVER_TELEMETRY_SERVER_H_

#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/core/clock.h"
#include "ballast/net/http_server.h"
#include "ballast/server/target_metrics.h"
#include "ballast/store/recommendation_store.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace ballast::server {

// When a replica is ready: its snapshot not older than `stale_after` (a
// follower serving a leader that stopped writing), as read on `clock`.
struct Readiness {
  absl::Duration stale_after = absl::InfiniteDuration();
  Clock clock = MonotonicNow;
};

// OK when `snapshot` was published, is not older than `stale_after` at
// `now`, and every target in it has a recommendation; Unavailable naming
// the first target without one (or saying that nothing was published yet,
// or how old the snapshot is) otherwise.
absl::Status CheckReady(const store::Snapshot& snapshot,
                        absl::Time now = absl::InfinitePast(),
                        absl::Duration stale_after = absl::InfiniteDuration());

// The telemetry endpoints without sockets (see the file comment). The
// collectables must not hold the families AppendTargetMetrics writes.
net::HttpResponse HandleTelemetry(
    const net::HttpRequest& request, const store::RecommendationStore& store,
    const std::vector<std::shared_ptr<const prometheus::Collectable>>&
        collectables,
    const Readiness& readiness = {},
    const TargetMetricsOptions& target_metrics = {});

class TelemetryServer {
 public:
  // Binds config.listen (port 0 picks one) and serves on `io`, per-target
  // series as config.target_metrics says. `store` and `current_replicas`
  // (may be null: no current replica ages) must outlive the server.
  // Limits: 64 connections, 10 s per request, 90 s idle, 16 KiB per
  // request.
  static absl::StatusOr<std::unique_ptr<TelemetryServer>> Start(
      boost::asio::io_context& io, const store::RecommendationStore& store,
      std::vector<std::shared_ptr<const prometheus::Collectable>> collectables,
      const config::TelemetryServerConfig& config, Readiness readiness = {},
      const CurrentReplicasTimes* current_replicas = nullptr);

  int port() const { return http_->port(); }
  // As HttpServer::Stop / StopAndWait.
  void Stop(absl::Duration grace, std::function<void()> done = nullptr) {
    http_->Stop(grace, std::move(done));
  }
  void StopAndWait(absl::Duration grace) { http_->StopAndWait(grace); }

 private:
  explicit TelemetryServer(std::unique_ptr<net::HttpServer> http)
      : http_(std::move(http)) {}

  std::unique_ptr<net::HttpServer> http_;
};

}  // namespace ballast::server

#endif  // BALLAST_SERVER_TELEMETRY_SERVER_H_
