// ballast/server/grpc_server.h
//
// ballast's gRPC port: one grpc::Server hosting KEDA's external scaler
// (`externalscaler.ExternalScaler`), ballast's API (`ballast.v1.Ballast`),
// the standard health service (`grpc.health.v1.Health`) and server
// reflection, all answered from a RecommendationStore.
//
//   prometheus::Registry registry;
//   absl::StatusOr<std::unique_ptr<GrpcServer>> server =
//       GrpcServer::Start(config.server.grpc.value(), store, registry);
//   if (!server.ok()) return server.status();
//   LOG << "gRPC on port " << (*server)->port();
//   ...
//   (*server)->Shutdown(absl::Now() + absl::Seconds(5));
//
// Every call is answered from the store's latest snapshot on a gRPC callback
// thread and never waits for a poll. Streams (StreamIsActive,
// StreamMetricSpec, WatchRecommendations) subscribe to the store and push
// from the publishing thread without blocking it.
//
// Health: "" and each hosted service name report NOT_SERVING until the store
// has published its first snapshot, SERVING from then on, and NOT_SERVING
// again once Shutdown starts.
//
// Metrics, registered in the given registry:
//   ballast_grpc_requests_total{method,code}      calls finished, by gRPC code
//   ballast_grpc_request_duration_seconds{method}  unary handling time
//   ballast_grpc_streams_open{method}              server streams open now
// `method` is the full gRPC name, e.g.
// "externalscaler.ExternalScaler/GetMetrics".
//
// Thread-safety: Start, port and Shutdown may be called from any thread;
// Shutdown is idempotent. `store` and `registry` must outlive the server.
#ifndef BALLAST_SERVER_GRPC_SERVER_H_
#define BALLAST_SERVER_GRPC_SERVER_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/store/recommendation_store.h"

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace ballast::server {

class GrpcServer {
 public:
  // Binds config.listen ("host:port"; port 0 picks a free port) and starts
  // serving. With tls_cert_file and tls_key_file the port speaks TLS; with
  // client_ca_file as well, every client must present a certificate that CA
  // signed. InvalidArgument for a bad TLS setup (one of cert/key missing, a
  // CA without a server cert); NotFound for an unreadable file; Unavailable
  // when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const config::GrpcServerConfig& config, store::RecommendationStore& store,
      prometheus::Registry& registry);

  ~GrpcServer();  // Shutdown(absl::Now())
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // The bound TCP port.
  int port() const;

  // Stops accepting calls, ends every open stream with UNAVAILABLE "server is
  // shutting down", lets in-flight calls finish until `deadline` and cancels
  // those still running then. Returns once every call is done.
  void Shutdown(absl::Time deadline);

  class Impl;

 private:
  explicit GrpcServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::server

#endif  // BALLAST_SERVER_GRPC_SERVER_H_
