// ExternalMetricsServer: the API on the HTTP core over TLS, with its
// telemetry.
#include "ballast/server/external_metrics_server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <iostream>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ballast/core/error_kind.h"
#include "ballast/net/asio_time.h"
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
                        .Register(registry)),
        tls_handshake_failures(
            prometheus::BuildCounter()
                .Name("ballast_external_metrics_tls_handshake_failures_total")
                .Help("TLS handshakes that failed, by reason: timeout, "
                      "closed (the client went away), protocol (not TLS, "
                      "or TLS the server refuses).")
                .Register(registry)),
        trust_reads(prometheus::BuildCounter()
                        .Name("ballast_front_proxy_trust_reads_total")
                        .Help("Reads of the cluster's front-proxy trust "
                              "(kube-system/extension-apiserver-"
                              "authentication) by result: unchanged, "
                              "changed, failure (with the error kind).")
                        .Register(registry)),
        authorizations(
            prometheus::BuildCounter()
                .Name("ballast_external_metrics_authorizations_total")
                .Help("Delegated authorization decisions by result (allowed, "
                      "denied, error: the API server could not answer and "
                      "the request failed closed) and whether the answer "
                      "came from the cache.")
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
  prometheus::Family<prometheus::Counter>& tls_handshake_failures;
  prometheus::Family<prometheus::Counter>& trust_reads;
  prometheus::Family<prometheus::Counter>& authorizations;
};

// Follows kube-system/extension-apiserver-authentication: reads it every
// `interval` and applies a changed trust to the TLS context (the CA) and the
// API (names and headers), then recycles open connections.
struct ExternalMetricsServer::TrustFollower
    : std::enable_shared_from_this<TrustFollower> {
  TrustFollower(boost::asio::io_context& io, absl::Duration every)
      : timer(io), interval(every) {}

  void Schedule() {
    timer.expires_after(net::ToChrono(interval));
    timer.async_wait(
        [weak = weak_from_this()](const boost::system::error_code& ec) {
          auto self = weak.lock();
          if (ec || !self || self->stopped) return;
          self->Read([weak](const absl::Status&) {
            if (auto again = weak.lock(); again && !again->stopped) {
              again->Schedule();
            }
          });
        });
  }

  void Read(std::function<void(const absl::Status&)> done) {
    http->Send({.target = kAuthenticationConfigMapPath},
               [weak = weak_from_this(), done = std::move(done)](
                   const absl::StatusOr<net::HttpResponse>& response) {
                 auto self = weak.lock();
                 if (!self) return;
                 absl::Status status = self->Apply(response);
                 if (done) done(status);
               });
  }

  absl::Status Apply(const absl::StatusOr<net::HttpResponse>& response) {
    absl::MutexLock lock(&mu);
    absl::StatusOr<FrontProxyTrust> trust =
        !response.ok() ? absl::StatusOr<FrontProxyTrust>(response.status())
        : response->status != 200
            ? absl::StatusOr<FrontProxyTrust>(absl::Status(
                  net::CodeForHttpStatus(response->status),
                  absl::StrCat("HTTP ", response->status, ": ",
                               net::Shorten(response->body, 300),
                               response->status == 403
                                   ? " (ballast's service account needs the "
                                     "extension-apiserver-authentication-"
                                     "reader Role in kube-system)"
                                   : "")))
            : ParseAuthenticationConfigMap(response->body);
    absl::Status status;
    bool changed = false;
    if (!trust.ok()) {
      status = absl::Status(
          trust.status().code(),
          absl::StrCat("cannot read the front-proxy trust from "
                       "kube-system/extension-apiserver-authentication "
                       "(keeping the previous one): ",
                       trust.status().message()));
    } else if (current && *trust == *current) {
      status = absl::OkStatus();
    } else {
      status = tls->SetClientCaPem(trust->client_ca_pem);
      if (status.ok()) {
        api->SetRequestHeaderConfig(trust->headers);
        current = *trust;
        changed = true;
        if (http_server != nullptr) http_server->RecycleConnections();
      } else {
        status = absl::InvalidArgumentError(absl::StrCat(
            "the cluster's requestheader-client-ca-file is unusable "
            "(keeping the previous trust): ",
            status.message()));
      }
    }
    if (status.ok()) {
      metrics->trust_reads.Add({{"result", changed ? "changed" : "unchanged"}})
          .Increment();
    } else {
      metrics->trust_reads
          .Add({{"result", "failure"}, {"error", ErrorKind(status)}})
          .Increment();
    }
    // Told of changes and failures, not of every unchanged read; a failure
    // is told once until the next success.
    if (!status.ok() ? !failing : changed) {
      if (on_change) {
        on_change(status);
      } else {
        std::cerr << "external metrics server: "
                  << (status.ok() ? "front-proxy trust updated from the cluster"
                                  : status.message())
                  << "\n";
      }
    }
    failing = !status.ok();
    last = status;
    return status;
  }

  boost::asio::steady_timer timer;
  const absl::Duration interval;
  std::unique_ptr<net::HttpClient> http;
  std::shared_ptr<net::TlsContextSource> tls;
  ExternalMetricsApi* api = nullptr;
  net::HttpServer* http_server = nullptr;
  std::shared_ptr<Metrics> metrics;
  std::function<void(const absl::Status&)> on_change;
  absl::Mutex mu;  // a refresh may run beside the timer's read
  std::optional<FrontProxyTrust> current;
  bool failing = false;
  absl::Status last;
  std::atomic<bool> stopped{false};
};

