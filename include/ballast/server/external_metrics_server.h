// ballast/server/external_metrics_server.h
//
// The Kubernetes external metrics API (external.metrics.k8s.io/v1beta1) over
// HTTPS, as the kube-apiserver aggregation layer and the HPA use it. The
// contract is /work/shared/protocols/kubernetes-external-metrics.md.
//
//   prometheus::Registry registry;
//   ExternalMetricsServer::Options options{.config =
//   cfg.server.external_metrics.value(),
//                                          .poll_interval_seconds = 15};
//   absl::StatusOr<std::unique_ptr<ExternalMetricsServer>> server =
//       ExternalMetricsServer::Start(io, store, registry, options);
//   ...
//   (*server)->Stop(absl::Seconds(5), done);
//
// Served metrics, read from the store's latest snapshot (a request never
// waits for a poll):
// - `ballast_recommended_replicas{target=<name>}`: one item per target that
//   the labelSelector matches, value = the latest recommendation. An HPA
//   uses it with `type: AverageValue, averageValue: "1"`.
// - `ballast_input{target=<name>,input=<input>}`: one item per input, value
//   = its last good reading, `timestamp` = when it was read (so staleness is
//   visible). For users who prefer the HPA's own arithmetic; it stands for
//   the raw inputs (`celery_queue_backlog` etc.) under one name, since the
//   inputs are named by the config.
// A known metric never answers with an empty list: a selector that matches
// nothing is 404 NotFound naming what exists; a match without a value yet
// (no recommendation, input never read, non-finite value) is 503.
//
// The `{namespace}` path segment is accepted for any namespace and ignored:
// targets are cluster-wide.
//
// Authentication (the front proxy's): a request is authenticated iff the
// client presented a certificate that verifies against the request-header
// CA and, when the allowed names are not empty, whose common name is one of
// them, and it carries a user in a username header. Only then are the user,
// group and extra headers read. The CA, names and headers come from files
// (`authentication.mode: Files`) or from the cluster's
// kube-system/extension-apiserver-authentication ConfigMap (`Cluster`),
// followed every `refreshSeconds`: a changed CA applies to new connections,
// and open ones are closed after their current response so that the front
// proxy reconnects under the new trust. Everything but /healthz, /livez,
// /readyz (200 "ok") is 401 Unauthorized otherwise. The authenticated user
// is in system:authenticated besides the proxy's groups (delegated_auth.h).
//
// Besides the metrics and the legacy discovery documents: aggregated
// discovery (/apis with the apidiscovery.k8s.io/v2 Accept), /openapi/v2,
// /openapi/v3 and its group-version document (api_documents.h), each
// authenticated and authorized as any path.
//
// Authorization: `AlwaysAllow` serves every authenticated request (the
// kube-apiserver authorized the user before it proxied); `Delegated` asks
// the API server with a SubjectAccessReview (delegated_auth.h): a denial is
// 403 Forbidden, an API server that cannot answer makes the request fail
// closed with 503.
//
// Errors are Kubernetes `Status` objects (application/json) whose code comes
// from ToHttpError; a method other than GET is 400 BadRequest.
//
// Telemetry registered in the Registry given to Start:
//   ballast_external_metrics_requests_total{code,path_kind}
//   ballast_external_metrics_request_duration_seconds{path_kind} (histogram)
//   ballast_external_metrics_tls_reloads_total{result="success"|"failure"}
// path_kind is discovery, metric, health, openapi, other; requests the HTTP
// core refuses itself count as path_kind="invalid" (400, 413, 431) and
// connections refused over max_connections as path_kind="connection" (503).
#ifndef BALLAST_SERVER_EXTERNAL_METRICS_SERVER_H_
#define BALLAST_SERVER_EXTERNAL_METRICS_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/net/http_server.h"
#include "ballast/server/delegated_auth.h"
#include "ballast/source/kubernetes_client.h"
#include "ballast/store/recommendation_store.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace ballast::server {

inline constexpr char kExternalMetricsGroup[] = "external.metrics.k8s.io";
inline constexpr char kExternalMetricsVersion[] = "v1beta1";
inline constexpr char kRecommendedReplicasMetric[] =
    "ballast_recommended_replicas";
inline constexpr char kInputMetric[] = "ballast_input";

struct ExternalMetricsApiOptions {
  int32_t window_seconds = 15;  // served as each item's `window`
  // The initial allowed names and header names (SetRequestHeaderConfig
  // replaces them).
  RequestHeaderConfig request_header;
  // BENCHMARK ONLY (bench/external_metrics_server_bench.cc, whose load
  // generator cannot present client certificates): every request counts as
  // authenticated. Neither the config nor `ballast serve` can set it.
  bool trust_all_clients_for_benchmark = false;
};

// The API's routing, authentication and JSON, without sockets.
// Thread-safety: Handle may be called concurrently.
class ExternalMetricsApi {
 public:
  ExternalMetricsApi(const store::RecommendationStore& store,
                     ExternalMetricsApiOptions options);

