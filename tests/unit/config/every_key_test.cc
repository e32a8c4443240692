// Every key of config/example.yaml reaches the component that uses it.
//
// The table below maps each leaf key path of the example (sequence items by
// index) to a different valid value and to an accessor of what the
// component receives: the engine's TargetSpec, or the options and reads
// control::PlanSources gives each client (the function Poller::Create builds
// its clients from). Changing the key must change what the accessor reads.
// A key added to the example without a row fails the test, and so does a
// row whose key no longer changes what its component receives (a key read
// and then dropped, as Redis tls.insecureSkipVerify once was).
#include <algorithm>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/control/poller.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace ballast::config {
namespace {

using control::SourcePlan;

const std::string kExample =
    std::string(BALLAST_SOURCE_DIR) + "/config/example.yaml";

// What the components of a config receive.
struct Reached {
  Config config;
  SourcePlan plan;

  const StateConfig& State() const { return config.state.value(); }

  // The engine is given each target's spec as is (the daemon's Tick).
  const TargetSpec& Spec(size_t t) const { return config.targets.at(t).spec; }

  // The Redis client reading input `i` of target `t`, and that input's read.
  std::string RedisOf(size_t t, int i) const {
    for (const SourcePlan::Redis& r : plan.redis) {
      for (size_t k = 0; k < r.slots.size(); ++k) {
        if (r.slots[k].target == t && r.slots[k].input == i) return r.name;
      }
    }
    return "<none>";
  }
  source::CeleryInputSpec CeleryOf(size_t t, int i) const {
    for (const SourcePlan::Redis& r : plan.redis) {
      for (size_t k = 0; k < r.slots.size(); ++k) {
        if (r.slots[k].target == t && r.slots[k].input == i) {
          return r.inputs.at(k);
        }
      }
    }
    return {};
  }
  const source::CeleryRedisSourceOptions& Redis(const std::string& n) const {
    for (const SourcePlan::Redis& r : plan.redis) {
      if (r.name == n) return r.options;
    }
    static const source::CeleryRedisSourceOptions kNone;
    return kNone;
  }

  // The Prometheus client asking the query of input `i` of target `t` (-1:
  // currentReplicas), and the query.
  std::string PrometheusOf(size_t t, int i) const {
    for (const SourcePlan::Prometheus& p : plan.prometheus) {
      for (const auto& [slot, query] : p.queries) {
        if (slot.target == t && slot.input == i) return p.name;
      }
    }
    return "<none>";
  }
  source::PrometheusQuery QueryOf(size_t t, int i) const {
    for (const SourcePlan::Prometheus& p : plan.prometheus) {
      for (const auto& [slot, query] : p.queries) {
        if (slot.target == t && slot.input == i) return query;
      }
    }
    return {};
  }
  const net::HttpClientOptions& Prometheus(const std::string& n) const {
    for (const SourcePlan::Prometheus& p : plan.prometheus) {
      if (p.name == n) return p.options.http;
    }
    static const net::HttpClientOptions kNone;
    return kNone;
  }

  SourcePlan::ScaleRead Scale(size_t t) const {
    for (const SourcePlan::ScaleRead& s : plan.scale_reads) {
      if (s.target == t) return s;
    }
    return {};
  }

