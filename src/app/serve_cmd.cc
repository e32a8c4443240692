// `ballast serve --config FILE [--log-level L] [--log-format json|logfmt]`.
#include <iostream>
#include <string>

#include "ballast/app/commands.h"
#include "daemon.h"
#include "flags.h"
#include "log.h"

namespace ballast::app {
namespace {

constexpr absl::string_view kServeUsage =
    R"(usage: ballast serve --config FILE [options]

Polls the sources, runs the engine every server.pollIntervalSeconds, and
serves the recommendations (Kubernetes external metrics API, KEDA external
scaler and ballast.v1 gRPC, /metrics) as the config's `server` section says.
SIGHUP or a change of FILE reloads it (a bad file is rejected and the running
config stays); SIGTERM or SIGINT stops it.

  --config FILE          policy config
  --log-level LEVEL      debug, info (default), warn, error
  --log-format FORMAT    json (default) or logfmt; logs go to stderr
  --io-threads N         threads running the I/O loop (default 2)
)";

}  // namespace

int RunServe(const Args& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Flags> flags =
      ParseFlags(args, 0, {"config", "log-level", "log-format", "io-threads"});
  if (!flags.ok()) {
    err << "ballast serve: " << flags.status().message() << "\n" << kServeUsage;
    return 2;
  }
  if (flags->contains("help")) {
    out << kServeUsage;
    return 0;
  }
  FlagReader reader(*flags);
  DaemonOptions options;
  options.config_path = reader.Required("config");
  const std::optional<LogLevel> level =
      ParseLogLevel(reader.String("log-level").value_or("info"));
  const std::optional<LogFormat> format =
      ParseLogFormat(reader.String("log-format").value_or("json"));
  if (!level) reader.Fail("--log-level must be debug, info, warn or error");
  if (!format) reader.Fail("--log-format must be json or logfmt");
  options.io_threads = reader.PositiveInt("io-threads").value_or(2);
  if (!reader.error.empty()) {
    err << "ballast serve: " << reader.error << "\n" << kServeUsage;
    return 2;
  }
  Logger log(*level, *format, &err);
  Daemon daemon(options, log);
  return daemon.Run();
}

}  // namespace ballast::app
