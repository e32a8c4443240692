#include "ballast/control/poller.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "ballast/core/error_kind.h"
#include "ballast/net/asio_time.h"
#include "ballast/source/celery_backlog.h"
#include "ballast/source/kubernetes_client.h"
#include "ballast/source/kubernetes_scale.h"
#include "ballast/source/prometheus_client.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/steady_timer.hpp"

namespace ballast::control {

absl::StatusOr<source::CeleryRedisSourceOptions> RedisSourceOptions(
    const std::string& name, const config::RedisSourceConfig& config) {
  source::CeleryRedisSourceOptions options = config.options;
  absl::StatusOr<std::string> password = config::ReadSecret(
      config.password, absl::StrCat("sources.redis.", name, ".password"));
  if (!password.ok()) return password.status();
  options.redis.password = *std::move(password);
  return options;
}

absl::StatusOr<SourcePlan> PlanSources(const config::Config& config) {
  SourcePlan plan;
  // Celery inputs, grouped by Redis server.
  std::map<std::string, SourcePlan::Redis> redis;
  for (size_t t = 0; t < config.targets.size(); ++t) {
    const config::TargetConfig& target = config.targets[t];
    for (size_t i = 0; i < target.sources.size(); ++i) {
      const auto& celery = target.sources[i].celery;
      if (!celery) continue;
      SourcePlan::Redis& r = redis[celery->source];
      r.inputs.push_back(celery->read);
      r.slots.push_back({t, static_cast<int>(i)});
    }
  }
  for (auto& [name, r] : redis) {
    absl::StatusOr<source::CeleryRedisSourceOptions> options =
        RedisSourceOptions(name, config.redis.at(name));
    if (!options.ok()) return options.status();
    r.name = name;
    r.options = *std::move(options);
    plan.redis.push_back(std::move(r));
  }
  for (const auto& [name, options] : config.prometheus) {
    SourcePlan::Prometheus& p = plan.prometheus.emplace_back();
    p.name = name;
    p.options = options;
    for (size_t t = 0; t < config.targets.size(); ++t) {
      const config::TargetConfig& target = config.targets[t];
      for (size_t i = 0; i < target.sources.size(); ++i) {
        const auto& in = target.sources[i].prometheus;
        if (in && in->source == name) {
          p.queries.push_back({{t, static_cast<int>(i)}, in->query});
        }
      }
      const auto& current = target.current_replicas.prometheus;
      if (current && current->source == name) {
        p.queries.push_back({{t, -1}, current->query});
      }
    }
  }
  for (size_t t = 0; t < config.targets.size(); ++t) {
    const auto& k = config.targets[t].current_replicas.kubernetes;
    if (!k) continue;
    plan.scale_reads.push_back({.target = t,
                                .namespace_ = k->namespace_,
                                .deployment = k->deployment});
    plan.kubernetes = config.kubernetes;
  }
  return plan;
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
  void Record(size_t source, ReadingSlot slot, absl::StatusOr<double> value) {
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
  Impl(boost::asio::io_context& io,
       std::shared_ptr<const config::Config> config)
      : io_(io), config_(std::move(config)) {}

  absl::Status Init() {
    absl::StatusOr<SourcePlan> plan = PlanSources(*config_);
    if (!plan.ok()) return plan.status();
    for (SourcePlan::Redis& r : plan->redis) {
      RedisGroup& g = redis_.emplace_back();
      g.name = r.name;
      g.slots = std::move(r.slots);
      g.source = std::make_unique<source::CeleryRedisSource>(
          io_, std::move(r.options), std::move(r.inputs));
    }
    for (SourcePlan::Prometheus& p : plan->prometheus) {
      auto client = source::PrometheusClient::Create(io_, std::move(p.options));
      if (!client.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "sources.prometheus.", p.name, ": ", client.status().message()));
      }
      prometheus_.push_back({.name = std::move(p.name),
                             .client = *std::move(client),
                             .queries = std::move(p.queries)});
    }
    scale_reads_ = std::move(plan->scale_reads);
    if (plan->kubernetes) {
      absl::StatusOr<net::HttpClientOptions> client =
          source::KubernetesClientOptions(*plan->kubernetes);
      absl::StatusOr<std::unique_ptr<source::KubernetesScaleReader>> reader =
          client.ok()
              ? source::KubernetesScaleReader::Create(io_, {.client = *client})
              : absl::StatusOr<std::unique_ptr<source::KubernetesScaleReader>>(
                    client.status());
      if (!reader.ok()) {
        kubernetes_error_ = reader.status();
      } else {
        kubernetes_ = *std::move(reader);
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
    result.targets.reserve(config_->targets.size());
    for (const config::TargetConfig& target : config_->targets) {
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
    for (const PrometheusSource& p : prometheus_) {
      result.sources.push_back({.kind = "prometheus", .name = p.name});
    }
    const bool uses_kubernetes = !scale_reads_.empty();
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
          io_, net::ToChrono(budget));
      timer->async_wait(
          [state, timer, budget](const boost::system::error_code& ec) {
            if (!ec) state->Expire(budget);
          });
    }
    size_t index = 0;
    for (RedisGroup& g : redis_) PollRedis(g, index++, state);
    for (PrometheusSource& p : prometheus_) {
      PollPrometheus(p, now, index++, state);
    }
    if (uses_kubernetes) PollKubernetes(index, state);
  }

 private:
  struct RedisGroup {
    std::string name;
    std::vector<ReadingSlot> slots;
    std::unique_ptr<source::CeleryRedisSource> source;
  };

  struct PrometheusSource {
    std::string name;
    std::unique_ptr<source::PrometheusClient> client;
    std::vector<std::pair<ReadingSlot, source::PrometheusQuery>> queries;
  };

  void PollRedis(RedisGroup& g, size_t index,
                 const std::shared_ptr<PollState>& state) {
    g.source->Poll([state, index, slots = g.slots](source::CeleryPollResult r) {
      for (size_t i = 0; i < slots.size() && i < r.inputs.size(); ++i) {
        state->Record(index, slots[i], std::move(r.inputs[i]));
      }
      state->SourceDone(index);
    });
  }

  // Every query of one Prometheus source: its inputs and currentReplicas.
  void PollPrometheus(PrometheusSource& p, absl::Time now, size_t index,
                      const std::shared_ptr<PollState>& state) {
    const auto& queries = p.queries;
    if (queries.empty()) {
      state->SourceDone(index);
      return;
    }
    auto pending =
        std::make_shared<std::atomic<int>>(static_cast<int>(queries.size()));
    for (const auto& [slot, query] : queries) {
      p.client->Query(query, now,
                      [state, index, slot,
                       pending](absl::StatusOr<source::QueryResult> r) mutable {
                        state->Record(index, slot,
                                      r.ok() ? absl::StatusOr<double>(r->value)
                                             : r.status());
                        if (--*pending == 0) state->SourceDone(index);
                      });
    }
  }

  void PollKubernetes(size_t index, const std::shared_ptr<PollState>& state) {
    if (!kubernetes_) {
      for (const SourcePlan::ScaleRead& read : scale_reads_) {
        state->Record(index, {read.target, -1}, kubernetes_error_);
      }
      state->SourceDone(index);
      return;
    }
    auto pending = std::make_shared<std::atomic<int>>(
        static_cast<int>(scale_reads_.size()));
    for (const SourcePlan::ScaleRead& read : scale_reads_) {
      kubernetes_->Read(
          read.namespace_, read.deployment,
          [state, index, t = read.target,
           pending](absl::StatusOr<source::DeploymentScale> r) {
            state->Record(
                index, {t, -1},
                r.ok() ? absl::StatusOr<double>(r->spec_replicas) : r.status());
            if (--*pending == 0) state->SourceDone(index);
          });
    }
  }

  boost::asio::io_context& io_;
  const std::shared_ptr<const config::Config> config_;
  std::vector<RedisGroup> redis_;
  std::vector<PrometheusSource> prometheus_;
  std::vector<SourcePlan::ScaleRead> scale_reads_;
  std::unique_ptr<source::KubernetesScaleReader> kubernetes_;
  absl::Status kubernetes_error_;
};

Poller::Poller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Poller::~Poller() = default;

absl::StatusOr<std::unique_ptr<Poller>> Poller::Create(
    boost::asio::io_context& io, const config::Config& config) {
  return Create(io, std::make_shared<const config::Config>(config));
}

absl::StatusOr<std::unique_ptr<Poller>> Poller::Create(
    boost::asio::io_context& io, std::shared_ptr<const config::Config> config) {
  auto impl = std::make_unique<Impl>(io, std::move(config));
  if (absl::Status s = impl->Init(); !s.ok()) return s;
  return std::unique_ptr<Poller>(new Poller(std::move(impl)));
}

void Poller::Poll(absl::Time now, absl::Duration budget,
                  absl::AnyInvocable<void(PollResult)> done) {
  impl_->Poll(now, std::move(done), budget);
}

absl::StatusOr<PollResult> Poller::PollOnce(const config::Config& config) {
  boost::asio::io_context io;
  absl::StatusOr<std::unique_ptr<Poller>> poller = Create(io, config);
  if (!poller.ok()) return poller.status();
  std::optional<PollResult> result;
  (*poller)->Poll(absl::Now(), absl::InfiniteDuration(),
                  [&](PollResult r) { result = std::move(r); });
  // Run until the poll is done, not until the clients' idle connections
  // and timers are gone.
  while (!result && io.run_one() > 0) {
  }
  if (!result) return absl::InternalError("poll did not finish");
  return *std::move(result);
}

}  // namespace ballast::control