  // The servers are started with these config structs as they are (the
  // daemon's StartServers).
  const ExternalMetricsServerConfig& ExternalMetrics() const {
    return config.server.external_metrics.value();
  }
};

// Values as text, to compare and to print.
std::string Str(int32_t x) { return absl::StrCat(x); }
std::string Str(double x) { return absl::StrCat(x); }
std::string Str(bool x) { return x ? "true" : "false"; }
std::string Str(absl::Duration d) { return absl::FormatDuration(d); }
template <typename E>
requires std::is_enum_v<E> std::string Str(E e) {
  return absl::StrCat("enum ", static_cast<int>(e));
}
template <typename T>
std::string Str(const std::optional<T>& x) {
  return x ? Str(*x) : "nullopt";
}
std::string Str(const std::vector<std::string>& v) {
  return absl::StrCat("[", absl::StrJoin(v, ","), "]");
}

using Accessor = std::function<std::string(const Reached&)>;
using Prepare = std::function<void(YAML::Node&)>;

struct Row {
  std::string path;      // leaf key path in example.yaml
  std::string value;     // a different valid value (a YAML scalar)
  Accessor reached;      // what its component receives
  Prepare prepare = {};  // other edits that value needs to be valid
};

// The node at `path` ("a.b[2].c"). Rebinds with reset(): assigning a node
// would overwrite the one it refers to.
YAML::Node At(YAML::Node root, const std::string& path) {
  YAML::Node node;
  node.reset(root);
  auto step = [&node](const auto& key) {
    YAML::Node next;
    next.reset(node[key]);
    node.reset(next);
  };
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    const size_t open = std::min(part.find('['), part.size());
    step(std::string(part.substr(0, open)));
    part.remove_prefix(open);
    while (!part.empty()) {  // "[i]", maybe more
      const size_t close = part.find(']');
      step(std::stoi(std::string(part.substr(1, close - 1))));
      part.remove_prefix(close + 1);
    }
  }
  return node;
}

// Every leaf key path under `node`.
void Leaves(const YAML::Node& node, const std::string& path,
            std::vector<std::string>* out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      const std::string key = entry.first.as<std::string>();
      Leaves(entry.second, path.empty() ? key : absl::StrCat(path, ".", key),
             out);
    }
  } else if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      Leaves(node[i], absl::StrCat(path, "[", i, "]"), out);
    }
  } else {
    out->push_back(path);
  }
}

std::string Emit(const YAML::Node& root) {
  YAML::Emitter out;
  out << root;
  return out.c_str();
}

