// The config schema: which keys exist, their types, defaults and ranges, and
// the checks that span several keys. The reading machinery is in
// yaml_reader.h; this file only says what a ballast config is.
#include "ballast/config/config.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "ballast/net/listen_address.h"
#include "ballast/net/url_text.h"
#include "yaml_reader.h"

namespace ballast::config {
namespace {

using internal::Between;
using internal::Convert;
using internal::ErrorSink;
using internal::kAnyNumber;
using internal::kNonNegative;
using internal::kPositive;
using internal::MapReader;
using internal::Need;
using internal::Range;
using internal::Value;

constexpr Need kRequired = Need::kRequired;

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool IsDnsLabel(absl::string_view s) {
  auto alnum = [](char c) {
    return absl::ascii_islower(c) || absl::ascii_isdigit(c);
  };
  return !s.empty() && s.size() <= 63 && alnum(s.front()) && alnum(s.back()) &&
         std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '-'; });
}

// RFC 1123 subdomain (Deployment names): dot-separated labels, at most 253.
bool IsDnsSubdomain(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(s, '.')) {
    if (!IsDnsLabel(label)) return false;
  }
  return true;
}

// Input names become metric label values and CSV columns.
bool IsInputName(absl::string_view s) {
  return !s.empty() && (absl::ascii_islower(s[0]) || s[0] == '_') &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_';
         });
}

bool IsHttpUrl(absl::string_view s) {
  for (absl::string_view scheme : {"http://", "https://"}) {
    if (absl::StartsWith(s, scheme) && s.size() > scheme.size()) return true;
  }
  return false;
}

// Reads a string key and checks it with `valid`, explaining with `rule`.
bool ReadChecked(MapReader& r, absl::string_view key, std::string* out,
                 bool (*valid)(absl::string_view), absl::string_view rule,
                 Need need = Need::kOptional) {
  std::string text;
  if (!r.Read(key, &text, internal::kAnyNumber, need)) return false;
  if (!valid(text)) {
    r.Error(*r.Find(key),
            absl::StrCat("invalid value '", net::RedactUrlUserinfo(text),
                         "': ", rule));
    return false;
  }
  *out = std::move(text);
  return true;
}

constexpr absl::string_view kDnsLabelRule =
    "use lowercase letters, digits and '-', starting and ending with a "
    "letter or digit, at most 63 characters (RFC 1123 label)";

// Reports a name seen before in the same list, at its second occurrence.
class NameSet {
 public:
  void Check(MapReader& r, absl::string_view key, const std::string& name,
             absl::string_view what) {
    for (const auto& [seen, line] : seen_) {
      if (seen == name) {
        r.Error(*r.Find(key),
                absl::StrCat("duplicate ", what, " '", name,
                             "' (first defined at line ", line, ")"));
        return;
      }
    }
    seen_.emplace_back(name, r.Find(key)->mark.line + 1);
  }

 private:
  std::vector<std::pair<std::string, int>> seen_;
};

class Loader {
 public:
  explicit Loader(ErrorSink* sink) : sink_(sink) {}

  Config Load(const YAML::Node& root) {
    MapReader top(sink_, Value{.node = root, .path = "", .mark = root.Mark()});
    if (!top.valid()) return config_;
    if (std::optional<MapReader> kube = top.Map("kubernetes")) {
      kube->Read("kubeconfig", &config_.kubernetes.kubeconfig);
      kube->Read("context", &config_.kubernetes.context);
      if (!config_.kubernetes.context.empty() &&
          config_.kubernetes.kubeconfig.empty()) {
        kube->Error(*kube->Find("context"),
                    "a context needs a kubeconfig (in a pod, ballast uses "
                    "its service account)");
      }
      kube->RejectUnknownKeys();
    }
    if (std::optional<MapReader> sources = top.Map("sources")) {
      ReadSources(*sources);
    }
    if (std::optional<MapReader> server = top.Map("server")) {
      ReadServer(*server);
    }
    if (std::optional<MapReader> state = top.Map("state")) {
      ReadState(*state);
    }
    if (auto targets = top.List("targets", kRequired)) {
      NameSet names;
      for (const Value& item : *targets) {
        MapReader t(sink_, item);
        if (t.valid()) config_.targets.push_back(ReadTarget(t, names));
      }
    }
    top.RejectUnknownKeys();
    return config_;
  }

