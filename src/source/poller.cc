#include "ballast/source/poller.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "ballast/source/celery_backlog.h"
#include "ballast/source/kubernetes_client.h"
#include "ballast/source/kubernetes_scale.h"
#include "ballast/source/prometheus_client.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"

namespace ballast::source {
namespace {

absl::StatusOr<std::string> ReadSecret(const config::SecretRef& ref,
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

Aggregate ToAggregate(config::Aggregate a) {
  switch (a) {
    case config::Aggregate::kSum:
      return Aggregate::kSum;
    case config::Aggregate::kMax:
      return Aggregate::kMax;
    case config::Aggregate::kMin:
      return Aggregate::kMin;
    case config::Aggregate::kAvg:
      return Aggregate::kAvg;
  }
  return Aggregate::kSum;
}

PrometheusQuery ToQuery(const config::PrometheusInput& in) {
  return PrometheusQuery{.promql = in.query,
                         .aggregate = ToAggregate(in.aggregate),
                         .empty_as = in.empty_as};
}

absl::StatusOr<CeleryRedisSourceOptions> RedisOptionsFor(
    const std::string& name, const config::RedisSourceConfig& c) {
  CeleryRedisSourceOptions o;
  const size_t colon = c.address.rfind(':');
  o.redis.host = c.address.substr(0, colon);
  if (!absl::SimpleAtoi(c.address.substr(colon + 1), &o.redis.port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("sources.redis.", name, ": bad address ", c.address));
  }
  o.redis.db = c.db;
  o.redis.username = c.username;
  absl::StatusOr<std::string> password =
      ReadSecret(c.password, absl::StrCat("sources.redis.", name, ".password"));
  if (!password.ok()) return password.status();
  o.redis.password = *std::move(password);
  o.redis.tls = c.tls.enabled;
  o.redis.ca_file = c.tls.ca_file;
  o.redis.server_name = c.tls.server_name;
  o.redis.insecure_skip_verify = c.tls.insecure_skip_verify;
  o.redis.connect_timeout = absl::Milliseconds(c.connect_timeout_ms);
  o.redis.command_timeout = absl::Milliseconds(c.timeout_ms);
  o.broker.priority_steps.assign(c.priority_steps.begin(),
                                 c.priority_steps.end());
  o.broker.separator = c.separator;
  o.broker.global_keyprefix = c.global_keyprefix;
  o.reserved_interval = absl::Seconds(c.reserved_interval_seconds);
  o.discovery_interval = absl::Seconds(c.discovery_interval_seconds);
  return o;
}

PrometheusClientOptions PrometheusOptionsFor(
    const config::PrometheusSourceConfig& c) {
  PrometheusClientOptions o;
  net::HttpClientOptions& h = o.http;
  h.base_url = c.url;
  h.timeout = absl::Milliseconds(c.timeout_ms);
  h.max_in_flight = c.max_in_flight;
  h.ca_file = c.tls.ca_file;
  h.verify_peer = !c.tls.insecure_skip_verify;
  h.tls_server_name = c.tls.server_name;
  for (const auto& [k, v] : c.headers) h.headers.emplace_back(k, v);
  h.bearer_token_file = c.bearer_token_file;
  h.basic_auth_user = c.basic_auth_username;
  h.basic_auth_password_env = c.basic_auth_password.env;
  h.basic_auth_password_file = c.basic_auth_password.file;
  return o;
}

// Where a reading goes: target index and input index (-1: currentReplicas).
struct Slot {
  size_t target;
  int input;
};

}  // namespace

std::string ErrorKind(const absl::Status& status) {
  std::string name = absl::StatusCodeToString(status.code());
  absl::AsciiStrToLower(&name);
  return name;
}

// One tick in flight: collects readings from every source and calls `done`
// when the last one has answered.
class PollState {
 public:
  PollState(PollResult result, int pending,
            absl::AnyInvocable<void(PollResult)> done)
      : result_(std::move(result)),
        pending_(pending),
        source_done_(result_.sources.size(), false),
        done_(std::move(done)) {}

