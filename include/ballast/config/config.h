// ballast/config/config.h
//
// The policy config SREs write (YAML, camelCase keys, HPA names where the HPA
// has the concept), parsed and validated into plain values.
//
//   absl::StatusOr<Config> config = LoadConfigFile("config/demo.yaml");
//   if (!config.ok()) { ... }  // message: every error, one per line
//
//   ConfigErrors errors;
//   std::optional<Config> c = ParseConfig(text, "demo.yaml", &errors);
//   for (const ConfigError& e : errors) std::cerr << e.ToString() << "\n";
//
// Validation reports every error at once, each with the file, line, column
// and key path (`targets[0].behavior.scaleUp.policies[1].type`).
#ifndef BALLAST_CONFIG_CONFIG_H_
#define BALLAST_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "ballast/core/target_spec.h"

namespace ballast::config {

// A secret given by reference, never inline: read from an environment
// variable or a file (re-read when it changes). Both empty: no secret.
struct SecretRef {
  std::string env;
  std::string file;
};

struct TlsClientConfig {
  bool enabled = false;     // rediss:// or https:// turn it on
  std::string ca_file;      // empty: the system's CAs
  std::string server_name;  // SNI and verification name; empty: the host
  bool insecure_skip_verify = false;
};

// `sources.redis.<name>`: a Redis server that Celery uses as its broker.
struct RedisSourceConfig {
  // "host:port", "redis://[user@]host:port[/db]" or "rediss://..." (TLS).
  std::string address = "127.0.0.1:6379";
  int32_t db = 0;
  std::string username;
  SecretRef password;
  TlsClientConfig tls;
  int32_t connect_timeout_ms = 1000;
  int32_t timeout_ms = 500;  // per command round trip
  // Celery's broker_transport_options.
  std::vector<int32_t> priority_steps = {0, 3, 6, 9};
  std::string separator = "\x06\x16";
  std::string global_keyprefix;
  // How often the per-queue split of `unacked` (HSCAN) and queue discovery
  // run; the LLENs run every poll.
  int32_t reserved_interval_seconds = 30;
  int32_t discovery_interval_seconds = 300;
};

struct PrometheusSourceConfig {
  std::string url = "http://127.0.0.1:9090";
  int32_t timeout_ms = 2000;
  TlsClientConfig tls;
  std::string bearer_token_file;  // re-read when it changes
  std::string basic_auth_username;
  SecretRef basic_auth_password;
  std::map<std::string, std::string> headers;
  int32_t max_in_flight = 4;
};

struct CeleryInput {
  std::string source;  // key into Config::redis
  std::vector<std::string> queues;
  bool include_reserved = false;
  // Also count every queue found in `_kombu.binding.*` (refreshed every
  // discovery interval); `queues` may then be empty.
  bool discover_queues = false;
};

enum class Aggregate { kSum, kMax, kMin, kAvg };

struct PrometheusInput {
  std::string source;  // key into Config::prometheus
  std::string query;
  Aggregate aggregate = Aggregate::kSum;  // over the series of a vector
  // An empty vector reads as this value (rate-like queries); nullopt: an
  // empty vector is missing data.
  std::optional<double> empty_as;
};

// Where an input's value comes from. For `ballast simulate`, neither is
// needed: the trace column of the same name feeds the input.
struct InputSource {
  std::optional<CeleryInput> celery;
  std::optional<PrometheusInput> prometheus;
};

struct CurrentReplicasSource {
  std::optional<int32_t> static_replicas;
  std::optional<PrometheusInput> prometheus;
  struct Kubernetes {
    std::string namespace_;
    std::string deployment;
  };
  std::optional<Kubernetes> kubernetes;
};

struct TargetConfig {
  TargetSpec spec;                   // what the engine needs
  std::vector<InputSource> sources;  // one per spec.inputs, same order
  CurrentReplicasSource current_replicas;
};

// `server.externalMetrics`: the Kubernetes external metrics API (HTTPS).
struct ExternalMetricsServerConfig {
  std::string listen = "0.0.0.0:6443";  // host:port; port 0 picks a free one
  std::string tls_cert_file;            // required; reloaded when it changes
  std::string tls_key_file;             // required; reloaded when it changes
  // The front-proxy CA (kube-system/extension-apiserver-authentication's
  // requestheader-client-ca-file). Empty: no client is authenticated, every
  // metric request gets 401.
  std::string requestheader_client_ca_file;
  std::vector<std::string> requestheader_allowed_names;  // empty: any CN
  // `authentication.mode`: where the front-proxy trust comes from.
  //   Files:   requestheaderClientCAFile (reloaded when it changes) and
  //            requestheaderAllowedNames, with the default header names.
  //   Cluster: the kube-system/extension-apiserver-authentication ConfigMap
  //            (CA, allowed names, header names), read through `kubernetes`
  //            and followed every `refreshSeconds`, as extension API servers
  //            built on k8s.io/apiserver take it.
  enum class AuthenticationMode { kFiles, kCluster };
  AuthenticationMode authentication_mode = AuthenticationMode::kFiles;
  int32_t authentication_refresh_seconds = 10;
  // `authorization.mode`:
  //   AlwaysAllow: every authenticated request is served (the API server
  //                has authorized the user before proxying).
  //   Delegated:   each request is checked with a SubjectAccessReview, as
  //                k8s.io/apiserver's delegated authorization does; answers
  //                are cached for allowedTtlSeconds / deniedTtlSeconds.
  enum class AuthorizationMode { kAlwaysAllow, kDelegated };
  AuthorizationMode authorization_mode = AuthorizationMode::kAlwaysAllow;
  int32_t authorization_allowed_ttl_seconds = 10;
  int32_t authorization_denied_ttl_seconds = 10;
  int32_t authorization_timeout_ms = 5000;
  int32_t max_connections = 256;
  int32_t request_timeout_ms = 10000;  // whole request, headers and body
  int32_t idle_timeout_ms = 90000;     // keep-alive
  int32_t max_request_bytes = 65536;   // headers + body