 private:
  void ReadSources(MapReader& sources) {
    ReadNamed(sources, "redis", &config_.redis,
              [](MapReader& r, RedisSourceConfig& c) {
                ReadRedisConnection(r, c.options.redis, c.password);
                source::CeleryBrokerOptions& broker = c.options.broker;
                ReadPrioritySteps(r, &broker.priority_steps);
                r.Read("separator", &broker.separator);
                r.Read("globalKeyPrefix", &broker.global_keyprefix);
                ReadDuration(r, "reservedIntervalSeconds", absl::Seconds(1),
                             Between(1, 3600), &c.options.reserved_interval);
                ReadDuration(r, "discoveryIntervalSeconds", absl::Seconds(1),
                             Between(1, 86400), &c.options.discovery_interval);
              });
    ReadNamed(sources, "prometheus", &config_.prometheus,
              [](MapReader& r, source::PrometheusClientOptions& c) {
                net::HttpClientOptions& h = c.http;
                if (ReadChecked(r, "url", &h.base_url, IsHttpUrl,
                                "expected an http:// or https:// URL")) {
                  if (net::UrlUserinfoEnd(h.base_url) != 0) {
                    r.Error(*r.Find("url"),
                            "credentials in the URL are not accepted: use "
                            "basicAuth or bearerTokenFile");
                  }
                }
                ReadDuration(r, "timeoutMs", absl::Milliseconds(1), kPositive,
                             &h.timeout);
                // https:// in `url` turns TLS on; `tls` only tunes it.
                if (std::optional<Tls> tls = ReadTls(r)) {
                  if (absl::StartsWithIgnoreCase(h.base_url, "http://")) {
                    r.Error(*r.Find("tls"),
                            "tls applies to https:// URLs only: this url is "
                            "http://, so these settings would have no effect");
                  }
                  h.ca_file = std::move(tls->ca_file);
                  h.tls_server_name = std::move(tls->server_name);
                  h.verify_peer = !tls->insecure_skip_verify;
                }
                r.Read("bearerTokenFile", &h.bearer_token_file);
                if (std::optional<MapReader> auth = r.Map("basicAuth")) {
                  auth->Read("username", &h.basic_auth_user, kAnyNumber,
                             kRequired);
                  SecretRef password;
                  ReadSecret(*auth, "password", &password);
                  h.basic_auth_password_env = std::move(password.env);
                  h.basic_auth_password_file = std::move(password.file);
                  auth->RejectUnknownKeys();
                }
                if (std::optional<MapReader> headers = r.Map("headers")) {
                  for (auto& [name, value] : headers->Entries()) {
                    Convert(headers->sink(), value, kAnyNumber,
                            &h.headers.emplace_back(name, "").second);
                  }
                }
                r.Read("maxInFlight", &h.max_in_flight, Between(1, 1024));
              });
    sources.RejectUnknownKeys();
  }

  // How to reach a Redis server, the same keys for `sources.redis.<name>`
  // and `state.redis`: address, db, username, password, tls, timeouts.
  static void ReadRedisConnection(MapReader& r, net::RedisOptions& redis,
                                  SecretRef& password) {
    ReadRedisAddress(r, redis);
    r.Read("db", &redis.db, kNonNegative);
    r.Read("username", &redis.username);
    ReadSecret(r, "password", &password);
    if (std::optional<Tls> tls = ReadTls(r)) {
      redis.tls = true;
      redis.ca_file = std::move(tls->ca_file);
      redis.server_name = std::move(tls->server_name);
      redis.insecure_skip_verify = tls->insecure_skip_verify;
    }
    ReadDuration(r, "connectTimeoutMs", absl::Milliseconds(1), kPositive,
                 &redis.connect_timeout);
    ReadDuration(r, "timeoutMs", absl::Milliseconds(1), kPositive,
                 &redis.command_timeout);
  }

  // `state:`, with its `redis` connection and `leaderElection`.
  void ReadState(MapReader& r) {
    StateConfig& c = config_.state.emplace();
    // One write carries every record: more than a Celery read.
    c.redis.command_timeout = absl::Seconds(2);
    if (std::optional<MapReader> redis = r.Map("redis", kRequired)) {
      ReadRedisConnection(*redis, c.redis, c.password);
      if (!redis->Find("address")) {
        redis->Error(redis->self(),
                     "state.redis needs an address (host:port or "
                     "redis://host:port/db)");
      }
      redis->RejectUnknownKeys();
    }
    r.Read("keyPrefix", &c.key_prefix);
    ReadDuration(r, "removedTargetGraceSeconds", absl::Seconds(1),
                 Between(0, 30 * 86400), &c.removed_target_grace);
    absl::Duration stale;
    if (ReadDuration(r, "staleAfterSeconds", absl::Seconds(1),
                     Between(1, 86400), &stale)) {
      c.stale_after = stale;
    }
    if (std::optional<MapReader> e = r.Map("leaderElection")) {
      using Lock = StateConfig::Lock;
      e->ReadEnum("lock", &c.lock,
                  {{"redis", Lock::kRedis}, {"kubernetes", Lock::kKubernetes}});
      e->Read("leaseName", &c.lease_name);
      e->Read("leaseNamespace", &c.lease_namespace);
      e->Read("identityEnv", &c.identity_env);
      ReadDuration(*e, "leaseDurationSeconds", absl::Seconds(1),
                   Between(1, 3600), &c.lease_duration);
      ReadDuration(*e, "renewDeadlineSeconds", absl::Seconds(1),
                   Between(1, 3600), &c.renew_deadline);
      ReadDuration(*e, "retryPeriodSeconds", absl::Seconds(1), Between(1, 3600),
                   &c.retry_period);
      // client-go's own checks (NewLeaderElector): the leader must give up
      // before anyone may take over, and retry within its deadline.
      if (c.lease_duration <= c.renew_deadline) {
        e->Error(e->self(),
                 "leaseDurationSeconds must be greater than "
                 "renewDeadlineSeconds (a leader steps down at its renew "
                 "deadline, before another replica may take the lease)");
      } else if (c.renew_deadline <= 1.2 * c.retry_period) {
        e->Error(e->self(),
                 "renewDeadlineSeconds must be greater than 1.2 x "
                 "retryPeriodSeconds (client-go's rule: the leader retries "
                 "at least once within its deadline)");
      }
      if (c.lease_name.empty()) {
        e->Error(*e->Find("leaseName"), "leaseName must not be empty");
      }
      e->RejectUnknownKeys();
    }
    r.RejectUnknownKeys();
  }

