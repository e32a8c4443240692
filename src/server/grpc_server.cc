#include "ballast/server/grpc_server.h"

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "ballast/net/listen_address.h"
#include "ballast/v1/ballast.grpc.pb.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpc_internal.h"
#include "grpc_services.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/server_credentials.h"

namespace ballast::server {
namespace {

// The names the health service answers for besides "".
const char* const kServiceNames[] = {
    externalscaler::ExternalScaler::service_full_name(),
    ballast::v1::Ballast::service_full_name(),
};

absl::StatusOr<std::string> ReadFile(const std::string& path,
                                     absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read the gRPC ", what, " '", path, "'"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(
    const config::GrpcServerConfig& config) {
  const bool has_cert = !config.tls_cert_file.empty();
  const bool has_key = !config.tls_key_file.empty();
  if (!has_cert && !has_key) {
    if (!config.client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "server.grpc.clientCaFile needs tlsCertFile and tlsKeyFile");
    }
    return grpc::InsecureServerCredentials();
  }
  if (has_cert != has_key) {
    return absl::InvalidArgumentError(
        "server.grpc needs both tlsCertFile and tlsKeyFile, or neither");
  }
  absl::StatusOr<std::string> cert =
      ReadFile(config.tls_cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(config.tls_key_file, "TLS key");
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions options(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  options.pem_key_cert_pairs.push_back({*key, *cert});
  if (!config.client_ca_file.empty()) {
    absl::StatusOr<std::string> ca =
        ReadFile(config.client_ca_file, "client CA");
    if (!ca.ok()) return ca.status();
    options.pem_root_certs = *ca;
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

}  // namespace

class GrpcServer::Impl {
 public:
  Impl(store::RecommendationStore& store, prometheus::Registry& registry)
      : metrics_(registry),
        fanout_(store),
        keda_(fanout_, metrics_),
        api_(fanout_, metrics_) {}

  absl::Status Start(const config::GrpcServerConfig& config) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        Credentials(config);
    if (!credentials.ok()) return credentials.status();
    grpc::EnableDefaultHealthCheckService(true);
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
    grpc::ServerBuilder builder;
    // gRPC sets SO_REUSEPORT by default: a second ballast on the same port
    // would then share its traffic instead of failing to start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // The same parser as the HTTP servers and check-config: an IP address
    // (gRPC alone would also resolve host names).
    absl::StatusOr<net::ListenAddress> listen =
        net::ParseListenAddress(config.listen);
    if (!listen.ok()) return listen.status();
    const std::string address =
        absl::StrContains(listen->ip, ':')
            ? absl::StrCat("[", listen->ip, "]:", listen->port)
            : absl::StrCat(listen->ip, ":", listen->port);
    builder.AddListeningPort(address, *credentials, &port_);
    builder.RegisterService(&keda_);
    builder.RegisterService(&api_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port_ == 0) {
      server_.reset();
      return absl::UnavailableError(
          absl::StrCat("cannot listen for gRPC on '", config.listen, "'"));
    }
    {
      absl::MutexLock lock(&health_mu_);
      health_ = server_->GetHealthCheckService();
      SetServing(false);
    }
    // The first publish flips health to SERVING (SetServingStatus notifies
    // watchers on every call, so only once).
    fanout_.SetObserver([this](const store::Snapshot&) { MarkServing(); });
    if (fanout_.store().Current()->generation > 0) MarkServing();
    return absl::OkStatus();
  }

  int port() const { return port_; }

  void Shutdown(absl::Time deadline) {
    absl::MutexLock lock(&shutdown_mu_);
    if (server_ == nullptr) return;
    fanout_.SetObserver(nullptr);
    {
      // A publish in progress may still call MarkServing: it then finds no
      // health service. grpc::Server::Shutdown reports NOT_SERVING itself.
      absl::MutexLock health_lock(&health_mu_);
      health_ = nullptr;
    }
    fanout_.CloseAll(absl::UnavailableError("server is shutting down"));
    server_->Shutdown(absl::ToChronoTime(deadline));
    server_->Wait();
    server_.reset();
  }

 private:
  void MarkServing() {
    absl::MutexLock lock(&health_mu_);
    if (health_ == nullptr || serving_) return;
    serving_ = true;
    SetServing(true);
  }

  void SetServing(bool serving) ABSL_EXCLUSIVE_LOCKS_REQUIRED(health_mu_) {
    health_->SetServingStatus(serving);
    for (const char* name : kServiceNames) {
      health_->SetServingStatus(name, serving);
    }
  }

  GrpcMetrics metrics_;
  SnapshotFanout fanout_;
  KedaScalerService keda_;
  BallastApiService api_;
  int port_ = 0;
  absl::Mutex health_mu_;
  grpc::HealthCheckServiceInterface* health_ ABSL_GUARDED_BY(health_mu_) =
      nullptr;  // owned by server_; null once Shutdown starts
  bool serving_ ABSL_GUARDED_BY(health_mu_) = false;
  absl::Mutex shutdown_mu_;
  std::unique_ptr<grpc::Server> server_;  // set once by Start
};

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const config::GrpcServerConfig& config, store::RecommendationStore& store,
    prometheus::Registry& registry) {
  auto impl = std::make_unique<Impl>(store, registry);
  if (absl::Status status = impl->Start(config); !status.ok()) return status;
  return std::unique_ptr<GrpcServer>(new GrpcServer(std::move(impl)));
}

GrpcServer::GrpcServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

GrpcServer::~GrpcServer() { Shutdown(absl::Now()); }

int GrpcServer::port() const { return impl_->port(); }

void GrpcServer::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }

}  // namespace ballast::server
