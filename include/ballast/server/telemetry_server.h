// ballast/server/telemetry_server.h
//
// The telemetry endpoint over plain HTTP, on the same HTTP core as the
// external metrics API (so there is one HTTP stack, not prometheus-cpp's
// civetweb Exposer):
//   /metrics  the Prometheus text format (version 0.0.4) of the registries
//   /healthz  200 "ok" while the process serves
//   /readyz   200 "ok" once the store has published a snapshot in which
//             every target has a recommendation, and while that snapshot
//             is younger than Readiness::stale_after; 503 with the reason
//   anything else: 404; a method other than GET: 405.
//
//   auto registry = std::make_shared<prometheus::Registry>();
//   absl::StatusOr<std::unique_ptr<TelemetryServer>> server =
//       TelemetryServer::Start(io, store, {registry},
//       cfg.server.telemetry.value());
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

// The telemetry endpoints without sockets (see the file comment).
net::HttpResponse HandleTelemetry(
    const net::HttpRequest& request, const store::RecommendationStore& store,
    const std::vector<std::shared_ptr<const prometheus::Collectable>>&
        collectables,
    const Readiness& readiness = {});

class TelemetryServer {
 public:
  // Binds config.listen (port 0 picks one) and serves on `io`. `store` must
  // outlive the server. Limits: 64 connections, 10 s per request, 90 s idle,
  // 16 KiB per request.
  static absl::StatusOr<std::unique_ptr<TelemetryServer>> Start(
      boost::asio::io_context& io, const store::RecommendationStore& store,
      std::vector<std::shared_ptr<const prometheus::Collectable>> collectables,
      const config::TelemetryServerConfig& config, Readiness readiness = {});

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