  // `address`: host:port, or a redis:// / rediss:// URL whose user and db
  // fill `username` and `db` (explicit keys win) and whose scheme sets TLS.
  static void ReadRedisAddress(MapReader& r, net::RedisOptions& c) {
    std::string text;
    if (!r.Read("address", &text)) return;
    if (absl::Status s = net::ParseRedisAddress(text, c); !s.ok()) {
      r.Error(*r.Find("address"), std::string(s.message()));
    }
  }

  // `<key>Env` or `<key>File`: a secret by reference, never inline.
  static void ReadSecret(MapReader& r, absl::string_view key, SecretRef* out) {
    const std::string env = absl::StrCat(key, "Env");
    const std::string file = absl::StrCat(key, "File");
    r.Read(env, &out->env);
    r.Read(file, &out->file);
    if (!out->env.empty() && !out->file.empty()) {
      r.Error(*r.Find(file),
              absl::StrCat("give only one of ", env, ", ", file));
    }
    if (std::optional<Value> inline_secret = r.Find(key)) {
      r.Error(
          *inline_secret,
          absl::StrCat("secrets are not written inline: use ", env,
                       " (an environment variable) or ", file, " (a file)"));
    }
  }

  // `tls:` of a source; present turns TLS on for Redis.
  struct Tls {
    std::string ca_file;      // empty: the system's CAs
    std::string server_name;  // SNI and verification name; empty: the host
    bool insecure_skip_verify = false;
  };
  static std::optional<Tls> ReadTls(MapReader& parent) {
    std::optional<MapReader> r = parent.Map("tls");
    if (!r) return std::nullopt;
    Tls tls;
    r->Read("caFile", &tls.ca_file);
    r->Read("serverName", &tls.server_name);
    r->Read("insecureSkipVerify", &tls.insecure_skip_verify);
    r->RejectUnknownKeys();
    return tls;
  }

  // A whole number of `unit`s (milliseconds, seconds) as a duration.
  static bool ReadDuration(MapReader& r, absl::string_view key,
                           absl::Duration unit, Range range,
                           absl::Duration* out) {
    int32_t n = 0;
    if (!r.Read(key, &n, range)) return false;
    *out = n * unit;
    return true;
  }

  static void ReadPrioritySteps(MapReader& r, std::vector<int>* out) {
    std::optional<std::vector<Value>> items = r.List("prioritySteps");
    if (!items) return;
    std::vector<int> steps;
    for (const Value& item : *items) {
      int32_t step = 0;
      if (!Convert(r.sink(), item, Between(0, 9), &step)) return;
      if (!steps.empty() && step <= steps.back()) {
        r.Error(item, "priority steps must be increasing");
        return;
      }
      steps.push_back(step);
    }
    if (steps.empty() || steps.front() != 0) {
      r.Error(*r.Find("prioritySteps"),
              "priority steps must start at 0 (kombu always has band 0)");
      return;
    }
    *out = std::move(steps);
  }

