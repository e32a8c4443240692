// `ballast serve --config FILE [--log-level L] [--log-format json|logfmt]`.
#include <memory>
#include <string>

#include "cli.h"
#include "daemon.h"
#include "log.h"

namespace ballast::app {
namespace {

struct ServeFlags {
  std::string config;
  std::string log_level = "info";
  std::string log_format = "json";
  std::optional<int32_t> io_threads;
  std::optional<int32_t> serve_threads;
};

int Serve(const ServeFlags& flags, const Invocation& call) {
  DaemonOptions options;
  options.config_path = flags.config;
  options.io_threads = flags.io_threads.value_or(2);
  options.serve_threads = flags.serve_threads.value_or(2);
  // The choices were checked when parsing.
  Logger log(*ParseLogLevel(flags.log_level), *ParseLogFormat(flags.log_format),
             &call.err);
  Daemon daemon(options, log);
  return daemon.Run();
}

}  // namespace

void AddServeCommand(Cli& cli) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = cli.AddCommand(
      "serve", "the daemon: poll, recommend, serve",
      R"(Polls the sources, runs the engine every server.pollIntervalSeconds, and
serves the recommendations (Kubernetes external metrics API, KEDA external
scaler and ballast.v1 gRPC, /metrics) as the config's `server` section says.
SIGHUP or a change of FILE reloads it (a bad file is rejected and the running
config stays); SIGTERM or SIGINT stops it.)",
      [flags](const Invocation& call) { return Serve(*flags, call); });
  AddRequired(cmd, "--config", &flags->config, "FILE", "policy config");
  AddChoice(cmd, "--log-level", &flags->log_level,
            {"debug", "info", "warn", "error"}, "default info");
  AddChoice(cmd, "--log-format", &flags->log_format, {"json", "logfmt"},
            "default json; logs go to stderr");
  AddWholeNumber(cmd, "--io-threads", &flags->io_threads, 1,
                 "threads running the control loop, the sources and "
                 "telemetry (default 2)");
  AddWholeNumber(cmd, "--serve-threads", &flags->serve_threads, 1,
                 "threads serving the external metrics API, apart from the "
                 "control loop's (default 2)");
}

}  // namespace ballast::app
