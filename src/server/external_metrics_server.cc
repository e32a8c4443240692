// ExternalMetricsServer: the API on the HTTP core over TLS, with its
// telemetry.
#include "ballast/server/external_metrics_server.h"

#include <chrono>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::server {

struct ExternalMetricsServer::Metrics {
  explicit Metrics(prometheus::Registry& registry)
      : requests(prometheus::BuildCounter()
                     .Name("ballast_external_metrics_requests_total")
                     .Help("External metrics API requests by HTTP code and "
                           "kind of path.")
                     .Register(registry)),
        duration(prometheus::BuildHistogram()
                     .Name("ballast_external_metrics_request_duration_seconds")
                     .Help("Time to handle an external metrics API request, "
                           "from the parsed request to the built response.")
                     .Register(registry)),
        tls_reloads(prometheus::BuildCounter()
                        .Name("ballast_external_metrics_tls_reloads_total")
                        .Help("Reloads of the serving certificate files after "
                              "they changed, by result.")
                        .Register(registry)) {}

  void Count(int code, absl::string_view path_kind) {
    requests
        .Add({{"code", absl::StrCat(code)},
              {"path_kind", std::string(path_kind)}})
        .Increment();
  }

  prometheus::Family<prometheus::Counter>& requests;
  prometheus::Family<prometheus::Histogram>& duration;
  prometheus::Family<prometheus::Counter>& tls_reloads;
};

namespace {

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const auto* const kBuckets =
      new prometheus::Histogram::BucketBoundaries{
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
          0.01,   0.025,   0.05,   0.1,   0.25,   1};
  return *kBuckets;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ExternalMetricsServer>>
ExternalMetricsServer::Start(boost::asio::io_context& io,
                             const store::RecommendationStore& store,
                             prometheus::Registry& registry, Options options) {
  const config::ExternalMetricsServerConfig& cfg = options.config;
  std::unique_ptr<ExternalMetricsServer> server(new ExternalMetricsServer());
  server->metrics_ = std::make_shared<Metrics>(registry);
  std::weak_ptr<Metrics> weak_metrics = server->metrics_;
  absl::StatusOr<std::shared_ptr<TlsContextSource>> tls =
      TlsContextSource::Create(
          {.cert_file = cfg.tls_cert_file,
           .key_file = cfg.tls_key_file,
           .client_ca_file = cfg.requestheader_client_ca_file},
          {.check_interval = options.tls_check_interval,
           .on_reload = [weak_metrics, on_tls_reload = options.on_tls_reload](
                            const absl::Status& status) {
             // Once per changed set of files; on failure the old
             // certificate stays in use.
             if (on_tls_reload) {
               on_tls_reload(status);
             } else if (!status.ok()) {
               std::cerr << "external metrics server: keeping the previous "
                            "certificate: "
                         << status.message() << "\n";
             }
             if (auto metrics = weak_metrics.lock()) {
               metrics->tls_reloads
                   .Add({{"result", status.ok() ? "success" : "failure"}})
                   .Increment();
             }
           }});
  if (!tls.ok()) return tls.status();
  server->api_ = std::make_unique<ExternalMetricsApi>(
      store, ExternalMetricsApiOptions{
                 .window_seconds = options.poll_interval_seconds,
                 .allowed_names = cfg.requestheader_allowed_names,
                 .trust_all_clients_for_benchmark =
                     options.trust_all_clients_for_benchmark});
  HttpServerOptions http{
      .name = "external metrics server",
      .listen = cfg.listen,
      .max_connections = cfg.max_connections,
      .request_timeout = absl::Milliseconds(cfg.request_timeout_ms),
      .idle_timeout = absl::Milliseconds(cfg.idle_timeout_ms),
      .max_request_bytes = static_cast<size_t>(cfg.max_request_bytes),
      .tls = *std::move(tls),
      .on_rejected = [metrics = server->metrics_](int status) {
        metrics->Count(status, status == 503 ? "connection" : "invalid");
      }};
  const ExternalMetricsApi* api = server->api_.get();
  Metrics* metrics = server->metrics_.get();
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      io, std::move(http),
      [api, metrics](const HttpRequest& request, const PeerInfo& peer) {
        const auto start = std::chrono::steady_clock::now();
        HttpResponse response = api->Handle(request, peer);
        const absl::string_view kind =
            ExternalMetricsApi::PathKind(request.path);
        metrics->Count(response.status, kind);
        metrics->duration
            .Add({{"path_kind", std::string(kind)}}, LatencyBuckets())
            .Observe(std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count());
        return response;
      });
  if (!started.ok()) return started.status();
  server->http_ = *std::move(started);
  return server;
}

ExternalMetricsServer::~ExternalMetricsServer() = default;

}  // namespace ballast::server