  void ReadServer(MapReader& server) {
    ServerConfig& c = config_.server;
    server.Read("pollIntervalSeconds", &c.poll_interval_seconds,
                Between(1, 3600));
    if (std::optional<MapReader> r = server.Map("externalMetrics")) {
      ExternalMetricsServerConfig& e = c.external_metrics.emplace();
      ReadListen(*r, &e.listen);
      r->Read("tlsCertFile", &e.tls_cert_file, kAnyNumber, kRequired);
      r->Read("tlsKeyFile", &e.tls_key_file, kAnyNumber, kRequired);
      r->Read("requestheaderClientCAFile", &e.requestheader_client_ca_file);
      if (auto names = r->List("requestheaderAllowedNames")) {
        for (const Value& v : *names) {
          Convert(*sink_, v, kAnyNumber,
                  &e.requestheader_allowed_names.emplace_back());
        }
      }
      using Authn = ExternalMetricsServerConfig::AuthenticationMode;
      using Authz = ExternalMetricsServerConfig::AuthorizationMode;
      if (std::optional<MapReader> a = r->Map("authentication")) {
        a->ReadEnum("mode", &e.authentication_mode,
                    {{"Files", Authn::kFiles}, {"Cluster", Authn::kCluster}});
        a->Read("refreshSeconds", &e.authentication_refresh_seconds,
                Between(1, 3600));
        a->RejectUnknownKeys();
      }
      if (e.authentication_mode == Authn::kCluster &&
          !e.requestheader_client_ca_file.empty()) {
        r->Error(*r->Find("requestheaderClientCAFile"),
                 "authentication.mode Cluster reads the front-proxy CA from "
                 "the cluster; remove requestheaderClientCAFile or use mode "
                 "Files");
      }
      if (std::optional<MapReader> a = r->Map("authorization")) {
        a->ReadEnum("mode", &e.authorization_mode,
                    {{"AlwaysAllow", Authz::kAlwaysAllow},
                     {"Delegated", Authz::kDelegated}});
        a->Read("allowedTtlSeconds", &e.authorization_allowed_ttl_seconds,
                Between(0, 3600));
        a->Read("deniedTtlSeconds", &e.authorization_denied_ttl_seconds,
                Between(0, 3600));
        a->Read("timeoutMs", &e.authorization_timeout_ms, Between(1, 60000));
        a->RejectUnknownKeys();
      }
      r->Read("maxConnections", &e.max_connections, Between(1, 100000));
      r->Read("requestTimeoutMs", &e.request_timeout_ms, kPositive);
      r->Read("idleTimeoutMs", &e.idle_timeout_ms, kPositive);
      r->Read("maxRequestBytes", &e.max_request_bytes, Between(1024, 16 << 20));
      r->RejectUnknownKeys();
    }
    if (std::optional<MapReader> r = server.Map("grpc")) {
      GrpcServerConfig& g = c.grpc.emplace();
      ReadListen(*r, &g.listen);
      r->Read("tlsCertFile", &g.tls_cert_file);
      r->Read("tlsKeyFile", &g.tls_key_file);
      r->Read("clientCAFile", &g.client_ca_file);
      if (g.tls_cert_file.empty() != g.tls_key_file.empty()) {
        r->Error(r->self(), "give both tlsCertFile and tlsKeyFile, or neither");
      } else if (!g.client_ca_file.empty() && g.tls_cert_file.empty()) {
        r->Error(*r->Find("clientCAFile"),
                 "clientCAFile needs tlsCertFile and tlsKeyFile");
      }
      r->RejectUnknownKeys();
    }
    if (std::optional<MapReader> r = server.Map("telemetry")) {
      TelemetryServerConfig& t = c.telemetry.emplace();
      ReadListen(*r, &t.listen);
      using Detail = TelemetryServerConfig::TargetMetrics;
      r->ReadEnum("targetMetrics", &t.target_metrics,
                  {{"none", Detail::kNone},
                   {"summary", Detail::kSummary},
                   {"full", Detail::kFull}});
      r->RejectUnknownKeys();
    }
    server.RejectUnknownKeys();
  }

  // The servers' own parser, so that what passes here binds.
  static void ReadListen(MapReader& r, std::string* out) {
    std::string text;
    if (!r.Read("listen", &text, internal::kAnyNumber)) return;
    if (absl::Status s = net::ParseListenAddress(text).status(); !s.ok()) {
      r.Error(*r.Find("listen"),
              absl::StrCat(s.message(),
                           "; e.g. 0.0.0.0:8080 (port 0 picks a free port)"));
      return;
    }
    *out = std::move(text);
  }

  // Reads the map `kind` of user-named entries, each by `read_fields`.
  template <typename SourceConfig, typename ReadFields>
  void ReadNamed(MapReader& parent, absl::string_view kind,
                 std::map<std::string, SourceConfig>* out,
                 ReadFields read_fields) {
    std::optional<MapReader> named = parent.Map(kind);
    if (!named) return;
    for (auto& [name, value] : named->Entries()) {
      MapReader r(sink_, value);
      read_fields(r, (*out)[name]);
      r.RejectUnknownKeys();
    }
  }