  // Stores `value` at `slot` and accounts it to source `source`.
  void Record(size_t source, Slot slot, absl::StatusOr<double> value) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;  // the budget ran out: this tick is gone
    SourcePoll& s = result_.sources[source];
    ++s.reads;
    if (!value.ok()) {
      ++s.errors;
      s.error_kinds.push_back(ErrorKind(value.status()));
    }
    TargetReadings& t = result_.targets[slot.target];
    if (slot.input >= 0) {
      t.inputs[slot.input] = std::move(value);
    } else if (value.ok()) {
      if (!std::isfinite(*value) || *value < 0 || *value > 1e6) {
        t.current_replicas = absl::OutOfRangeError(absl::StrCat(
            "current replicas read as ", *value, ", not a replica count"));
      } else {
        t.current_replicas = static_cast<int32_t>(std::llround(*value));
      }
    } else {
      t.current_replicas = value.status();
    }
  }

  // Marks one source as finished; its duration is measured on the
  // monotonic clock from the start of the tick.
  void SourceDone(size_t source) {
    const absl::Duration took =
        absl::FromChrono(std::chrono::steady_clock::now() - started_);
    absl::AnyInvocable<void(PollResult)> done;
    PollResult result;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      result_.sources[source].duration = took;
      source_done_[source] = true;
      if (--pending_ > 0) return;
      finished_ = true;
      done = std::move(done_);
      result = std::move(result_);
    }
    done(std::move(result));
  }

  // The tick's budget has passed: every source still out is counted as a
  // deadline_exceeded error, the readings it owed keep the placeholder
  // error Poll gave them, and the tick ends now.
  void Expire(absl::Duration budget) {
    absl::AnyInvocable<void(PollResult)> done;
    PollResult result;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
      for (size_t i = 0; i < source_done_.size(); ++i) {
        if (source_done_[i]) continue;
        SourcePoll& s = result_.sources[i];
        s.duration = budget;
        ++s.errors;
        s.error_kinds.push_back(ErrorKind(absl::DeadlineExceededError("")));
      }
      done = std::move(done_);
      result = std::move(result_);
    }
    done(std::move(result));
  }

 private:
  absl::Mutex mu_;
  PollResult result_ ABSL_GUARDED_BY(mu_);
  int pending_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> source_done_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::AnyInvocable<void(PollResult)> done_;
  const std::chrono::steady_clock::time_point started_ =
      std::chrono::steady_clock::now();
};

class Poller::Impl {
 public:
  Impl(boost::asio::io_context& io, config::Config config)
      : io_(io), config_(std::move(config)) {}

  absl::Status Init() {
    // Celery inputs, grouped by Redis server.
    std::map<std::string, RedisGroup> redis;
    for (size_t t = 0; t < config_.targets.size(); ++t) {
      const config::TargetConfig& target = config_.targets[t];
      for (size_t i = 0; i < target.sources.size(); ++i) {
        const auto& celery = target.sources[i].celery;
        if (!celery) continue;
        RedisGroup& g = redis[celery->source];
        std::vector<std::string> queues = celery->queues;
        if (celery->discover_queues && queues.empty()) queues = {"*"};
        g.inputs.push_back({.queues = std::move(queues),
                            .include_reserved = celery->include_reserved});
        g.slots.push_back({t, static_cast<int>(i)});
      }
    }
    for (auto& [name, group] : redis) {
      absl::StatusOr<CeleryRedisSourceOptions> options =
          RedisOptionsFor(name, config_.redis.at(name));
      if (!options.ok()) return options.status();
      group.name = name;
      group.source =
          std::make_unique<CeleryRedisSource>(io_, *options, group.inputs);
      redis_.push_back(std::move(group));
    }
    for (const auto& [name, c] : config_.prometheus) {
      auto client = PrometheusClient::Create(io_, PrometheusOptionsFor(c));
      if (!client.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sources.prometheus.", name, ": ", client.status().message()));
      }
      prometheus_.emplace(name, *std::move(client));
    }
    for (const config::TargetConfig& target : config_.targets) {
      if (target.current_replicas.kubernetes && !kubernetes_) {
        absl::StatusOr<net::HttpClientOptions> client =
            KubernetesClientOptions(config_.kubernetes);
        absl::StatusOr<std::unique_ptr<KubernetesScaleReader>> reader =
            client.ok()
                ? KubernetesScaleReader::Create(io_, {.client = *client})
                : absl::StatusOr<std::unique_ptr<KubernetesScaleReader>>(
                      client.status());
        if (!reader.ok()) {
          kubernetes_error_ = reader.status();
        } else {
          kubernetes_ = *std::move(reader);
        }
      }
    }
    return absl::OkStatus();
  }

