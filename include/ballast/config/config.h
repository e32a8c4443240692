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

struct RedisSourceConfig {
  std::string address = "127.0.0.1:6379";  // host:port
  int32_t db = 0;
  int32_t timeout_ms = 500;
};

struct PrometheusSourceConfig {
  std::string url = "http://127.0.0.1:9090";
  int32_t timeout_ms = 2000;
};

struct CeleryInput {
  std::string source;  // key into Config::redis
  std::vector<std::string> queues;
  bool include_reserved = false;
};

struct PrometheusInput {
  std::string source;  // key into Config::prometheus
  std::string query;
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

struct ServerConfig {
  int32_t poll_interval_seconds = 15;
};

struct Config {
  std::map<std::string, RedisSourceConfig> redis;
  std::map<std::string, PrometheusSourceConfig> prometheus;
  ServerConfig server;
  std::vector<TargetConfig> targets;
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