  // Reads `source` and checks it names an entry of `defined`.
  template <typename SourceMap>
  void ReadSourceRef(MapReader& r, const SourceMap& defined, std::string* out) {
    if (!r.Read("source", out, internal::kAnyNumber, kRequired)) return;
    if (defined.contains(*out)) return;
    std::vector<absl::string_view> names;
    for (const auto& entry : defined) names.push_back(entry.first);
    r.Error(
        *r.Find("source"),
        absl::StrCat("unknown source '", *out, "' (defined: ",
                     names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }

  std::optional<PrometheusInput> ReadPrometheusQuery(MapReader& parent) {
    std::optional<MapReader> r = parent.Map("prometheus");
    if (!r) return std::nullopt;
    PrometheusInput p;
    ReadSourceRef(*r, config_.prometheus, &p.source);
    r->Read("query", &p.query.promql, internal::kAnyNumber, kRequired);
    using source::Aggregate;
    r->ReadEnum("aggregate", &p.query.aggregate,
                {{"sum", Aggregate::kSum},
                 {"max", Aggregate::kMax},
                 {"min", Aggregate::kMin},
                 {"avg", Aggregate::kAvg}});
    r->Read("emptyAs", &p.query.empty_as);
    r->RejectUnknownKeys();
    return p;
  }

  std::optional<CeleryInput> ReadCelery(MapReader& parent) {
    std::optional<MapReader> r = parent.Map("celery");
    if (!r) return std::nullopt;
    CeleryInput c;
    ReadSourceRef(*r, config_.redis, &c.source);
    bool discover = false;
    r->Read("discoverQueues", &discover);
    if (auto queues =
            r->List("queues", discover ? Need::kOptional : kRequired)) {
      if (queues->empty() && !discover) {
        r->Error(*r->Find("queues"), "must list a queue");
      }
      for (const Value& q : *queues) {
        std::string name;
        if (Convert(*sink_, q, internal::kAnyNumber, &name)) {
          c.read.queues.push_back(std::move(name));
        }
      }
    }
    // The pattern `*` is the source's "every discovered queue"; the queues
    // listed are counted once even when discovery finds them too.
    if (discover) c.read.queues.push_back("*");
    r->Read("includeReserved", &c.read.include_reserved);
    r->RejectUnknownKeys();
    return c;
  }

  // Checks that one of `keys` is present (or none, when `min` is 0). Two or
  // more are reported at the second, none at the map.
  static bool ExactlyOne(MapReader& r,
                         std::initializer_list<absl::string_view> keys,
                         size_t min = 1) {
    const std::string list = absl::StrJoin(keys, ", ");
    std::vector<Value> present;
    for (absl::string_view k : keys) {
      if (auto v = r.Find(k)) present.push_back(*v);
    }
    if (present.size() > 1) {
      r.Error(present[1], "give only one of " + list);
    } else if (present.size() < min) {
      r.Error(r.self(), "needs one of " + list);
    }
    return present.size() >= min && present.size() <= 1;
  }

  Smoothing ReadSmoothing(MapReader& s) {
    Smoothing out;
    const bool ewma = s.Has("ewmaHalfLifeSeconds");
    // Both looked up: Has() records the key as known (no short circuit).
    const bool has_quantile = s.Has("quantile");
    const bool has_window = s.Has("windowSeconds");
    const bool quantile_keys = has_quantile || has_window;
    if (ewma && quantile_keys) {
      s.Error(s.self(),
              "give either ewmaHalfLifeSeconds or quantile with windowSeconds");
    } else if (ewma) {
      if (s.Read("ewmaHalfLifeSeconds", &out.half_life_seconds, kPositive)) {
        out.kind = Smoothing::Kind::kEwma;
      }
    } else {
      const Range quantile{.min = 0, .max = 1, .min_open = true};
      const bool q = s.Read("quantile", &out.quantile, quantile, kRequired);
      const bool w =
          s.Read("windowSeconds", &out.window_seconds, kPositive, kRequired);
      if (q && w) out.kind = Smoothing::Kind::kQuantile;
    }
    s.RejectUnknownKeys();
    return out;
  }

  void ReadInput(MapReader& r, NameSet& names, TargetConfig& target) {
    InputSpec in;
    if (ReadChecked(r, "name", &in.name, IsInputName,
                    "use lowercase letters, digits and '_', not starting with "
                    "a digit",
                    kRequired)) {
      names.Check(r, "name", in.name, "input name");
    }
    if (ExactlyOne(r, {"averageValue", "value"})) {
      const bool average = r.Has("averageValue");
      in.target_type = average ? TargetType::kAverageValue : TargetType::kValue;
      r.Read(average ? "averageValue" : "value", &in.target, kPositive);
    }
    InputSource source;
    if (ExactlyOne(r, {"celery", "prometheus"}, /*min=*/0)) {
      source.celery = ReadCelery(r);
      source.prometheus = ReadPrometheusQuery(r);
    }
    if (auto s = r.Map("smoothing")) in.smoothing = ReadSmoothing(*s);
    if (auto t = r.Map("trend")) {
      Trend trend;
      const Range seconds{.min = 0, .max = 3600, .min_open = true};
      t->Read("horizonSeconds", &trend.horizon_seconds, seconds, kRequired);
      t->Read("windowSeconds", &trend.window_seconds, seconds);
      t->RejectUnknownKeys();
      RejectInHpaMode(*t, target.spec);
      in.trend = trend;
    }
    if (auto d = r.Map("drain")) {
      Drain drain;
      d->Read("seconds", &drain.seconds,
              Range{.min = 0, .max = 86400, .min_open = true}, kRequired);
      d->Read("windowSeconds", &drain.window_seconds,
              Range{.min = 0, .max = 3600, .min_open = true});
      d->Read("throughputWindowSeconds", &drain.throughput_window_seconds,
              Range{.min = 0, .max = 86400, .min_open = true});
      d->RejectUnknownKeys();
      if (r.Has("value")) {
        d->Error(d->self(),
                 "drain needs averageValue (the rule it uses until a "
                 "throughput is measured), not value");
      }
      RejectInHpaMode(*d, target.spec);
      in.drain = drain;
    }
    if (r.Read("activation", &in.activation, kNonNegative)) {
      const Value at = *r.Find("activation");
      if (target.spec.mode == Mode::kHpa) {
        r.Error(at,
                "not available in mode hpa (the Kubernetes HPA has no such "
                "feature); use mode ballast");
      } else if (target.spec.min_replicas != 0) {
        config_.warnings.push_back(ConfigError{
            .line = std::max(at.mark.line, 0) + 1,
            .column = std::max(at.mark.column, 0) + 1,
            .path = at.path,
            .message = absl::StrCat(
                "has no effect unless minReplicas is 0 (it decides between 0 "
                "and 1 replicas); minReplicas is ",
                target.spec.min_replicas)});
      }
    }
    if (auto slo = r.Map("slo")) {
      slo->Read("max", &in.slo.max, kPositive);
      slo->Read("maxPerReplica", &in.slo.max_per_replica, kPositive);
      slo->RejectUnknownKeys();
    }
    r.RejectUnknownKeys();
    target.spec.inputs.push_back(std::move(in));
    target.sources.push_back(std::move(source));
  }

  // ballast-mode features are errors in mode hpa, which the HPA controller
  // decides alone.
  static void RejectInHpaMode(MapReader& r, const TargetSpec& spec) {
    if (spec.mode != Mode::kHpa) return;
    r.Error(r.self(),
            "not available in mode hpa (the Kubernetes HPA has no such "
            "feature); use mode ballast");
  }

  static ScalingRules ReadRules(MapReader& behavior, absl::string_view key,
                                ScalingRules rules, const TargetSpec& spec) {
    std::optional<MapReader> r = behavior.Map(key);
    if (!r) return rules;
    r->Read("stabilizationWindowSeconds", &rules.stabilization_window_seconds,
            Between(0, 3600));
    if (key == "scaleDown") {
      // ballast's calmer scale-down: no scale-down smaller than this.
      const bool pods =
          r->Read("minChangePods", &rules.min_change_pods, kNonNegative);
      const bool ratio = r->Read("minChangeRatio", &rules.min_change_ratio,
                                 Range{.min = 0, .max = 1, .max_open = true});
      if (spec.mode == Mode::kHpa && (pods || ratio)) {
        r->Error(*r->Find(pods ? "minChangePods" : "minChangeRatio"),
                 "not available in mode hpa (the Kubernetes HPA has no "
                 "such feature); use mode ballast");
      }
    }
    // KEP-4951 (beta in Kubernetes 1.35): this direction's tolerance.
    r->Read("tolerance", &rules.tolerance,
            Range{.min = 0, .max = 1, .max_open = true});
    r->ReadEnum("selectPolicy", &rules.select_policy,
                {{"Max", SelectPolicy::kMax},
                 {"Min", SelectPolicy::kMin},
                 {"Disabled", SelectPolicy::kDisabled}});
    if (auto policies = r->List("policies")) {
      if (policies->empty()) {
        r->Error(*r->Find("policies"), "must list at least one policy");
      }
      rules.policies.clear();
      for (const Value& item : *policies) {
        MapReader p(&r->sink(), item);
        ScalingPolicy policy;
        p.ReadEnum(
            "type", &policy.type,
            {{"Pods", PolicyType::kPods}, {"Percent", PolicyType::kPercent}},
            kRequired);
        p.Read("value", &policy.value, kPositive, kRequired);
        p.Read("periodSeconds", &policy.period_seconds, Between(1, 1800),
               kRequired);
        p.RejectUnknownKeys();
        rules.policies.push_back(policy);
      }
    }
    r->RejectUnknownKeys();
    return rules;
  }

  static Burst ReadBurst(MapReader& r, const TargetSpec& spec) {
    Burst burst;
    r.Read("threshold", &burst.threshold,
           Range{.min = 1, .max = 100, .min_open = true});
    r.Read("windowSeconds", &burst.window_seconds, Between(0, 3600));
    r.Read("stableWindowSeconds", &burst.stable_window_seconds,
           Between(1, 3600));
    if (auto inputs = r.List("inputs")) {
      if (inputs->empty()) r.Error(*r.Find("inputs"), "must list an input");
      for (const Value& item : *inputs) {
        std::string name;
        if (!Convert(r.sink(), item, kAnyNumber, &name)) continue;
        const bool known =
            std::any_of(spec.inputs.begin(), spec.inputs.end(),
                        [&](const InputSpec& in) { return in.name == name; });
        if (!known) {
          std::vector<absl::string_view> names;
          for (const InputSpec& in : spec.inputs) names.push_back(in.name);
          r.Error(item, absl::StrCat("unknown input '", name, "' (inputs: ",
                                     absl::StrJoin(names, ", "), ")"));
        }
        burst.inputs.push_back(std::move(name));
      }
    }
    r.RejectUnknownKeys();
    RejectInHpaMode(r, spec);
    return burst;
  }

  // Reports `key` of `r` unless its value lies within the target's bounds.
  static void CheckWithinBounds(MapReader& r, absl::string_view key, int32_t x,
                                const TargetSpec& spec) {
    if (x >= spec.min_replicas && x <= spec.max_replicas) return;
    r.Error(
        *r.Find(key),
        absl::StrCat("must be within [minReplicas, maxReplicas] = [",
                     spec.min_replicas, ", ", spec.max_replicas, "], got ", x));
  }

  void ReadCurrentReplicas(MapReader& r, TargetConfig& target, bool bounds_ok) {
    if (!ExactlyOne(r, {"static", "prometheus", "kubernetes"})) {
      r.RejectUnknownKeys();
      return;
    }
    CurrentReplicasSource& c = target.current_replicas;
    if (r.Read("static", &c.static_replicas, kNonNegative)) {
      target.spec.initial_replicas = c.static_replicas;
      // Real workloads often sit outside an HPA's bounds when it is created:
      // the first tick moves them to the bound.
      const TargetSpec& spec = target.spec;
      const int32_t x = *c.static_replicas;
      if (bounds_ok && (x < spec.min_replicas || x > spec.max_replicas)) {
        const Value at = *r.Find("static");
        config_.warnings.push_back(ConfigError{
            .line = std::max(at.mark.line, 0) + 1,
            .column = std::max(at.mark.column, 0) + 1,
            .path = at.path,
            .message = absl::StrCat(
                "outside [minReplicas, maxReplicas] = [", spec.min_replicas,
                ", ", spec.max_replicas, "]: the first tick goes to ",
                x < spec.min_replicas ? spec.min_replicas : spec.max_replicas,
                spec.min_replicas > 0 && x == 0
                    ? " (in mode hpa, 0 replicas disables scaling)"
                    : "")});
      }
    }
    c.prometheus = ReadPrometheusQuery(r);
    if (auto k = r.Map("kubernetes")) {
      CurrentReplicasSource::Kubernetes kube;
      ReadChecked(*k, "namespace", &kube.namespace_, IsDnsLabel, kDnsLabelRule,
                  kRequired);
      ReadChecked(*k, "deployment", &kube.deployment, IsDnsSubdomain,
                  "expected a Deployment name (RFC 1123 subdomain)", kRequired);
      k->RejectUnknownKeys();
      c.kubernetes = std::move(kube);
    }
    r.RejectUnknownKeys();
  }

  TargetConfig ReadTarget(MapReader& r, NameSet& target_names) {
    TargetConfig target;
    TargetSpec& spec = target.spec;
    if (ReadChecked(r, "name", &spec.name, IsDnsLabel, kDnsLabelRule,
                    kRequired)) {
      target_names.Check(r, "name", spec.name, "target name");
    }
    const bool min_ok =
        r.Read("minReplicas", &spec.min_replicas, kNonNegative) ||
        !r.Has("minReplicas");
    const bool max_ok =
        r.Read("maxReplicas", &spec.max_replicas, kPositive, kRequired);
    const bool bounds_ok =
        min_ok && max_ok && spec.min_replicas <= spec.max_replicas;
    if (min_ok && max_ok && !bounds_ok) {
      r.Error(*r.Find("minReplicas"),
              absl::StrCat("minReplicas (", spec.min_replicas,
                           ") is greater than maxReplicas (", spec.max_replicas,
                           ")"));
    }
    r.ReadEnum("mode", &spec.mode,
               {{"ballast", Mode::kBallast}, {"hpa", Mode::kHpa}});
    r.Read("tolerance", &spec.tolerance,
           Range{.min = 0, .max = 1, .max_open = true});
    if (auto c = r.Map("currentReplicas")) {
      ReadCurrentReplicas(*c, target, bounds_ok);
    }
    if (auto inputs = r.List("inputs", kRequired)) {
      if (inputs->empty()) r.Error(*r.Find("inputs"), "must list an input");
      NameSet names;
      for (const Value& item : *inputs) {
        MapReader in(sink_, item);
        if (in.valid()) ReadInput(in, names, target);
      }
    }
    if (auto b = r.Map("behavior")) {
      spec.behavior = Behavior{
          .scale_up =
              ReadRules(*b, "scaleUp", Behavior::DefaultScaleUp(), spec),
          .scale_down =
              ReadRules(*b, "scaleDown", Behavior::DefaultScaleDown(), spec)};
      if (auto burst = b->Map("burst")) {
        spec.behavior->burst = ReadBurst(*burst, spec);
      }
      b->RejectUnknownKeys();
    }
    if (auto f = r.Map("fallback")) {
      Fallback fallback;
      f->Read("failureThreshold", &fallback.failure_threshold, kNonNegative);
      f->ReadEnum("behavior", &fallback.behavior,
                  {{"static", FallbackBehavior::kStatic},
                   {"currentReplicas", FallbackBehavior::kCurrentReplicas},
                   {"currentReplicasIfHigher",
                    FallbackBehavior::kCurrentReplicasIfHigher},
                   {"currentReplicasIfLower",
                    FallbackBehavior::kCurrentReplicasIfLower}});
      if (f->Read("replicas", &fallback.replicas, kNonNegative, kRequired) &&
          bounds_ok) {
        CheckWithinBounds(*f, "replicas", fallback.replicas, spec);
      }
      f->RejectUnknownKeys();
      spec.fallback = fallback;
    }
    r.RejectUnknownKeys();
    return target;
  }

  ErrorSink* sink_;
  Config config_;
};

}  // namespace

absl::StatusOr<std::string> ReadSecret(const SecretRef& ref,
                                       absl::string_view what) {
  if (!ref.env.empty()) {
    const char* value = std::getenv(ref.env.c_str());
    if (value == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ": environment variable ", ref.env, " is not set"));
    }
    return std::string(value);
  }
  if (!ref.file.empty()) {
    std::ifstream in(ref.file);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": cannot read ", ref.file));
    }
    std::stringstream text;
    text << in.rdbuf();
    return std::string(absl::StripTrailingAsciiWhitespace(text.str()));
  }
  return std::string();
}

