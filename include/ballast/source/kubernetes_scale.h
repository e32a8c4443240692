// ballast/source/kubernetes_scale.h
//
// Reads a Deployment's replica counts from the Kubernetes scale subresource
// (`GET /apis/apps/v1/namespaces/{ns}/deployments/{name}/scale`) with the
// pod's service account: the token file (read again when kubelet rotates
// it), the cluster CA, and the API server from KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT. Every path and variable name is an option, for
// tests and for running outside a cluster.
//
//   auto reader = KubernetesScaleReader::Create(io, {});  // in-cluster
//   (*reader)->Read("speech", "asr-worker",
//                   [](absl::StatusOr<DeploymentScale> s) {
//                     if (s.ok()) current = s->spec_replicas;
//                   });
//
// The RBAC rule it needs: apiGroups ["apps"], resources
// ["deployments/scale"], verbs ["get"].
#ifndef BALLAST_SOURCE_KUBERNETES_SCALE_H_
#define BALLAST_SOURCE_KUBERNETES_SCALE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/net/http_client.h"

namespace ballast::source {

struct KubernetesScaleOptions {
  // The API server and credentials (KubernetesClientOptions: a kubeconfig or
  // the service account). When set, every field below but `timeout` and
  // `max_in_flight` is ignored.
  std::optional<net::HttpClientOptions> client;
  // "https://host:port"; empty builds it from the two variables below.
  std::string api_server;
  std::string host_env = "KUBERNETES_SERVICE_HOST";
  std::string port_env = "KUBERNETES_SERVICE_PORT";
  std::string token_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
  absl::Duration timeout = absl::Seconds(5);
  int max_in_flight = 4;
};

struct DeploymentScale {
  int32_t spec_replicas = 0;    // the desired count (spec.replicas)
  int32_t status_replicas = 0;  // pods that exist now (status.replicas)
  std::string selector;         // status.selector, "" when absent
};

// Turns a scale response into values. Statuses name namespace/name:
//   Unauthenticated  401: the token was rejected (expired, wrong cluster)
//   PermissionDenied 403: RBAC lacks get on deployments/scale
//   NotFound         404: no such deployment (or namespace)
//   Unavailable      5xx, 429;  InvalidArgument other 4xx
//   DataLoss         a body that is not a Scale object
absl::StatusOr<DeploymentScale> ParseScaleResponse(int http_status,
                                                   absl::string_view body,
                                                   absl::string_view ns,
                                                   absl::string_view name);

class KubernetesScaleReader {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<DeploymentScale>) &&>;

  // FailedPrecondition when the API server variables are unset (not in a
  // cluster) or the CA file cannot be loaded; the token file is read per
  // request, so a missing token is a per-request FailedPrecondition.
  static absl::StatusOr<std::unique_ptr<KubernetesScaleReader>> Create(
      boost::asio::io_context& io, const KubernetesScaleOptions& options);

  // Reads the scale of deployment ns/name; `done` runs once on the
  // io_context with ParseScaleResponse's result or HttpClient's transport
  // error. Thread-safe.
  void Read(absl::string_view ns, absl::string_view name, Callback done);

  // The HttpClient options Create uses (exposed for tests and `probe`).
  static absl::StatusOr<net::HttpClientOptions> ClientOptions(
      const KubernetesScaleOptions& options);

 private:
  explicit KubernetesScaleReader(std::unique_ptr<net::HttpClient> http)
      : http_(std::move(http)) {}
  std::unique_ptr<net::HttpClient> http_;
};

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_KUBERNETES_SCALE_H_