// Tells the first denial of each identity (user and groups).
struct ExternalMetricsServer::DenialLog {
  static constexpr size_t kMaxIdentities = 1024;

  explicit DenialLog(std::function<void(const AuthorizationDenial&)> tell)
      : on_denial(std::move(tell)) {}

  void Denied(const AuthorizationDenial& denial) {
    {
      const std::string key = absl::StrCat(
          denial.user.name, "\x1e", absl::StrJoin(denial.user.groups, "\x1f"));
      absl::MutexLock lock(&mu);
      if (told.size() >= kMaxIdentities || !told.insert(key).second) return;
    }
    if (on_denial) {
      on_denial(denial);
      return;
    }
    std::cerr << "external metrics server: denied " << denial.verb << " "
              << denial.path << " to user \"" << denial.user.name
              << "\" in groups [" << absl::StrJoin(denial.user.groups, ", ")
              << "]: " << denial.message
              << " (told once per identity; counted in "
                 "ballast_external_metrics_authorizations_total)\n";
  }

  const std::function<void(const AuthorizationDenial&)> on_denial;
  absl::Mutex mu;
  std::set<std::string> told ABSL_GUARDED_BY(mu);
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
                             prometheus::Registry& registry,
                             const Options& options) {
  const config::ExternalMetricsServerConfig& cfg = options.config;
  std::unique_ptr<ExternalMetricsServer> server(new ExternalMetricsServer());
  server->metrics_ = std::make_shared<Metrics>(registry);
  std::weak_ptr<Metrics> weak_metrics = server->metrics_;
  absl::StatusOr<std::shared_ptr<net::TlsContextSource>> tls =
      net::TlsContextSource::Create(
          {.cert_file = cfg.tls_cert_file,
           .key_file = cfg.tls_key_file,
           .client_ca_file = cfg.authentication_mode ==
                                     config::ExternalMetricsServerConfig::
                                         AuthenticationMode::kFiles
                                 ? cfg.requestheader_client_ca_file
                                 : ""},
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
  server->tls_ = *tls;
  RequestHeaderConfig request_header;
  request_header.allowed_names = cfg.requestheader_allowed_names;
  server->api_ = std::make_unique<ExternalMetricsApi>(
      store,
      ExternalMetricsApiOptions{.window_seconds = options.poll_interval_seconds,
                                .request_header = std::move(request_header),
                                .trust_all_clients_for_benchmark =
                                    options.trust_all_clients_for_benchmark});
  using Mode = config::ExternalMetricsServerConfig;
  const bool from_cluster =
      cfg.authentication_mode == Mode::AuthenticationMode::kCluster;
  const bool delegated =
      cfg.authorization_mode == Mode::AuthorizationMode::kDelegated;
  net::HttpClientOptions kubernetes;
  if (from_cluster || delegated) {
    absl::StatusOr<net::HttpClientOptions> access =
        source::KubernetesClientOptions(options.kubernetes);
    if (!access.ok()) {
      return absl::Status(
          access.status().code(),
          absl::StrCat("the API server: ", access.status().message()));
    }
    kubernetes = *std::move(access);
  }
  if (delegated) {
    net::HttpClientOptions client = kubernetes;
    client.timeout = absl::Milliseconds(cfg.authorization_timeout_ms);
    client.max_in_flight = 16;
    absl::StatusOr<std::unique_ptr<SubjectAccessReviewAuthorizer>> authorizer =
        SubjectAccessReviewAuthorizer::Create(
            io, std::move(client),
            {.allowed_ttl =
                 absl::Seconds(cfg.authorization_allowed_ttl_seconds),
             .denied_ttl =
                 absl::Seconds(cfg.authorization_denied_ttl_seconds)});
    if (!authorizer.ok()) {
      return absl::Status(authorizer.status().code(),
                          absl::StrCat("external metrics authorization: ",
                                       authorizer.status().message()));
    }
    server->authorizer_ = *std::move(authorizer);
  }
  if (from_cluster) {
    auto follower = std::make_shared<TrustFollower>(
        io, absl::Seconds(cfg.authentication_refresh_seconds));
    net::HttpClientOptions client = std::move(kubernetes);
    client.max_in_flight = 1;
    client.max_body_bytes = size_t{1} << 20;
    absl::StatusOr<std::unique_ptr<net::HttpClient>> http =
        net::HttpClient::Create(io, std::move(client));
    if (!http.ok()) {
      return absl::Status(http.status().code(),
                          absl::StrCat("external metrics authentication: ",
                                       http.status().message()));
    }
    follower->http = *std::move(http);
    follower->tls = server->tls_;
    follower->api = server->api_.get();
    follower->metrics = server->metrics_;
    follower->on_change = options.on_trust_change;
    server->trust_ = std::move(follower);
  }
  net::HttpServerOptions http{
      .name = "external metrics server",
      .listen = cfg.listen,
      .max_connections = cfg.max_connections,
      .request_timeout = absl::Milliseconds(cfg.request_timeout_ms),
      .idle_timeout = absl::Milliseconds(cfg.idle_timeout_ms),
      .max_request_bytes = static_cast<size_t>(cfg.max_request_bytes),
      .tls = *std::move(tls),
      .on_rejected =
          [metrics = server->metrics_](int status) {
            metrics->Count(status, status == 503 ? "connection" : "invalid");
          },
      .on_handshake_failed =
          [metrics = server->metrics_](absl::string_view reason) {
            metrics->tls_handshake_failures
                .Add({{"reason", std::string(reason)}})
                .Increment();
          }};
  server->denials_ = std::make_shared<DenialLog>(options.on_denial);
  const ExternalMetricsApi* api = server->api_.get();
  SubjectAccessReviewAuthorizer* authorizer = server->authorizer_.get();
  std::shared_ptr<DenialLog> denials = server->denials_;
  std::shared_ptr<Metrics> metrics = server->metrics_;
  absl::StatusOr<std::unique_ptr<net::HttpServer>> started =
      net::HttpServer::Start(
          io, std::move(http),
          [api, authorizer, metrics, denials](const net::HttpRequest& request,
                                              const net::PeerInfo& peer,
                                              net::HttpReply reply) {
            const auto start = std::chrono::steady_clock::now();
            auto finish = [metrics, start, reply = std::move(reply),
                           kind = ExternalMetricsApi::PathKind(request.path)](
                              net::HttpResponse response) {
              metrics->Count(response.status, kind);
              metrics->duration
                  .Add({{"path_kind", std::string(kind)}}, LatencyBuckets())
                  .Observe(std::chrono::duration<double>(
                               std::chrono::steady_clock::now() - start)
                               .count());
              reply(std::move(response));
            };
            if (std::optional<net::HttpResponse> open =
                    api->Unauthenticated(request)) {
              return finish(*std::move(open));
            }
            absl::StatusOr<RemoteUser> user = api->Authenticate(request, peer);
            if (!user.ok()) return finish(StatusResponse(user.status()));
            if (authorizer == nullptr) return finish(api->Serve(request));
            const RequestAttributes attributes = AttributesOf(request);
            authorizer->Authorize(
                *user, attributes,
                [api, metrics, denials, request, user = *user, attributes,
                 finish = std::move(finish)](
                    absl::StatusOr<AuthorizationDecision> decision) mutable {
                  metrics->authorizations
                      .Add({{"result", !decision.ok()      ? "error"
                                       : decision->allowed ? "allowed"
                                                           : "denied"},
                            {"cached", decision.ok() && decision->cached
                                           ? "true"
                                           : "false"}})
                      .Increment();
                  if (!decision.ok()) {
                    return finish(StatusResponse(absl::UnavailableError(
                        absl::StrCat("authorization failed (denying): ",
                                     decision.status().message()))));
                  }
                  if (!decision->allowed) {
                    std::string message =
                        DescribeDenial(user, attributes, decision->reason);
                    denials->Denied({.user = user,
                                     .verb = attributes.verb,
                                     .path = request.path,
                                     .message = message});
                    return finish(
                        StatusResponse(absl::PermissionDeniedError(message)));
                  }
                  finish(api->Serve(request));
                });
          });
  if (!started.ok()) return started.status();
  server->http_ = *std::move(started);
  if (server->trust_) {
    server->trust_->http_server = server->http_.get();
    server->trust_->Schedule();
    // The first read starts at once; until it succeeds, requests are 401.
    server->trust_->Read(nullptr);
  }
  return server;
}

void ExternalMetricsServer::RefreshTrust(
    std::function<void(const absl::Status&)> done) {
  if (!trust_) {
    if (done) done(absl::FailedPreconditionError("authentication mode Files"));
    return;
  }
  trust_->Read(std::move(done));
}

void ExternalMetricsServer::StopFollowingTrust() {
  if (!trust_) return;
  trust_->stopped = true;
  boost::asio::post(trust_->timer.get_executor(),
                    [trust = trust_] { trust->timer.cancel(); });
}

void ExternalMetricsServer::Stop(absl::Duration grace,
                                 std::function<void()> done) {
  StopFollowingTrust();
  http_->Stop(grace, std::move(done));
}

void ExternalMetricsServer::StopAndWait(absl::Duration grace) {
  StopFollowingTrust();
  http_->StopAndWait(grace);
}

ExternalMetricsServer::~ExternalMetricsServer() {
  if (trust_) {
    trust_->stopped = true;
    trust_->http_server = nullptr;
  }
}

}  // namespace ballast::server