  bool operator==(const ExternalMetricsServerConfig&) const = default;
};

// `server.grpc`: KEDA's external scaler and ballast.v1 on one port.
struct GrpcServerConfig {
  std::string listen = "0.0.0.0:9090";
  std::string tls_cert_file;  // both empty: plaintext
  std::string tls_key_file;
  std::string client_ca_file;  // set: clients must present a certificate

  bool operator==(const GrpcServerConfig&) const = default;
};

// `server.telemetry`: /metrics, /healthz, /readyz over plain HTTP.
struct TelemetryServerConfig {
  std::string listen = "0.0.0.0:8080";

  bool operator==(const TelemetryServerConfig&) const = default;
};

struct ServerConfig {
  int32_t poll_interval_seconds = 15;
  // Each server runs only when its key is present.
  std::optional<ExternalMetricsServerConfig> external_metrics;
  std::optional<GrpcServerConfig> grpc;
  std::optional<TelemetryServerConfig> telemetry;
};

// `kubernetes`: how ballast reaches the API server (the scale reader, the
// front-proxy trust and delegated authorization use it). Absent or without
// `kubeconfig`: the pod's service account.
struct KubernetesAccess {
  std::string kubeconfig;  // a kubeconfig file, as kubectl reads it
  std::string context;     // empty: its current-context

  bool operator==(const KubernetesAccess&) const = default;
};

struct ConfigError {
  std::string file;
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
  std::string path;  // key path, e.g. targets[0].minReplicas
  std::string message;

  // "FILE:LINE:COLUMN: key.path: message"
  std::string ToString() const;
};

struct Config {
  KubernetesAccess kubernetes;
  std::map<std::string, RedisSourceConfig> redis;
  std::map<std::string, PrometheusSourceConfig> prometheus;
  ServerConfig server;
  std::vector<TargetConfig> targets;
  // What a valid config may still want its author to see (a
  // currentReplicas.static outside [minReplicas, maxReplicas]); same form
  // as the errors.
  std::vector<ConfigError> warnings;
};

using ConfigErrors = std::vector<ConfigError>;

// Parses and validates `yaml_text`. On any error returns nullopt and appends
// every error found to `errors` (never just the first). `file_name` is only
// used in the errors.
std::optional<Config> ParseConfig(std::string_view yaml_text,
                                  std::string_view file_name,
                                  ConfigErrors* errors);

// Reads and parses `path`. InvalidArgument with all errors (one per line, as
// ConfigError::ToString) on a bad config; NotFound if the file is missing.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// As above; also appends each error of a bad config to `errors` (if not
// null), for callers that print them one by one (`ballast check-config`).
absl::StatusOr<Config> LoadConfigFile(const std::string& path,
                                      ConfigErrors* errors);

// The key of `known` that `unknown` most likely misspells (case-insensitive
// edit distance of at most one per three characters, or a truncation), or
// nullopt. Used for "unknown key 'x'; did you mean 'y'?".
std::optional<std::string> SuggestKey(
    std::string_view unknown, const std::vector<std::string_view>& known);

}  // namespace ballast::config

#endif  // BALLAST_CONFIG_CONFIG_H_