  void Poll(absl::Time now, absl::AnyInvocable<void(PollResult)> done,
            absl::Duration budget) {
    PollResult result;
    result.time = now;
    // What a reading is when its source has not answered within `budget`.
    // Without a budget every source answers every reading it owes, so the
    // placeholder is never seen unless a source skips one.
    const absl::Status late =
        budget == absl::InfiniteDuration()
            ? absl::InternalError("the source gave no reading for this input")
            : absl::DeadlineExceededError(absl::StrCat(
                  "no answer within this tick's ", absl::FormatDuration(budget),
                  " (pollIntervalSeconds); the source is slower than the "
                  "poll"));
    for (const config::TargetConfig& target : config_.targets) {
      TargetReadings& r = result.targets.emplace_back();
      r.target = target.spec.name;
      r.inputs.assign(target.sources.size(),
                      absl::FailedPreconditionError(
                          "input has no source (celery or prometheus); only "
                          "`ballast simulate` can feed it"));
      for (size_t i = 0; i < target.sources.size(); ++i) {
        if (target.sources[i].celery || target.sources[i].prometheus) {
          r.inputs[i] = late;
        }
      }
      if (target.current_replicas.prometheus ||
          target.current_replicas.kubernetes) {
        r.current_replicas = late;
      }
    }
    for (const RedisGroup& g : redis_) {
      result.sources.push_back({.kind = "redis", .name = g.name});
    }
    for (const auto& [name, client] : prometheus_) {
      result.sources.push_back({.kind = "prometheus", .name = name});
    }
    const bool uses_kubernetes = UsesKubernetes();
    if (uses_kubernetes) result.sources.push_back({.kind = "kubernetes"});
    const int sources = static_cast<int>(result.sources.size());
    if (sources == 0) {
      done(std::move(result));
      return;
    }
    auto state = std::make_shared<PollState>(std::move(result), sources,
                                             std::move(done));
    if (budget != absl::InfiniteDuration()) {
      // The timer lives in its own handler; Expire does nothing if the tick
      // ended first.
      auto timer = std::make_shared<boost::asio::steady_timer>(
          io_, absl::ToChronoNanoseconds(budget));
      timer->async_wait(
          [state, timer, budget](const boost::system::error_code& ec) {
            if (!ec) state->Expire(budget);
          });
    }
    size_t index = 0;
    for (RedisGroup& g : redis_) PollRedis(g, index++, state);
    for (auto& [name, client] : prometheus_) {
      PollPrometheus(name, *client, now, index++, state);
    }
    if (uses_kubernetes) PollKubernetes(index, state);
  }

 private:
  struct RedisGroup {
    std::string name;
    std::vector<CeleryInputSpec> inputs;
    std::vector<Slot> slots;
    std::unique_ptr<CeleryRedisSource> source;
  };

  bool UsesKubernetes() const {
    for (const config::TargetConfig& t : config_.targets) {
      if (t.current_replicas.kubernetes) return true;
    }
    return false;
  }

  void PollRedis(RedisGroup& g, size_t index,
                 const std::shared_ptr<PollState>& state) {
    g.source->Poll([state, index, slots = g.slots](CeleryPollResult r) {
      for (size_t i = 0; i < slots.size() && i < r.inputs.size(); ++i) {
        state->Record(index, slots[i], std::move(r.inputs[i]));
      }
      state->SourceDone(index);
    });
  }