// Parses and plans `yaml`; a failed test names why.
std::optional<Reached> Reach(const std::string& yaml) {
  ConfigErrors errors;
  std::optional<Config> config = ParseConfig(yaml, "example.yaml", &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.ToString();
  if (!config) return std::nullopt;
  absl::StatusOr<SourcePlan> plan = control::PlanSources(*config);
  if (!plan.ok()) {
    ADD_FAILURE() << plan.status();
    return std::nullopt;
  }
  return Reached{.config = *std::move(config), .plan = *std::move(plan)};
}

// A second source of each kind, for rows that move an input to it.
void AddRedis(YAML::Node& root) {
  root["sources"]["redis"]["other"]["address"] = "127.0.0.3:6379";
}
void AddPrometheus(YAML::Node& root) {
  root["sources"]["prometheus"]["other"]["url"] = "http://127.0.0.3:9090";
}

std::vector<Row> Table() {
  const std::string em = "server.externalMetrics.";
  const std::string t0 = "targets[0].";
  const std::string up = "targets[0].behavior.scaleUp.";
  const std::string down = "targets[0].behavior.scaleDown.";
  const std::string burst = "targets[0].behavior.burst.";
  return {
      // sources: the client options PlanSources gives each client.
      {"sources.redis.main.address", "127.0.0.2:6380",
       [](const Reached& r) { return r.Redis("main").redis.Address(); }},
      {"sources.redis.main.db", "3",
       [](const Reached& r) { return Str(r.Redis("main").redis.db); }},
      {"sources.redis.main.timeoutMs", "750",
       [](const Reached& r) {
         return Str(r.Redis("main").redis.command_timeout);
       }},
      {"sources.redis.main.connectTimeoutMs", "900",
       [](const Reached& r) {
         return Str(r.Redis("main").redis.connect_timeout);
       }},
      {"sources.redis.main.reservedIntervalSeconds", "60",
       [](const Reached& r) { return Str(r.Redis("main").reserved_interval); }},
      {"sources.redis.main.discoveryIntervalSeconds", "600",
       [](const Reached& r) {
         return Str(r.Redis("main").discovery_interval);
       }},
      {"sources.prometheus.main.maxInFlight", "8",
       [](const Reached& r) {
         return Str(r.Prometheus("main").max_in_flight);
       }},
      {"sources.prometheus.main.url", "https://127.0.0.2:9091",
       [](const Reached& r) { return r.Prometheus("main").base_url; }},
      {"sources.prometheus.main.timeoutMs", "2500",
       [](const Reached& r) { return Str(r.Prometheus("main").timeout); }},
      // The scale reader's API server access (KubernetesClientOptions).
      {"kubernetes.kubeconfig", "/etc/other/kubeconfig",
       [](const Reached& r) {
         return r.plan.kubernetes ? r.plan.kubernetes->kubeconfig : "<none>";
       }},

      // state: the state store's connection and the election's options.
      {"state.redis.address", "redis://127.0.0.2:6390/2",
       [](const Reached& r) {
         return absl::StrCat(r.State().redis.Address(), "/",
                             r.State().redis.db);
       }},
      {"state.redis.timeoutMs", "3000",
       [](const Reached& r) { return Str(r.State().redis.command_timeout); }},
      {"state.keyPrefix",
       "other:", [](const Reached& r) { return r.State().key_prefix; }},
      {"state.removedTargetGraceSeconds", "60",
       [](const Reached& r) { return Str(r.State().removed_target_grace); }},
      {"state.staleAfterSeconds", "90",
       [](const Reached& r) { return Str(r.State().stale_after); }},
      {"state.leaderElection.lock", "redis",
       [](const Reached& r) {
         return Str(r.State().lock == StateConfig::Lock::kRedis);
       }},
      {"state.leaderElection.leaseName", "other",
       [](const Reached& r) { return r.State().lease_name; }},
      {"state.leaderElection.leaseNamespace", "ops",
       [](const Reached& r) { return r.State().lease_namespace; }},
      {"state.leaderElection.identityEnv", "HOSTNAME",
       [](const Reached& r) { return r.State().identity_env; }},
      {"state.leaderElection.leaseDurationSeconds", "20",
       [](const Reached& r) { return Str(r.State().lease_duration); }},
      {"state.leaderElection.renewDeadlineSeconds", "12",
       [](const Reached& r) { return Str(r.State().renew_deadline); }},
      {"state.leaderElection.retryPeriodSeconds", "3",
       [](const Reached& r) { return Str(r.State().retry_period); }},

      // server: the daemon's tick and the servers' own config structs.
      {"server.pollIntervalSeconds", "20",
       [](const Reached& r) {
         return Str(r.config.server.poll_interval_seconds);
       }},
      {em + "listen", "0.0.0.0:7443",
       [](const Reached& r) { return r.ExternalMetrics().listen; }},
      {em + "tlsCertFile", "/tls2/tls.crt",
       [](const Reached& r) { return r.ExternalMetrics().tls_cert_file; }},
      {em + "tlsKeyFile", "/tls2/tls.key",
       [](const Reached& r) { return r.ExternalMetrics().tls_key_file; }},
      {em + "authentication.mode", "Files",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authentication_mode);
       }},
      {em + "authentication.refreshSeconds", "20",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authentication_refresh_seconds);
       }},
      {em + "authorization.mode", "AlwaysAllow",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authorization_mode);
       }},
      {em + "authorization.allowedTtlSeconds", "20",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authorization_allowed_ttl_seconds);
       }},
      {em + "authorization.deniedTtlSeconds", "30",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authorization_denied_ttl_seconds);
       }},
      {em + "authorization.timeoutMs", "6000",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().authorization_timeout_ms);
       }},
      {em + "maxConnections", "100",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().max_connections);
       }},
      {em + "requestTimeoutMs", "5000",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().request_timeout_ms);
       }},
      {em + "idleTimeoutMs", "60000",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().idle_timeout_ms);
       }},
      {em + "maxRequestBytes", "4096",
       [](const Reached& r) {
         return Str(r.ExternalMetrics().max_request_bytes);
       }},
      {"server.telemetry.listen", "127.0.0.1:9102",
       [](const Reached& r) { return r.config.server.telemetry->listen; }},
      {"server.telemetry.targetMetrics", "full",
       [](const Reached& r) {
         return Str(r.config.server.telemetry->target_metrics);
       }},

      // targets[0]: the engine's spec and the sources' reads.
      {t0 + "name", "asr-w", [](const Reached& r) { return r.Spec(0).name; }},
      {t0 + "minReplicas", "1",
       [](const Reached& r) { return Str(r.Spec(0).min_replicas); }},
      {t0 + "maxReplicas", "30",
       [](const Reached& r) { return Str(r.Spec(0).max_replicas); }},
      {t0 + "mode", "hpa", [](const Reached& r) { return Str(r.Spec(0).mode); },
       [](YAML::Node& root) {
         // What mode hpa does not have.
         YAML::Node t = root["targets"][0];
         t["inputs"][0].remove("drain");
         t["inputs"][2].remove("trend");
         t["behavior"].remove("burst");
         t["behavior"]["scaleDown"].remove("minChangePods");
         t["behavior"]["scaleDown"].remove("minChangeRatio");
       }},
      {t0 + "tolerance", "0.2",
       [](const Reached& r) { return Str(r.Spec(0).tolerance); }},
      {t0 + "currentReplicas.static", "3",
       [](const Reached& r) { return Str(r.Spec(0).initial_replicas); }},
      {t0 + "inputs[0].name", "queued",
       [](const Reached& r) { return r.Spec(0).inputs.at(0).name; }},
      {t0 + "inputs[0].celery.source", "other",
       [](const Reached& r) { return r.RedisOf(0, 0); }, AddRedis},
      {t0 + "inputs[0].celery.queues[0]", "asr2",
       [](const Reached& r) { return Str(r.CeleryOf(0, 0).queues); }},
      {t0 + "inputs[0].celery.includeReserved", "false",
       [](const Reached& r) { return Str(r.CeleryOf(0, 0).include_reserved); }},
      {t0 + "inputs[0].averageValue", "40",
       [](const Reached& r) { return Str(r.Spec(0).inputs.at(0).target); }},
      {t0 + "inputs[0].drain.seconds", "200",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(0).drain->seconds);
       }},
      {t0 + "inputs[0].drain.windowSeconds", "30",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(0).drain->window_seconds);
       }},
      {t0 + "inputs[0].drain.throughputWindowSeconds", "300",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(0).drain->throughput_window_seconds);
       }},
      {t0 + "inputs[0].slo.maxPerReplica", "70",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(0).slo.max_per_replica);
       }},
      {t0 + "inputs[1].name", "p99_latency",
       [](const Reached& r) { return r.Spec(0).inputs.at(1).name; }},
      {t0 + "inputs[1].prometheus.source", "other",
       [](const Reached& r) { return r.PrometheusOf(0, 1); }, AddPrometheus},
      {t0 + "inputs[1].prometheus.query", "up",
       [](const Reached& r) { return r.QueryOf(0, 1).promql; }},
      {t0 + "inputs[1].prometheus.aggregate", "max",
       [](const Reached& r) { return Str(r.QueryOf(0, 1).aggregate); }},
      {t0 + "inputs[1].value", "3",
       [](const Reached& r) { return Str(r.Spec(0).inputs.at(1).target); }},
      {t0 + "inputs[1].smoothing.ewmaHalfLifeSeconds", "60",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(1).smoothing.half_life_seconds);
       }},
      {t0 + "inputs[1].slo.max", "3",
       [](const Reached& r) { return Str(r.Spec(0).inputs.at(1).slo.max); }},
      {t0 + "inputs[2].name", "rps",
       [](const Reached& r) { return r.Spec(0).inputs.at(2).name; },
       [](YAML::Node& root) {
         root["targets"][0]["behavior"]["burst"]["inputs"][0] = "rps";
       }},
      {t0 + "inputs[2].value", "200",
       [](const Reached& r) { return Str(r.Spec(0).inputs.at(2).target); }},
      {t0 + "inputs[2].smoothing.quantile", "0.5",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(2).smoothing.quantile);
       }},
      {t0 + "inputs[2].smoothing.windowSeconds", "60",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(2).smoothing.window_seconds);
       }},
      {t0 + "inputs[2].trend.horizonSeconds", "45",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(2).trend->horizon_seconds);
       }},
      {t0 + "inputs[2].trend.windowSeconds", "90",
       [](const Reached& r) {
         return Str(r.Spec(0).inputs.at(2).trend->window_seconds);
       }},
      {up + "stabilizationWindowSeconds", "30",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.stabilization_window_seconds);
       }},
      {up + "tolerance", "0.02",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.tolerance);
       }},
      {up + "selectPolicy", "Min",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.select_policy);
       }},
      {up + "policies[0].type", "Percent",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(0).type);
       }},
      {up + "policies[0].value", "5",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(0).value);
       }},
      {up + "policies[0].periodSeconds", "30",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(0).period_seconds);
       }},
      {up + "policies[1].type", "Pods",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(1).type);
       }},
      {up + "policies[1].value", "50",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(1).value);
       }},
      {up + "policies[1].periodSeconds", "60",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_up.policies.at(1).period_seconds);
       }},
      {down + "stabilizationWindowSeconds", "120",
       [](const Reached& r) {
         return Str(
             r.Spec(0).behavior->scale_down.stabilization_window_seconds);
       }},
      {down + "policies[0].type", "Pods",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_down.policies.at(0).type);
       }},
      {down + "policies[0].value", "50",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_down.policies.at(0).value);
       }},
      {down + "policies[0].periodSeconds", "60",
       [](const Reached& r) {
         return Str(
             r.Spec(0).behavior->scale_down.policies.at(0).period_seconds);
       }},
      {down + "minChangePods", "3",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_down.min_change_pods);
       }},
      {down + "minChangeRatio", "0.2",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->scale_down.min_change_ratio);
       }},
      {burst + "threshold", "3",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->burst->threshold);
       }},
      {burst + "windowSeconds", "10",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->burst->window_seconds);
       }},
      {burst + "stableWindowSeconds", "30",
       [](const Reached& r) {
         return Str(r.Spec(0).behavior->burst->stable_window_seconds);
       }},
      {burst + "inputs[0]", "backlog",
       [](const Reached& r) { return Str(r.Spec(0).behavior->burst->inputs); }},
      {t0 + "fallback.failureThreshold", "5",
       [](const Reached& r) {
         return Str(r.Spec(0).fallback->failure_threshold);
       }},
      {t0 + "fallback.replicas", "8",
       [](const Reached& r) { return Str(r.Spec(0).fallback->replicas); }},
      {t0 + "fallback.behavior", "currentReplicas",
       [](const Reached& r) { return Str(r.Spec(0).fallback->behavior); }},

      // targets[1]
      {"targets[1].name", "tts-w",
       [](const Reached& r) { return r.Spec(1).name; }},
      {"targets[1].maxReplicas", "11",
       [](const Reached& r) { return Str(r.Spec(1).max_replicas); }},
      {"targets[1].currentReplicas.kubernetes.namespace", "voice",
       [](const Reached& r) { return r.Scale(1).namespace_; }},
      {"targets[1].currentReplicas.kubernetes.deployment", "tts-w2",
       [](const Reached& r) { return r.Scale(1).deployment; }},
      {"targets[1].inputs[0].name", "queued",
       [](const Reached& r) { return r.Spec(1).inputs.at(0).name; }},
      {"targets[1].inputs[0].celery.source", "other",
       [](const Reached& r) { return r.RedisOf(1, 0); }, AddRedis},
      {"targets[1].inputs[0].celery.queues[0]", "tts2",
       [](const Reached& r) { return Str(r.CeleryOf(1, 0).queues); }},
      {"targets[1].inputs[0].celery.queues[1]", "tts.urgent",
       [](const Reached& r) { return Str(r.CeleryOf(1, 0).queues); }},
      {"targets[1].inputs[0].averageValue", "25",
       [](const Reached& r) { return Str(r.Spec(1).inputs.at(0).target); }},
      {"targets[1].minReplicas", "1",
       [](const Reached& r) { return Str(r.Spec(1).min_replicas); }},
      {"targets[1].inputs[0].activation", "7",
       [](const Reached& r) { return Str(r.Spec(1).inputs.at(0).activation); }},
      {"targets[1].behavior.scaleDown.stabilizationWindowSeconds", "700",
       [](const Reached& r) {
         return Str(
             r.Spec(1).behavior->scale_down.stabilization_window_seconds);
       }},

      // targets[2]
      {"targets[2].name", "gw",
       [](const Reached& r) { return r.Spec(2).name; }},
      {"targets[2].minReplicas", "4",
       [](const Reached& r) { return Str(r.Spec(2).min_replicas); }},
      {"targets[2].maxReplicas", "13",
       [](const Reached& r) { return Str(r.Spec(2).max_replicas); }},
      {"targets[2].currentReplicas.prometheus.source", "other",
       [](const Reached& r) { return r.PrometheusOf(2, -1); }, AddPrometheus},
      {"targets[2].currentReplicas.prometheus.query", "up",
       [](const Reached& r) { return r.QueryOf(2, -1).promql; }},
      {"targets[2].inputs[0].name", "rps2",
       [](const Reached& r) { return r.Spec(2).inputs.at(0).name; }},
      {"targets[2].inputs[0].prometheus.source", "other",
       [](const Reached& r) { return r.PrometheusOf(2, 0); }, AddPrometheus},
      {"targets[2].inputs[0].prometheus.query", "up",
       [](const Reached& r) { return r.QueryOf(2, 0).promql; }},
      {"targets[2].inputs[0].prometheus.emptyAs", "1",
       [](const Reached& r) { return Str(r.QueryOf(2, 0).empty_as); }},
      {"targets[2].inputs[0].averageValue", "160",
       [](const Reached& r) { return Str(r.Spec(2).inputs.at(0).target); }},
  };
}

