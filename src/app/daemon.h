// src/app/daemon.h
//
// The composition root of `ballast serve`: the only place that names the
// concrete sources and servers. It builds, in dependency order, the
// recommendation store, the metrics registry, the control loop
// (ballast/control/control_loop.h) with the config's poller, and the
// servers configured under `server`, runs them on one io_context, ticks the
// loop every pollIntervalSeconds, reloads the config on SIGHUP or when the
// file changes, and on SIGTERM stops them in reverse order (each start
// registers its stop).
//
//   Daemon daemon(options, logger);
//   int exit_code = daemon.Run();  // returns after SIGTERM/SIGINT
#ifndef BALLAST_SRC_APP_DAEMON_H_
#define BALLAST_SRC_APP_DAEMON_H_

#include <memory>
#include <string>

#include "ballast/core/clock.h"
#include "log.h"

namespace ballast::app {

struct DaemonOptions {
  std::string config_path;
  // Threads running the control loop, the sources' clients, telemetry and
  // the signal handlers.
  int io_threads = 2;
  // Threads of the external metrics API's own io_context: a tick or a
  // /metrics scrape never holds a thread a request needs.
  int serve_threads = 2;
  // How often the config file is checked for changes (mtime, size, inode).
  int config_check_seconds = 2;
  // The last N recommendations kept per target for `ballast explain`.
  int history = 20;
  // The engine's time, inputs' ages and snapshot times: monotonic, so that
  // a step of the wall clock neither freezes nor expires the windows.
  Clock clock = MonotonicNow;
};

class Daemon {
 public:
  Daemon(DaemonOptions options, Logger& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Loads the config (a bad one is fatal at start), starts everything and
  // serves until SIGTERM or SIGINT. 0 after a clean stop, 1 if start-up
  // failed.
  int Run();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_DAEMON_H_
