#include "ballast/source/kubernetes_client.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace ballast::source {
namespace {

std::string Env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  return value == nullptr ? "" : value;
}

// The entry `name` of a kubeconfig list (clusters, users, contexts): its
// inner map (`cluster`, `user` or `context`).
absl::StatusOr<YAML::Node> Named(const YAML::Node& root, const char* list,
                                 const char* inner, const std::string& name) {
  const YAML::Node items = root[list];
  if (items && items.IsSequence()) {
    for (const YAML::Node& item : items) {
      if (item.IsMap() && item["name"] && item["name"].IsScalar() &&
          item["name"].Scalar() == name) {
        if (!item[inner] || !item[inner].IsMap()) {
          return absl::InvalidArgumentError(
              absl::StrCat(list, " entry \"", name, "\" has no ", inner));
        }
        return item[inner];
      }
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat("kubeconfig has no ", inner, " named \"", name, "\""));
}

std::string Scalar(const YAML::Node& map, const char* key) {
  const YAML::Node value = map[key];
  return value && value.IsScalar() ? value.Scalar() : "";
}

std::string Resolve(absl::string_view dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || dir.empty()) return path;
  return absl::StrCat(dir, "/", path);
}

// `<key>-data` (base64) as PEM text, or "" when absent.
absl::StatusOr<std::string> InlineData(const YAML::Node& map,
                                       const std::string& key) {
  const std::string data = Scalar(map, (key + "-data").c_str());
  if (data.empty()) return std::string();
  std::string decoded;
  if (!absl::Base64Unescape(data, &decoded)) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig ", key, "-data is not valid base64"));
  }
  return decoded;
}

}  // namespace

absl::StatusOr<net::HttpClientOptions> KubeconfigClientOptions(
    absl::string_view yaml_text, absl::string_view dir,
    absl::string_view context) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("kubeconfig is not YAML: ", e.what()));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError("kubeconfig is not a YAML map");
  }
  std::string context_name(context);
  if (context_name.empty()) context_name = Scalar(root, "current-context");
  if (context_name.empty()) {
    return absl::InvalidArgumentError(
        "kubeconfig has no current-context; name a context");
  }
  absl::StatusOr<YAML::Node> ctx =
      Named(root, "contexts", "context", context_name);
  if (!ctx.ok()) return ctx.status();
  absl::StatusOr<YAML::Node> cluster =
      Named(root, "clusters", "cluster", Scalar(*ctx, "cluster"));
  if (!cluster.ok()) return cluster.status();
  net::HttpClientOptions http;
  http.base_url = Scalar(*cluster, "server");
  if (http.base_url.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kubeconfig cluster of context \"", context_name, "\" has no server"));
  }
  http.tls_server_name = Scalar(*cluster, "tls-server-name");
  http.verify_peer = Scalar(*cluster, "insecure-skip-tls-verify") != "true";
  absl::StatusOr<std::string> ca =
      InlineData(*cluster, "certificate-authority");
  if (!ca.ok()) return ca.status();
  http.ca_pem = *std::move(ca);
  http.ca_file = Resolve(dir, Scalar(*cluster, "certificate-authority"));

  const std::string user_name = Scalar(*ctx, "user");
  if (user_name.empty()) return http;  // anonymous
  absl::StatusOr<YAML::Node> user = Named(root, "users", "user", user_name);
  if (!user.ok()) return user.status();
  if ((*user)["exec"] || (*user)["auth-provider"]) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kubeconfig user \"", user_name,
        "\" uses an exec or auth-provider plugin, which ballast does not run; "
        "use a client certificate, a token or a tokenFile"));
  }
  absl::StatusOr<std::string> cert = InlineData(*user, "client-certificate");
  absl::StatusOr<std::string> key = InlineData(*user, "client-key");
  if (!cert.ok()) return cert.status();
  if (!key.ok()) return key.status();
  http.client_cert_pem = *std::move(cert);
  http.client_key_pem = *std::move(key);
  http.client_cert_file = Resolve(dir, Scalar(*user, "client-certificate"));
  http.client_key_file = Resolve(dir, Scalar(*user, "client-key"));
  if (const std::string token = Scalar(*user, "token"); !token.empty()) {
    http.headers.emplace_back("Authorization", absl::StrCat("Bearer ", token));
  }
  http.bearer_token_file = Resolve(dir, Scalar(*user, "tokenFile"));
  return http;
}

absl::StatusOr<net::HttpClientOptions> KubernetesClientOptions(
    const KubernetesAccess& access, const InClusterPaths& paths) {
  if (!access.kubeconfig.empty()) {
    std::ifstream in(access.kubeconfig);
    if (!in) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot read kubeconfig ", access.kubeconfig));
    }
    std::stringstream text;
    text << in.rdbuf();
    const size_t slash = access.kubeconfig.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : access.kubeconfig.substr(0, slash);
    absl::StatusOr<net::HttpClientOptions> options =
        KubeconfigClientOptions(text.str(), dir, access.context);
    if (!options.ok()) {
      return absl::Status(
          options.status().code(),
          absl::StrCat(access.kubeconfig, ": ", options.status().message()));
    }
    return options;
  }
  const std::string host = Env(paths.host_env);
  const std::string port = Env(paths.port_env);
  if (host.empty() || port.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        paths.host_env, " and ", paths.port_env,
        " are not set: not running in a Kubernetes pod? Name a kubeconfig "
        "under `kubernetes:`"));
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  net::HttpClientOptions http;
  http.base_url = absl::StrCat("https://", ipv6 ? "[" : "", host,
                               ipv6 ? "]" : "", ":", port);
  http.ca_file = paths.ca_file;
  http.bearer_token_file = paths.token_file;
  return http;
}

}  // namespace ballast::source
