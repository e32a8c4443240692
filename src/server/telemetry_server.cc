#include "ballast/server/telemetry_server.h"

#include <iterator>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"

namespace ballast::server {

absl::Status CheckReady(const store::Snapshot& snapshot, absl::Time now,
                        absl::Duration stale_after) {
  if (snapshot.generation == 0) {
    return absl::UnavailableError("no snapshot has been published yet");
  }
  if (now - snapshot.time > stale_after) {
    return absl::UnavailableError(absl::StrCat(
        "the snapshot is ", absl::ToInt64Seconds(now - snapshot.time),
        " s old (stale after ", absl::ToInt64Seconds(stale_after),
        " s): the leader has not written since",
        snapshot.computed_by.empty()
            ? std::string()
            : absl::StrCat(" (last computed by ", snapshot.computed_by, ")")));
  }
  for (const auto& [name, target] : snapshot.targets) {
    if (!target.latest) {
      return absl::UnavailableError(
          absl::StrCat("target \"", name, "\" has no recommendation yet"));
    }
  }
  return absl::OkStatus();
}

net::HttpResponse HandleTelemetry(
    const net::HttpRequest& request, const store::RecommendationStore& store,
    const std::vector<std::shared_ptr<const prometheus::Collectable>>&
        collectables,
    const Readiness& readiness, const TargetMetricsOptions& target_metrics) {
  if (request.method != "GET") {
    return {.status = 405, .body = "only GET is supported\n"};
  }
  if (request.path == "/metrics") {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : collectables) {
      std::vector<prometheus::MetricFamily> more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()),
                      std::make_move_iterator(more.end()));
    }
    std::string body = prometheus::TextSerializer().Serialize(families);
    AppendTargetMetrics(*store.Current(), target_metrics, body);
    return {.status = 200,
            .content_type = "text/plain; version=0.0.4; charset=utf-8",
            .body = std::move(body)};
  }
  if (request.path == "/healthz") return {.status = 200, .body = "ok\n"};
  if (request.path == "/readyz") {
    const absl::Status ready =
        CheckReady(*store.Current(), readiness.clock(), readiness.stale_after);
    if (ready.ok()) return {.status = 200, .body = "ok\n"};
    return {.status = 503, .body = absl::StrCat(ready.message(), "\n")};
  }
  return {.status = 404, .body = absl::StrCat("no page ", request.path, "\n")};
}

absl::StatusOr<std::unique_ptr<TelemetryServer>> TelemetryServer::Start(
    boost::asio::io_context& io, const store::RecommendationStore& store,
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables,
    const config::TelemetryServerConfig& config, Readiness readiness,
    const CurrentReplicasTimes* current_replicas) {
  absl::StatusOr<std::unique_ptr<net::HttpServer>> http =
      net::HttpServer::Start(
          io,
          {.name = "telemetry server",
           .listen = config.listen,
           .max_connections = 64,
           .request_timeout = absl::Seconds(10),
           .idle_timeout = absl::Seconds(90),
           .max_request_bytes = size_t{16} * 1024},
          [&store, collectables = std::move(collectables),
           readiness = std::move(readiness),
           target_metrics =
               TargetMetricsOptions{.detail = config.target_metrics,
                                    .current_replicas = current_replicas}](
              const net::HttpRequest& request, const net::PeerInfo&) {
            return HandleTelemetry(request, store, collectables, readiness,
                                   target_metrics);
          });
  if (!http.ok()) return http.status();
  return std::unique_ptr<TelemetryServer>(
      new TelemetryServer(*std::move(http)));
}

}  // namespace ballast::server