TEST(EveryKey, TheTableCoversEveryKeyOfTheExample) {
  std::vector<std::string> leaves;
  Leaves(YAML::LoadFile(kExample), "", &leaves);
  std::set<std::string> covered;
  for (const Row& row : Table()) {
    EXPECT_TRUE(covered.insert(row.path).second) << "twice: " << row.path;
  }
  std::set<std::string> in_example(leaves.begin(), leaves.end());
  for (const std::string& leaf : in_example) {
    EXPECT_TRUE(covered.contains(leaf))
        << "config/example.yaml has key " << leaf
        << " that no row of this test follows to its component";
  }
  for (const std::string& path : covered) {
    EXPECT_TRUE(in_example.contains(path))
        << "row " << path << " names no key of config/example.yaml";
  }
  EXPECT_GE(leaves.size(), 80u);
}

TEST(EveryKey, EachKeyReachesItsComponent) {
  const YAML::Node example = YAML::LoadFile(kExample);
  std::optional<Reached> before = Reach(Emit(example));
  ASSERT_TRUE(before.has_value());
  for (const Row& row : Table()) {
    SCOPED_TRACE(row.path);
    YAML::Node root = YAML::Clone(example);
    if (row.prepare) row.prepare(root);
    YAML::Node node = At(root, row.path);
    ASSERT_TRUE(node.IsScalar()) << "not a leaf of the example";
    ASSERT_NE(node.Scalar(), row.value) << "the row's value is the example's";
    node = row.value;
    std::optional<Reached> after = Reach(Emit(root));
    ASSERT_TRUE(after.has_value()) << Emit(root);
    EXPECT_NE(row.reached(*before), row.reached(*after))
        << "setting " << row.path << " to " << row.value
        << " did not change what its component receives";
  }
}

