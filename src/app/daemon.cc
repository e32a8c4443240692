#include "daemon.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <deque>
#include <map>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ballast/config/config.h"
#include "ballast/engine/engine.h"
#include "ballast/server/external_metrics_server.h"
#include "ballast/server/grpc_server.h"
#include "ballast/server/telemetry_server.h"
#include "ballast/source/kubernetes_client.h"
#include "ballast/source/poller.h"
#include "ballast/store/recommendation_store.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "daemon_metrics.h"
#include "prometheus/registry.h"

namespace ballast::app {
namespace {

namespace asio = boost::asio;

// What identifies a version of the config file on disk.
struct FileStamp {
  int64_t mtime_ns = 0;
  int64_t size = 0;
  uint64_t inode = 0;
  bool operator==(const FileStamp&) const = default;
};

std::optional<FileStamp> Stamp(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileStamp{.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 +
                               st.st_mtim.tv_nsec,
                   .size = st.st_size,
                   .inode = st.st_ino};
}

// Each connection the servers hold is a descriptor: raise the soft limit on
// open files to the hard one, as servers commonly do (the default soft
// limit, often 1024, would refuse connections long before maxConnections).
void RaiseOpenFileLimit(Logger& log) {
  struct rlimit limit {};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  // The kernel refuses more than fs.nr_open (2^20 by default).
  const rlim_t want = std::min<rlim_t>(limit.rlim_max, rlim_t{1} << 20);
  if (limit.rlim_cur >= want) return;
  const rlim_t before = limit.rlim_cur;
  limit.rlim_cur = want;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    log.Warn("cannot raise the open file limit",
             {{"soft", absl::StrCat(before)}, {"wanted", absl::StrCat(want)}});
    return;
  }
  log.Info("raised the open file limit",
           {{"from", absl::StrCat(before)}, {"to", absl::StrCat(want)}});
}

std::chrono::nanoseconds ToChrono(absl::Duration d) {
  return absl::ToChronoNanoseconds(d);
}

// Everything the daemon keeps per target between ticks.
struct TargetRuntime {
  engine::TargetHistory history;
  std::vector<store::InputValue> inputs;
  std::optional<engine::Recommendation> latest;
  std::deque<engine::Recommendation> recent;
  uint64_t replicas_version = 0;
  // The last good read of currentReplicas (kubernetes, prometheus) and when
  // it was made: held, as inputs are, while reads fail.
  std::optional<int32_t> current_replicas;
  absl::Time current_sampled_at = absl::InfinitePast();
};

}  // namespace

class Daemon::Impl {
 public:
  Impl(DaemonOptions options, Logger& log)
      : options_(std::move(options)),
        log_(log),
        strand_(asio::make_strand(io_)),
        tick_timer_(strand_),
        config_timer_(strand_),
        signals_(io_, SIGTERM, SIGINT),
        hup_(io_, SIGHUP),
        registry_(std::make_shared<prometheus::Registry>()),
        metrics_(*registry_) {}

