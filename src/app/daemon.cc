#include "daemon.h"

#include <sys/resource.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "ballast/config/config.h"
#include "ballast/control/control_loop.h"
#include "ballast/control/poller.h"
#include "ballast/net/asio_time.h"
#include "ballast/net/file_stamp.h"
#include "ballast/server/external_metrics_server.h"
#include "ballast/server/grpc_server.h"
#include "ballast/server/telemetry_server.h"
#include "ballast/store/recommendation_store.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/post.hpp"
#include "boost/asio/signal_set.hpp"
#include "boost/asio/steady_timer.hpp"
#include "boost/asio/strand.hpp"
#include "daemon_metrics.h"
#include "prometheus/registry.h"
#include "replication.h"

namespace ballast::app {
namespace {

namespace asio = boost::asio;

// The config file's version on disk, or nullopt while it is missing.
std::optional<net::FileStamp> Stamp(const std::string& path) {
  absl::StatusOr<net::FileStamp> stamp = net::StatFile(path);
  if (!stamp.ok()) return std::nullopt;
  return *stamp;
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

// glibc gives each thread that allocates its own arena, up to 8 per core,
// and an arena keeps the pages it has freed: the tick's thread and each
// serving thread each hold a heap's worth of churn (at 10,000 targets
// MALLOC_ARENA_MAX=1 took RSS from 194 to 142 MiB in one bench/scale.sh
// run). Two arenas
// keep lock contention off the serving path and the RSS near the live
// heap. MALLOC_ARENA_MAX in the environment still decides when set.
void LimitMallocArenas(Logger& log) {
#if defined(__GLIBC__)
  if (std::getenv("MALLOC_ARENA_MAX") != nullptr) return;
  if (mallopt(M_ARENA_MAX, 2) != 1) {
    log.Warn("cannot limit malloc arenas; RSS may grow with threads");
  }
#else
  (void)log;
#endif
}

// The control loop's log lines and metrics, to the daemon's logger and
// registry.
class LoopObserver : public control::Observer {
 public:
  LoopObserver(Logger& log, DaemonMetrics& metrics)
      : log_(log), metrics_(metrics) {}

  void Log(control::Severity severity, absl::string_view message,
           const control::LogFields& fields) override {
    log_.Log(severity == control::Severity::kWarn ? LogLevel::kWarn
                                                  : LogLevel::kInfo,
             message, fields);
  }
  void Ticked(bool skipped) override { metrics_.CountTick(skipped); }
  void Polled(const control::PollResult& result) override {
    metrics_.ObservePoll(result);
  }
  void Published(const store::TargetState& state,
                 std::optional<absl::Time> current_sampled_at,
                 absl::Time /*now*/) override {
    // The rest of the target's series are written from the snapshot when
    // /metrics is scraped.
    metrics_.ObserveCurrentReplicas(state.spec->name, current_sampled_at);
  }
  void Removed(const std::string& target) override {
    metrics_.ForgetTarget(target);
  }

 private:
  Logger& log_;
  DaemonMetrics& metrics_;
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
        metrics_(*registry_),
        observer_(log_, metrics_),
        loop_(std::make_unique<control::ControlLoop>(
            control::ControlLoopOptions{
                .history = options_.history,
                .clock = options_.clock,
                .post =
                    [this](absl::AnyInvocable<void()> task) {
                      asio::post(strand_, std::move(task));
                    },
                .after_tick =
                    [this] {
                      if (replication_) replication_->AfterTick();
                      MaybeReturnFreedMemory();
                    }},
            store_, observer_)) {}

  // Starts, in order: the control loop's first config and source, the
  // servers, the signal handlers, the ticks, the config file watch. Each
  // start registers its stop (OnStop); SIGTERM runs them in reverse.
  int Run() {
    RaiseOpenFileLimit(log_);
    LimitMallocArenas(log_);
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
    if (absl::Status s = StartReplication(); !s.ok()) {
      log_.Error("cannot start", {{"error", std::string(s.message())}});
      return 1;
    }
    if (absl::Status s = StartServers(); !s.ok()) {
      log_.Error("cannot start", {{"error", std::string(s.message())}});
      StopAll();
      return 1;
    }
    WaitForSignals();
    OnStop([this](absl::Time, const std::function<void()>& done) {
      hup_.cancel();
      done();
    });
    asio::post(strand_, [this] { Tick(); });
    OnStop([this](absl::Time, const std::function<void()>& done) {
      loop_->Stop();
      tick_timer_.cancel();
      done();
    });
    WatchConfigFile();
    OnStop([this](absl::Time, const std::function<void()>& done) {
      config_timer_.cancel();
      done();
    });
    log_.Info("serving",
              {{"config", options_.config_path},
               {"targets", absl::StrCat(loop_->config().targets.size())}});

    std::vector<std::thread> threads;
    for (int i = 1; i < options_.io_threads; ++i) {
      threads.emplace_back([this] { io_.run(); });
    }
    // Without an external metrics server there is nothing to run: these
    // return at once.
    for (int i = 0; i < options_.serve_threads; ++i) {
      threads.emplace_back([this] { serve_io_.run(); });
    }
    io_.run();
    // Every stop has run, the external metrics server's included.
    serve_io_.stop();
    for (std::thread& t : threads) t.join();
    // Releases the poller.
    loop_.reset();
    log_.Info("stopped");
    return 0;
  }

 private:
  // --- start and stop ------------------------------------------------------

  // Stops one started component; calls `done` once it has stopped (at once,
  // or later on an io thread). In-flight work may run until `deadline`.
  using StopFn = absl::AnyInvocable<void(absl::Time deadline,
                                         const std::function<void()>& done)>;

  // Registered right after the start it undoes.
  void OnStop(StopFn stop) { stops_.push_back(std::move(stop)); }

  // Runs every registered stop, the last started first, within one shared
  // grace: the HTTP servers close their idle connections at once and finish
  // in-flight requests for up to `grace` (asynchronously, on the io
  // threads), while gRPC ends its streams and waits for its calls up to the
  // same deadline; then the io_context stops (idle source connections would
  // otherwise keep it running). One after the other, a slow gRPC shutdown
  // would delay the HTTP servers' by its whole grace.
  void StopAll() {
    const absl::Duration grace = absl::Seconds(3);
    const absl::Time deadline = absl::Now() + grace;
    std::vector<StopFn> stops = std::move(stops_);
    stops_.clear();
    auto pending =
        std::make_shared<std::atomic<int>>(static_cast<int>(stops.size()) + 1);
    const std::function<void()> one_done = [this, pending] {
      if (--*pending == 0) io_.stop();
    };
    for (auto stop = stops.rbegin(); stop != stops.rend(); ++stop) {
      (*stop)(deadline, one_done);
    }
    one_done();
  }

  // --- durable state and leader election -----------------------------------

  // With `state:`, the replicas elect a leader; without, this process leads
  // alone and keeps its state in memory.
  absl::Status StartReplication() {
    const config::Config& config = loop_->config();
    if (!config.state) return absl::OkStatus();
    started_state_ = config.state;
    absl::StatusOr<std::unique_ptr<Replication>> r = Replication::Create(
        io_, strand_, config, *loop_, log_, *registry_, options_.clock);
    if (!r.ok()) return Annotate(r.status(), "state");
    replication_ = *std::move(r);
    asio::post(strand_, [this] { replication_->Start(); });
    OnStop([this](absl::Time, const std::function<void()>& done) {
      asio::post(strand_, [this, done] { replication_->Stop(done); });
    });
    return absl::OkStatus();
  }

  // --- servers -----------------------------------------------------------

  absl::Status StartServers() {
    const config::ServerConfig& s = loop_->config().server;
    started_servers_ = s;
    if (s.telemetry) {
      server::Readiness readiness{.clock = options_.clock};
      if (replication_) readiness.stale_after = replication_->stale_after();
      auto server = server::TelemetryServer::Start(
          io_, store_, {registry_}, *s.telemetry, readiness,
          &metrics_.current_replicas());
      if (!server.ok()) return Annotate(server.status(), "server.telemetry");
      telemetry_ = *std::move(server);
      OnStop([this](absl::Time deadline, const std::function<void()>& done) {
        telemetry_->Stop(GraceUntil(deadline), done);
      });
      log_.Info("telemetry listening",
                {{"port", absl::StrCat(telemetry_->port())}});
    }
    if (s.external_metrics) {
      // On its own io_context and threads: requests never queue behind a
      // tick (the control loop's strand), a source's replies or a scrape.
      auto server = server::ExternalMetricsServer::Start(
          serve_io_, store_, *registry_,
          {.config = *s.external_metrics,
           .poll_interval_seconds = s.poll_interval_seconds,
           .kubernetes = loop_->config().kubernetes,
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
           .on_denial =
               [this](const server::AuthorizationDenial& denial) {
                 log_.Warn(
                     "external metrics request denied (told once per "
                     "identity; every denial is counted in "
                     "ballast_external_metrics_authorizations_total)",
                     {{"user", denial.user.name},
                      {"groups", absl::StrJoin(denial.user.groups, ",")},
                      {"verb", denial.verb},
                      {"path", denial.path},
                      {"reason", denial.message}});
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
      OnStop([this](absl::Time deadline, const std::function<void()>& done) {
        external_metrics_->Stop(GraceUntil(deadline), done);
      });
      log_.Info("external metrics API listening",
                {{"port", absl::StrCat(external_metrics_->port())}});
    }
    if (s.grpc) {
      auto server = server::GrpcServer::Start(*s.grpc, store_, *registry_);
      if (!server.ok()) return Annotate(server.status(), "server.grpc");
      grpc_ = *std::move(server);
      // Blocks until its calls end or the deadline: run after this round of
      // stops, so that the HTTP servers' (started earlier, stopped later)
      // begin at once.
      OnStop([this](absl::Time deadline, const std::function<void()>& done) {
        asio::post(io_, [this, deadline, done] {
          grpc_->Shutdown(deadline);
          done();
        });
      });
      log_.Info("gRPC listening", {{"port", absl::StrCat(grpc_->port())}});
    }
    return absl::OkStatus();
  }

  static absl::Duration GraceUntil(absl::Time deadline) {
    return std::max(deadline - absl::Now(), absl::ZeroDuration());
  }

  static absl::Status Annotate(const absl::Status& s, absl::string_view what) {
    return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
  }

  // --- signals and reloads -------------------------------------------------

  void WaitForSignals() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      log_.Info("stopping",
                {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
      asio::post(strand_, [this] {
        stopping_ = true;
        StopAll();
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
      const std::optional<net::FileStamp> stamp = Stamp(options_.config_path);
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
               {"targets", absl::StrCat(loop_->config().targets.size())}});
    // A follower publishes what it next reads from the store.
    if (!replication_ || replication_->leading()) loop_->PublishSnapshot();
  }

  // Swaps in a new config: a new poller for the control loop, which keeps
  // its runtimes; servers' settings left as started.
  absl::Status Apply(std::shared_ptr<const config::Config> config) {
    absl::StatusOr<std::unique_ptr<control::Poller>> source =
        control::Poller::Create(io_, config);
    if (!source.ok()) return source.status();
    // Against what the servers were started with, not the last config: a
    // change that is then reverted leaves nothing pending.
    if (started_servers_ && !SameServers(*started_servers_, config->server)) {
      log_.Warn("server settings changed; they apply at the next restart");
    }
    if (replication_ && config->state != started_state_) {
      log_.Warn("state settings changed; they apply at the next restart");
    }
    loop_->Apply(std::move(config), *std::move(source));
    return absl::OkStatus();
  }

  // Everything of `server` but the poll interval is read once, at start.
  static bool SameServers(const config::ServerConfig& a,
                          const config::ServerConfig& b) {
    return a.external_metrics == b.external_metrics && a.grpc == b.grpc &&
           a.telemetry == b.telemetry;
  }

  // After a tick has replaced the snapshot, the previous one's memory is
  // free, but glibc keeps most of it mapped (it trims only the top of each
  // heap): hand the free pages back, so that RSS follows the live heap (at
  // 10,000 targets 63 MiB instead of 141-176). At most every 5 s: a trim
  // walks the heap, 13 ms at 10,000 targets (bench/README.md "Scale").
  void MaybeReturnFreedMemory() {
#if defined(__GLIBC__)
    const absl::Time now = options_.clock();
    if (now - last_trim_ < absl::Seconds(5)) return;
    last_trim_ = now;
    malloc_trim(0);
#endif
  }

  // On the strand, every pollIntervalSeconds at a fixed rate.
  void Tick() {
    if (stopping_) return;
    tick_timer_.expires_after(net::ToChrono(
        absl::Seconds(loop_->config().server.poll_interval_seconds)));
    tick_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Tick();
    });
    const std::shared_ptr<const store::Snapshot> served = store_.Current();
    metrics_.ObserveSnapshotAge(served->generation == 0
                                    ? absl::ZeroDuration()
                                    : options_.clock() - served->time);
    if (replication_) {
      replication_->Tick();
    } else {
      loop_->Tick();
    }
  }

  const DaemonOptions options_;
  Logger& log_;
  asio::io_context io_;
  // The external metrics API's (see StartServers).
  asio::io_context serve_io_;
  asio::strand<asio::io_context::executor_type> strand_;
  asio::steady_timer tick_timer_;
  asio::steady_timer config_timer_;
  asio::signal_set signals_;
  asio::signal_set hup_;
  std::shared_ptr<prometheus::Registry> registry_;
  DaemonMetrics metrics_;
  store::RecommendationStore store_;
  LoopObserver observer_;
  // Touched only on the strand once Run() has started the loop.
  std::unique_ptr<control::ControlLoop> loop_;

  // The `server` section the servers were started with.
  std::optional<config::ServerConfig> started_servers_;
  std::optional<net::FileStamp> config_stamp_;
  bool stopping_ = false;
  std::vector<StopFn> stops_;
  absl::Time last_trim_ = absl::InfinitePast();

  std::optional<config::StateConfig> started_state_;
  std::unique_ptr<Replication> replication_;
  std::unique_ptr<server::TelemetryServer> telemetry_;
  std::unique_ptr<server::ExternalMetricsServer> external_metrics_;
  std::unique_ptr<server::GrpcServer> grpc_;
};

Daemon::Daemon(DaemonOptions options, Logger& log)
    : impl_(std::make_unique<Impl>(std::move(options), log)) {}
Daemon::~Daemon() = default;
int Daemon::Run() { return impl_->Run(); }

}  // namespace ballast::app
