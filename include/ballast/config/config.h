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
//
// One type per setting: where a block only configures a component, the
// config holds that component's own option type (TargetSpec for the engine,
// source::CeleryRedisSourceOptions, source::CeleryInputSpec,
// source::PrometheusClientOptions, source::PrometheusQuery from the plain
// option headers of ballast/source), so nothing translates a setting on its
// way; tests/unit/config/every_key_test.cc follows every key of
// config/example.yaml to what its component receives. Secrets stay
// references (SecretRef, or the env/file names of HttpClientOptions) and are
// read when the component starts.
#ifndef BALLAST_CONFIG_CONFIG_H_
#define BALLAST_CONFIG_CONFIG_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/core/target_spec.h"
#include "ballast/net/redis_options.h"
#include "ballast/source/celery_options.h"
#include "ballast/source/kubernetes_client.h"
#include "ballast/source/prometheus_options.h"

namespace ballast::config {

// A secret given by reference, never inline: read from an environment
// variable or a file (re-read when it changes). Both empty: no secret.
struct SecretRef {
  std::string env;
  std::string file;

  bool operator==(const SecretRef&) const = default;
};

// The secret `ref` names: the variable's value, or the file's text without
// trailing whitespace; "" when `ref` is empty. InvalidArgument naming `what`
// (e.g. "state.redis.password") when the variable is unset or the file
// unreadable.
absl::StatusOr<std::string> ReadSecret(const SecretRef& ref,
                                       absl::string_view what);

// `sources.redis.<name>`: a Redis server that Celery uses as its broker,
// held as the CeleryRedisSource's own options (address, db, username, TLS,
// timeouts in `redis`; prioritySteps, separator, globalKeyPrefix in
// `broker`; the two intervals). The password is a reference until the
// source starts: control::RedisSourceOptions reads it into
// `options.redis.password`, which the config leaves empty.
struct RedisSourceConfig {
  source::CeleryRedisSourceOptions options;
  SecretRef password;
};

// `celery:` of an input: which `sources.redis` entry, and what the
// CeleryRedisSource reads for it. `discoverQueues: true` adds the pattern
// `*` (every queue found in `_kombu.binding.*`) to `read.queues`.
struct CeleryInput {
  std::string source;  // key into Config::redis
  source::CeleryInputSpec read;
};

// `prometheus:` of an input or of currentReplicas: which
// `sources.prometheus` entry, and the query the PrometheusClient runs.
struct PrometheusInput {
  std::string source;  // key into Config::prometheus
  source::PrometheusQuery query;
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
  // `targetMetrics`: how much of each target /metrics shows (README,
  // "telemetry"). The fleet-wide counts are there in every mode.
  enum class TargetMetrics {
    kNone,     // none: only the fleet-wide counts
    kSummary,  // summary (default): recommendation and active limit
    kFull,     // full: also desired, current, and each input's value and age
  };

  std::string listen = "0.0.0.0:8080";
  TargetMetrics target_metrics = TargetMetrics::kSummary;

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

// `state`: where the leader writes every target's history after each tick
// and every replica reads it (state/redis_state_store.h), and how the
// replicas elect that leader (state/leader.h). Read once, at start.
struct StateConfig {
  // `state.redis`: address, db, username, password, tls and timeouts as in
  // `sources.redis` (the password by reference, read at start).
  net::RedisOptions redis;
  SecretRef password;
  std::string key_prefix = "ballast:";  // `keyPrefix`
  // `removedTargetGraceSeconds`: a target no longer in the config keeps its
  // record this long (a reload that brings it back restores it).
  absl::Duration removed_target_grace = absl::Hours(1);
  // `staleAfterSeconds`: /readyz fails when the snapshot this replica
  // serves is older (default: lease duration + two poll intervals, and at
  // least three poll intervals: a failover does not make every replica
  // unready).
  std::optional<absl::Duration> stale_after;

  // `state.leaderElection`.
  enum class Lock { kRedis, kKubernetes };
  Lock lock = Lock::kRedis;  // `lock`: redis (the state store) or kubernetes
  std::string lease_name = "ballast";  // `leaseName` (a Lease, or the key)
  // `leaseNamespace`; empty: the pod's namespace (POD_NAMESPACE, else the
  // service account's namespace file), else "default".
  std::string lease_namespace;
  // `identityEnv`: the variable holding this replica's identity (the pod
  // name from the downward API); unset or empty: the host name.
  std::string identity_env = "POD_NAME";
  absl::Duration lease_duration = absl::Seconds(15);  // leaseDurationSeconds
  absl::Duration renew_deadline = absl::Seconds(10);  // renewDeadlineSeconds
  absl::Duration retry_period = absl::Seconds(2);     // retryPeriodSeconds

  bool operator==(const StateConfig&) const = default;
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
  source::KubernetesAccess kubernetes;
  std::map<std::string, RedisSourceConfig> redis;
  // `sources.prometheus.<name>`, as the PrometheusClient's own options (the
  // basic auth password by reference: the client reads the variable or
  // file).
  std::map<std::string, source::PrometheusClientOptions> prometheus;
  ServerConfig server;
  std::optional<StateConfig> state;
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