// The key that once passed check-config and never reached the client.
TEST(EveryKey, RedisTlsReachesTheRedisClient) {
  YAML::Node root = YAML::LoadFile(kExample);
  std::optional<Reached> plain = Reach(Emit(root));
  root["sources"]["redis"]["main"]["tls"]["insecureSkipVerify"] = true;
  root["sources"]["redis"]["main"]["tls"]["serverName"] = "redis.internal";
  std::optional<Reached> tls = Reach(Emit(root));
  ASSERT_TRUE(plain && tls);
  EXPECT_FALSE(plain->Redis("main").redis.tls);
  EXPECT_FALSE(plain->Redis("main").redis.insecure_skip_verify);
  EXPECT_TRUE(tls->Redis("main").redis.tls);
  EXPECT_TRUE(tls->Redis("main").redis.insecure_skip_verify);
  EXPECT_EQ(tls->Redis("main").redis.server_name, "redis.internal");
}

// A key no component reads is refused by name, not dropped.
TEST(EveryKey, AnUnknownKeyIsRejectedByName) {
  YAML::Node root = YAML::LoadFile(kExample);
  root["sources"]["redis"]["main"]["tls"]["insecureSkipVerfy"] = true;
  ConfigErrors errors;
  EXPECT_FALSE(ParseConfig(Emit(root), "example.yaml", &errors).has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "sources.redis.main.tls.insecureSkipVerfy");
}

}  // namespace
}  // namespace ballast::config