std::string ConfigError::ToString() const {
  std::string out = absl::StrCat(file, ":", line, ":", column, ": ");
  if (!path.empty()) absl::StrAppend(&out, path, ": ");
  absl::StrAppend(&out, message);
  return out;
}

std::optional<Config> ParseConfig(std::string_view yaml_text,
                                  std::string_view file_name,
                                  ConfigErrors* errors) {
  ConfigErrors unused;
  if (errors == nullptr) errors = &unused;
  ErrorSink sink(std::string(file_name), errors);
  // yaml-cpp reports bad YAML by throwing; this is the module's only edge
  // with it, as the reader never calls throwing conversions.
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    sink.Add(e.mark, "", "invalid YAML: " + e.msg);
    return std::nullopt;
  }
  if (root.IsNull()) {
    sink.Add(YAML::Mark::null_mark(), "", "the config is empty");
    return std::nullopt;
  }
  Config config = Loader(&sink).Load(root);
  for (ConfigError& w : config.warnings) w.file = std::string(file_name);
  if (sink.count() > 0) {
    std::stable_sort(
        errors->end() - static_cast<std::ptrdiff_t>(sink.count()),
        errors->end(), [](const ConfigError& a, const ConfigError& b) {
          return std::pair(a.line, a.column) < std::pair(b.line, b.column);
        });
    return std::nullopt;
  }
  return config;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path,
                                      ConfigErrors* errors) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::FailedPreconditionError(path + ": is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const std::string reason = std::strerror(errno);
    return errno == ENOENT
               ? absl::NotFoundError(absl::StrCat(path, ": ", reason))
               : absl::FailedPreconditionError(
                     absl::StrCat(path, ": ", reason));
  }
  std::ostringstream text;
  text << in.rdbuf();
  ConfigErrors local;
  std::optional<Config> config = ParseConfig(text.str(), path, &local);
  if (config) return *std::move(config);
  std::vector<std::string> lines;
  for (const ConfigError& e : local) lines.push_back(e.ToString());
  if (errors != nullptr) {
    errors->insert(errors->end(), local.begin(), local.end());
  }
  return absl::InvalidArgumentError(absl::StrJoin(lines, "\n"));
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  return LoadConfigFile(path, nullptr);
}

}  // namespace ballast::config
