// ballast/source/kubernetes_client.h
//
// How ballast reaches the Kubernetes API server: the HttpClientOptions for
// it, from a kubeconfig (outside a cluster) or from the pod's service
// account (inside one). Every component that talks to the API server (the
// scale reader, the front-proxy trust follower, the SubjectAccessReview
// authorizer) builds its client from these options, so they all act as the
// same identity.
//
//   absl::StatusOr<HttpClientOptions> options =
//       KubernetesClientOptions(config.kubernetes.value_or({}));
//
// A kubeconfig is read as kubectl reads it, for the parts ballast needs:
// the context (`context`, else `current-context`), its cluster's `server`,
// `certificate-authority[-data]`, `insecure-skip-tls-verify`,
// `tls-server-name`, and its user's `client-certificate[-data]`,
// `client-key[-data]`, `token` and `tokenFile`. Relative paths are relative
// to the kubeconfig's directory. Exec and auth-provider plugins are refused
// with a clear error: a daemon cannot run them.
#ifndef BALLAST_SOURCE_KUBERNETES_CLIENT_H_
#define BALLAST_SOURCE_KUBERNETES_CLIENT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ballast/net/http_client.h"

namespace ballast::source {

// How ballast reaches the API server (`kubernetes:` in the config): a
// kubeconfig, or empty for the in-cluster service account.
struct KubernetesAccess {
  std::string kubeconfig;  // a kubeconfig file, as kubectl reads it
  std::string context;     // empty: its current-context

  bool operator==(const KubernetesAccess&) const = default;
};

// Where the in-cluster identity lives (overridable for tests).
struct InClusterPaths {
  std::string host_env = "KUBERNETES_SERVICE_HOST";
  std::string port_env = "KUBERNETES_SERVICE_PORT";
  std::string token_file =
      "/var/run/secrets/kubernetes.io/serviceaccount/token";
  std::string ca_file = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
};

// The API server and credentials of `access`: its kubeconfig when one is
// named, else the pod's service account. FailedPrecondition when neither is
// usable (not in a pod, unreadable kubeconfig), InvalidArgument for a
// kubeconfig that does not say what is needed.
absl::StatusOr<net::HttpClientOptions> KubernetesClientOptions(
    const KubernetesAccess& access, const InClusterPaths& paths = {});

// The options from kubeconfig text; `dir` resolves relative paths.
absl::StatusOr<net::HttpClientOptions> KubeconfigClientOptions(
    absl::string_view yaml_text, absl::string_view dir,
    absl::string_view context);

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_KUBERNETES_CLIENT_H_