  // Authenticates, then serves (no authorization step).
  net::HttpResponse Handle(const net::HttpRequest& request,
                           const net::PeerInfo& peer) const;
  // Serves an authenticated (and authorized) request.
  net::HttpResponse Serve(const net::HttpRequest& request) const;
  // Answers the health paths, which need no authentication; nullopt for
  // every other path.
  std::optional<net::HttpResponse> Unauthenticated(
      const net::HttpRequest& request) const;

  // The user of an authenticated request; Unauthenticated saying why not.
  absl::StatusOr<RemoteUser> Authenticate(const net::HttpRequest& request,
                                          const net::PeerInfo& peer) const;

  // Replaces the allowed names and header names (thread-safe).
  void SetRequestHeaderConfig(RequestHeaderConfig config);
  RequestHeaderConfig request_header_config() const;

  // The `path_kind` label of a request path: "discovery", "metric",
  // "health", "openapi" or "other".
  static absl::string_view PathKind(absl::string_view path);

 private:
  net::HttpResponse Route(const net::HttpRequest& request,
                          const std::vector<std::string>& segments) const;
  net::HttpResponse Metric(absl::string_view metric,
                           absl::string_view query) const;

  const store::RecommendationStore& store_;
  const ExternalMetricsApiOptions options_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const RequestHeaderConfig> request_header_
      ABSL_GUARDED_BY(mu_);
};

// A Kubernetes `Status` response for a non-OK `status` (code and reason from
// ToHttpError), as JSON.
net::HttpResponse StatusResponse(const absl::Status& status);

// A request Delegated authorization refused.
struct AuthorizationDenial {
  RemoteUser user;   // groups as reviewed (system:authenticated added)
  std::string verb;  // the authorization verb: "get", "list"
  std::string path;
  std::string message;  // DescribeDenial's, with the authorizer's reason
};

class ExternalMetricsServer {
 public:
  struct Options {
    config::ExternalMetricsServerConfig config;
    int32_t poll_interval_seconds = 15;  // served as `window`
    absl::Duration tls_check_interval = absl::Seconds(2);
    // How to reach the API server (the config's `kubernetes`), for
    // authentication mode Cluster and authorization mode Delegated; unused
    // (and not read) otherwise.
    source::KubernetesAccess kubernetes;
    // Told when the front-proxy trust read from the cluster changes (OK) or
    // cannot be read or used (the old trust stays); stderr when unset.
    std::function<void(const absl::Status&)> on_trust_change;
    // Told of the first denial of each identity (user and groups), with
    // the request's verb and path (the count of every denial is
    // ballast_external_metrics_authorizations_total{result="denied"});
    // stderr when unset. After 1024 identities, no more are told.
    std::function<void(const AuthorizationDenial&)> on_denial;
    // Told of every reload of the TLS files (OK, or why the new files were
    // refused and the old certificate stays); stderr when unset.
    std::function<void(const absl::Status&)> on_tls_reload;
    // See ExternalMetricsApiOptions; for the benchmark binary only.
    bool trust_all_clients_for_benchmark = false;
  };

  // Loads the TLS files (InvalidArgument/NotFound when they are bad), binds
  // config.listen (Unavailable when it cannot) and starts serving on `io`.
  // `store` and `registry` must outlive the server.
  static absl::StatusOr<std::unique_ptr<ExternalMetricsServer>> Start(
      boost::asio::io_context& io, const store::RecommendationStore& store,
      prometheus::Registry& registry, const Options& options);

  ~ExternalMetricsServer();

  int port() const { return http_->port(); }
  // As HttpServer::Stop / StopAndWait; also stops following the cluster's
  // front-proxy trust.
  void Stop(absl::Duration grace, std::function<void()> done = nullptr);
  void StopAndWait(absl::Duration grace);

  // Reads the cluster's front-proxy trust now (mode Cluster) and applies it
  // if it changed; `done` gets the result. For tests and startup.
  void RefreshTrust(std::function<void(const absl::Status&)> done);

  struct Metrics;  // defined in external_metrics_server.cc

 private:
  ExternalMetricsServer() = default;
  void StopFollowingTrust();

  struct TrustFollower;  // defined in external_metrics_server.cc
  struct DenialLog;      // defined in external_metrics_server.cc

  std::unique_ptr<ExternalMetricsApi> api_;
  std::shared_ptr<Metrics> metrics_;
  std::shared_ptr<net::TlsContextSource> tls_;
  std::unique_ptr<SubjectAccessReviewAuthorizer> authorizer_;
  std::shared_ptr<TrustFollower> trust_;
  std::shared_ptr<DenialLog> denials_;
  std::unique_ptr<net::HttpServer> http_;  // last: stops before the rest goes
};

}  // namespace ballast::server

#endif  // BALLAST_SERVER_EXTERNAL_METRICS_SERVER_H_