  // Every query of one Prometheus source: its inputs and currentReplicas.
  void PollPrometheus(const std::string& name, PrometheusClient& client,
                      absl::Time now, size_t index,
                      const std::shared_ptr<PollState>& state) {
    std::vector<std::pair<Slot, PrometheusQuery>> queries;
    for (size_t t = 0; t < config_.targets.size(); ++t) {
      const config::TargetConfig& target = config_.targets[t];
      for (size_t i = 0; i < target.sources.size(); ++i) {
        const auto& p = target.sources[i].prometheus;
        if (p && p->source == name) {
          queries.push_back({{t, static_cast<int>(i)}, ToQuery(*p)});
        }
      }
      const auto& current = target.current_replicas.prometheus;
      if (current && current->source == name) {
        queries.push_back({{t, -1}, ToQuery(*current)});
      }
    }
    if (queries.empty()) {
      state->SourceDone(index);
      return;
    }
    auto pending =
        std::make_shared<std::atomic<int>>(static_cast<int>(queries.size()));
    for (auto& [slot, query] : queries) {
      client.Query(
          query, now,
          [state, index, slot, pending](absl::StatusOr<QueryResult> r) mutable {
            state->Record(
                index, slot,
                r.ok() ? absl::StatusOr<double>(r->value) : r.status());
            if (--*pending == 0) state->SourceDone(index);
          });
    }
  }

  void PollKubernetes(size_t index, const std::shared_ptr<PollState>& state) {
    std::vector<size_t> targets;
    for (size_t t = 0; t < config_.targets.size(); ++t) {
      if (config_.targets[t].current_replicas.kubernetes) targets.push_back(t);
    }
    if (!kubernetes_) {
      for (size_t t : targets) {
        state->Record(index, {t, -1}, kubernetes_error_);
      }
      state->SourceDone(index);
      return;
    }
    auto pending =
        std::make_shared<std::atomic<int>>(static_cast<int>(targets.size()));
    for (size_t t : targets) {
      const auto& k = *config_.targets[t].current_replicas.kubernetes;
      kubernetes_->Read(
          k.namespace_, k.deployment,
          [state, index, t, pending](absl::StatusOr<DeploymentScale> r) {
            state->Record(
                index, {t, -1},
                r.ok() ? absl::StatusOr<double>(r->spec_replicas) : r.status());
            if (--*pending == 0) state->SourceDone(index);
          });
    }
  }

  boost::asio::io_context& io_;
  const config::Config config_;
  std::vector<RedisGroup> redis_;
  std::map<std::string, std::unique_ptr<PrometheusClient>> prometheus_;
  std::unique_ptr<KubernetesScaleReader> kubernetes_;
  absl::Status kubernetes_error_;
};

Poller::Poller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Poller::~Poller() = default;

absl::StatusOr<std::unique_ptr<Poller>> Poller::Create(
    boost::asio::io_context& io, const config::Config& config) {
  auto impl = std::make_unique<Impl>(io, config);
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Poller>(new Poller(std::move(impl)));
}

void Poller::Poll(absl::Time now, absl::AnyInvocable<void(PollResult)> done,
                  absl::Duration budget) {
  impl_->Poll(now, std::move(done), budget);
}

absl::StatusOr<PollResult> Poller::PollOnce(const config::Config& config) {
  boost::asio::io_context io;
  absl::StatusOr<std::unique_ptr<Poller>> poller = Create(io, config);
  if (!poller.ok()) return poller.status();
  std::optional<PollResult> result;
  (*poller)->Poll(
      absl::Now(), [&](PollResult r) { result = std::move(r); },
      absl::InfiniteDuration());
  // Run until the poll is done, not until the clients' idle connections
  // and timers are gone.
  while (!result && io.run_one() > 0) {
  }
  if (!result) return absl::InternalError("poll did not finish");
  return *std::move(result);
}

}  // namespace ballast::source