  int Run() {
    RaiseOpenFileLimit(log_);
    config::ConfigErrors errors;
    absl::StatusOr<config::Config> config =
        config::LoadConfigFile(options_.config_path, &errors);
    if (!config.ok()) {
      for (const config::ConfigError& e : errors) {
        log_.Error("config error", {{"error", e.ToString()}});
      }
      log_.Error("config rejected; not starting",
                 {{"file", options_.config_path},
                  {"error", std::string(config.status().message())}});
      return 1;
    }
    config_stamp_ = Stamp(options_.config_path);
    if (absl::Status s =
            Apply(std::make_shared<const config::Config>(*std::move(config)));
        !s.ok()) {
      log_.Error("cannot start", {{"error", std::string(s.message())}});
      return 1;
    }
    if (absl::Status s = StartServers(); !s.ok()) {
      log_.Error("cannot start", {{"error", std::string(s.message())}});
      StopServers();
      return 1;
    }
    WaitForSignals();
    asio::post(strand_, [this] { Tick(); });
    WatchConfigFile();
    log_.Info("serving", {{"config", options_.config_path},
                          {"targets", absl::StrCat(config_->targets.size())}});

    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) {
      threads.emplace_back([this] { io_.run(); });
    }
    io_.run();
    for (std::thread& t : threads) t.join();
    poller_.reset();
    log_.Info("stopped");
    return 0;
  }

 private:
  // --- servers -----------------------------------------------------------

  absl::Status StartServers() {
    const config::ServerConfig& s = config_->server;
    started_servers_ = s;
    if (s.telemetry) {
      auto server = server::TelemetryServer::Start(io_, store_, {registry_},
                                                   *s.telemetry);
      if (!server.ok()) return Annotate(server.status(), "server.telemetry");
      telemetry_ = *std::move(server);
      log_.Info("telemetry listening",
                {{"port", absl::StrCat(telemetry_->port())}});
    }
    if (s.external_metrics) {
      using Mode = config::ExternalMetricsServerConfig;
      std::optional<net::HttpClientOptions> kubernetes;
      if (s.external_metrics->authentication_mode ==
              Mode::AuthenticationMode::kCluster ||
          s.external_metrics->authorization_mode ==
              Mode::AuthorizationMode::kDelegated) {
        absl::StatusOr<net::HttpClientOptions> client =
            source::KubernetesClientOptions(config_->kubernetes);
        if (!client.ok()) {
          return Annotate(client.status(),
                          "server.externalMetrics: the API server");
        }
        kubernetes = *std::move(client);
      }
      auto server = server::ExternalMetricsServer::Start(
          io_, store_, *registry_,
          {.config = *s.external_metrics,
           .poll_interval_seconds = s.poll_interval_seconds,
           .kubernetes = std::move(kubernetes),
           .on_trust_change =
               [this](const absl::Status& status) {
                 if (status.ok()) {
                   log_.Info(
                       "front-proxy trust updated from "
                       "kube-system/extension-apiserver-authentication");
                 } else {
                   log_.Error("front-proxy trust not updated",
                              {{"error", std::string(status.message())}});
                 }
               },
           .on_tls_reload =
               [this](const absl::Status& status) {
                 if (status.ok()) {
                   log_.Info("external metrics TLS certificate reloaded");
                 } else {
                   log_.Error(
                       "external metrics TLS files refused; keeping the "
                       "previous certificate",
                       {{"error", std::string(status.message())}});
                 }
               }});
      if (!server.ok()) {
        return Annotate(server.status(), "server.externalMetrics");
      }
      external_metrics_ = *std::move(server);
      log_.Info("external metrics API listening",
                {{"port", absl::StrCat(external_metrics_->port())}});
    }
    if (s.grpc) {
      auto server = server::GrpcServer::Start(*s.grpc, store_, *registry_);
      if (!server.ok()) return Annotate(server.status(), "server.grpc");
      grpc_ = *std::move(server);
      log_.Info("gRPC listening", {{"port", absl::StrCat(grpc_->port())}});
    }
    return absl::OkStatus();
  }

  static absl::Status Annotate(const absl::Status& s, absl::string_view what) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  }

  // Every server stops within one shared grace: the HTTP servers close their
  // idle connections at once and finish in-flight requests for up to
  // `grace` (asynchronously, on the io threads), while gRPC ends its streams
  // and waits for its calls up to the same deadline; then the io_context
  // stops (idle source connections would otherwise keep it running). One
  // after the other, a slow gRPC shutdown would delay the HTTP servers' by
  // its whole grace.
  void StopServers() {
    const absl::Duration grace = absl::Seconds(3);
    const absl::Time deadline = absl::Now() + grace;
    auto pending = std::make_shared<std::atomic<int>>(1);
    auto one_done = [this, pending] {
      if (--*pending == 0) io_.stop();
    };
    for (auto* http : {static_cast<void*>(external_metrics_.get()),
                       static_cast<void*>(telemetry_.get())}) {
      if (http != nullptr) ++*pending;
    }
    if (external_metrics_) external_metrics_->Stop(grace, one_done);
    if (telemetry_) telemetry_->Stop(grace, one_done);
    if (grpc_) grpc_->Shutdown(deadline);
    one_done();
  }

  // --- signals and reloads -------------------------------------------------

  void WaitForSignals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log_.Info("stopping",
                {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      asio::post(strand_, [this] {
        stopping_ = true;
        tick_timer_.cancel();
        config_timer_.cancel();
        hup_.cancel();
        StopServers();
      });
    });
    WaitForHup();
  }

  void WaitForHup() {
    hup_.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      asio::post(strand_, [this] { Reload("SIGHUP"); });
      WaitForHup();
    });
  }

  void WatchConfigFile() {
    config_timer_.expires_after(
        std::chrono::seconds(options_.config_check_seconds));
    config_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) return;
      const std::optional<FileStamp> stamp = Stamp(options_.config_path);
      if (!stamp && config_stamp_) {
        // Deleted (or mid-replace): keep running; its return is a change.
        log_.Warn("config file missing; keeping the running config",
                  {{"file", options_.config_path}});
        config_stamp_.reset();
      } else if (stamp && stamp != config_stamp_) {
        Reload("file changed");
      }
      WatchConfigFile();
    });
  }

  // On the strand. A bad file is rejected with check-config's errors and the
  // running config stays.
  void Reload(absl::string_view why) {
    if (stopping_) return;
    config_stamp_ = Stamp(options_.config_path);
    config::ConfigErrors errors;
    absl::StatusOr<config::Config> config =
        config::LoadConfigFile(options_.config_path, &errors);
    absl::Status applied =
        config.ok()
            ? Apply(std::make_shared<const config::Config>(*std::move(config)))
            : config.status();
    metrics_.CountReload(applied.ok(), absl::Now());
    if (!applied.ok()) {
      for (const config::ConfigError& e : errors) {
        log_.Error("config error", {{"error", e.ToString()}});
      }
      log_.Error("config rejected; keeping the running one",
                 {{"reason", std::string(why)},
                  {"error", std::string(applied.message())}});
      return;
    }
    log_.Info("config reloaded",
              {{"reason", std::string(why)},
               {"targets", absl::StrCat(config_->targets.size())}});
    PublishSnapshot();
  }

  // Swaps in a new config: a new poller, runtimes kept by target name (and
  // per-input state by input name), servers' settings left as started.
  absl::Status Apply(std::shared_ptr<const config::Config> config) {
    absl::StatusOr<std::unique_ptr<source::Poller>> poller =
        source::Poller::Create(io_, *config);
    if (!poller.ok()) return poller.status();
    // Against what the servers were started with, not the last config: a
    // change that is then reverted leaves nothing pending.
    if (started_servers_ && !SameServers(*started_servers_, config->server)) {
      log_.Warn("server settings changed; they apply at the next restart");
    }
    std::map<std::string, TargetRuntime> runtimes;
    for (const config::TargetConfig& t : config->targets) {
      TargetRuntime runtime;
      if (auto old = runtimes_.find(t.spec.name); old != runtimes_.end()) {
        runtime = std::move(old->second);
        RemapInputs(*FindSpec(t.spec.name), t.spec, runtime);
        // currentReplicas may now come from elsewhere: no count is held
        // across a reload.
        runtime.current_replicas.reset();
        runtime.current_sampled_at = absl::InfinitePast();
      } else {
        for (const InputSpec& input : t.spec.inputs) {
          runtime.inputs.push_back({.name = input.name});
        }
      }
      runtimes.emplace(t.spec.name, std::move(runtime));
    }
    for (const auto& [name, runtime] : runtimes_) {
      if (!runtimes.contains(name)) metrics_.ForgetTarget(name);
    }
    runtimes_ = std::move(runtimes);
    poller_ = std::shared_ptr<source::Poller>(*std::move(poller));
    config_ = std::move(config);
    ++config_generation_;
    return absl::OkStatus();
  }

  // Everything of `server` but the poll interval is read once, at start.
  static bool SameServers(const config::ServerConfig& a,
                          const config::ServerConfig& b) {
    return a.external_metrics == b.external_metrics && a.grpc == b.grpc &&
           a.telemetry == b.telemetry;
  }

  const TargetSpec* FindSpec(absl::string_view name) const {
    if (!config_) return nullptr;
    for (const config::TargetConfig& t : config_->targets) {
      if (t.spec.name == name) return &t.spec;
    }
    return nullptr;
  }

  // Keeps each input's smoothing state and held value under its name when a
  // reload reorders, adds or removes inputs.
  static void RemapInputs(const TargetSpec& old_spec, const TargetSpec& spec,
                          TargetRuntime& runtime) {
    std::vector<engine::InputState> states(spec.inputs.size());
    std::vector<store::InputValue> values(spec.inputs.size());
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      values[i].name = spec.inputs[i].name;
      for (size_t j = 0; j < old_spec.inputs.size(); ++j) {
        if (old_spec.inputs[j].name != spec.inputs[i].name) continue;
        if (j < runtime.history.inputs.size()) {
          states[i] = std::move(runtime.history.inputs[j]);
        }
        if (j < runtime.inputs.size()) values[i] = std::move(runtime.inputs[j]);
      }
    }
    runtime.history.inputs = std::move(states);
    runtime.inputs = std::move(values);
  }

  // --- the poll loop ---------------------------------------------------------

  // On the strand, every pollIntervalSeconds at a fixed rate.
  void Tick() {
    if (stopping_) return;
    const absl::Duration interval =
        absl::Seconds(config_->server.poll_interval_seconds);
    tick_timer_.expires_after(ToChrono(interval));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
    if (polling_) {
      metrics_.CountTick(/*skipped=*/true);
      log_.Warn("previous poll still running; tick skipped");
      return;
    }
    metrics_.CountTick(/*skipped=*/false);
    polling_ = true;
    const uint64_t generation = config_generation_;
    // The poller stays alive until its callback has run, even if a reload
    // replaces it meanwhile; it is released on the strand, never inside its
    // own callback.
    poller_->Poll(
        options_.clock(),
        [this, generation, keep = poller_](source::PollResult result) mutable {
          asio::post(strand_, [this, generation, result = std::move(result),
                               keep = std::move(keep)]() mutable {
            polling_ = false;
            if (generation == config_generation_ && !stopping_) {
              OnPoll(result);
            }
            keep.reset();
          });
        },
        TickBudget());
  }

  // A tick ends within 90 % of the poll interval, so that a source slower
  // than the poll (its own timeout longer than the interval) holds back only
  // its own readings and the next tick still starts on time.
  absl::Duration TickBudget() const {
    return absl::Seconds(config_->server.poll_interval_seconds) * 0.9;
  }

  void OnPoll(const source::PollResult& result) {
    metrics_.ObservePoll(result);
    for (size_t t = 0; t < config_->targets.size(); ++t) {
      const config::TargetConfig& target = config_->targets[t];
      TickTarget(target.spec, result.targets[t], result.time,
                 runtimes_.at(target.spec.name));
    }
    PublishSnapshot();
  }

  void TickTarget(const TargetSpec& spec, const source::TargetReadings& r,
                  absl::Time now, TargetRuntime& runtime) {
    engine::TickInput in{.now = now};
    if (r.current_replicas) {
      if (r.current_replicas->ok()) {
        in.current_replicas = **r.current_replicas;
        runtime.current_replicas = **r.current_replicas;
        runtime.current_sampled_at = now;
      } else if (runtime.current_replicas) {
        in.current_replicas = runtime.current_replicas;
        log_.Warn(
            "current replicas unreadable; holding the last good count",
            {{"target", spec.name},
             {"replicas", absl::StrCat(*runtime.current_replicas)},
             {"age_seconds", absl::StrCat(absl::ToInt64Seconds(
                                 now - runtime.current_sampled_at))},
             {"kind", source::ErrorKind(r.current_replicas->status())},
             {"error", std::string(r.current_replicas->status().message())}});
      } else {
        log_.Warn(
            "current replicas unreadable; assuming ballast's last "
            "recommendation",
            {{"target", spec.name},
             {"kind", source::ErrorKind(r.current_replicas->status())},
             {"error", std::string(r.current_replicas->status().message())}});
      }
    }
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      store::InputValue& held = runtime.inputs[i];
      if (r.inputs[i].ok()) {
        in.inputs.push_back(engine::InputReading::Value(*r.inputs[i]));
        held.value = *r.inputs[i];
        held.sampled_at = now;
        held.error.clear();
        held.consecutive_failures = 0;
      } else {
        in.inputs.push_back(
            engine::InputReading::Missing(r.inputs[i].status()));
        held.error = std::string(r.inputs[i].status().message());
        ++held.consecutive_failures;
        log_.Warn("input read failed; holding its last value",
                  {{"target", spec.name},
                   {"input", held.name},
                   {"error", held.error},
                   {"failures", absl::StrCat(held.consecutive_failures)}});
      }
    }
    engine::TickResult tick =
        engine::Tick(spec, std::move(runtime.history), in);
    runtime.history = std::move(tick.history);
    const engine::Recommendation& rec = tick.recommendation;
    if (!runtime.latest || runtime.latest->replicas != rec.replicas) {
      ++runtime.replicas_version;
      log_.Info(
          "recommendation",
          {{"target", spec.name},
           {"replicas", absl::StrCat(rec.replicas)},
           {"previous", runtime.latest ? absl::StrCat(runtime.latest->replicas)
                                       : std::string("none")},
           {"desired", absl::StrCat(rec.desired)},
           {"limited_by", std::string(engine::LimitName(rec.limited_by))}});
    }
    runtime.latest = rec;
    runtime.recent.push_back(rec);
    while (runtime.recent.size() > static_cast<size_t>(options_.history)) {
      runtime.recent.pop_front();
    }
  }

  void PublishSnapshot() {
    store::Snapshot snapshot;
    snapshot.config_generation = config_generation_;
    snapshot.time = options_.clock();
    for (const config::TargetConfig& t : config_->targets) {
      const TargetRuntime& runtime = runtimes_.at(t.spec.name);
      store::TargetState state{.spec = t.spec,
                               .inputs = runtime.inputs,
                               .latest = runtime.latest,
                               .recent = runtime.recent,
                               .replicas_version = runtime.replicas_version};
      metrics_.ObserveTarget(state, snapshot.time);
      if (runtime.current_replicas) {
        metrics_.ObserveCurrentReplicasAge(
            t.spec.name, runtime.current_sampled_at, snapshot.time);
      }
      snapshot.targets.emplace(t.spec.name, std::move(state));
    }
    store_.Publish(std::move(snapshot));
  }

  const DaemonOptions options_;
  Logger& log_;
  asio::io_context io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer tick_timer_;
  asio::steady_timer config_timer_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  std::shared_ptr<prometheus::Registry> registry_;
  DaemonMetrics metrics_;
  store::RecommendationStore store_;

  // Touched only on the strand once Run() has started the loop.
  std::shared_ptr<const config::Config> config_;
  // The `server` section the servers were started with.
  std::optional<config::ServerConfig> started_servers_;
  uint64_t config_generation_ = 0;
  std::optional<FileStamp> config_stamp_;
  std::shared_ptr<source::Poller> poller_;
  std::map<std::string, TargetRuntime> runtimes_;
  bool polling_ = false;
  bool stopping_ = false;

  std::unique_ptr<server::TelemetryServer> telemetry_;
  std::unique_ptr<server::ExternalMetricsServer> external_metrics_;
  std::unique_ptr<server::GrpcServer> grpc_;
};

Daemon::Daemon(DaemonOptions options, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(options), log)) {}
Daemon::~Daemon() = default;
int Daemon::Run() { return impl_->Run(); }

}  // namespace ballast::app
