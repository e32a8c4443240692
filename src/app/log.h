// src/app/log.h
//
// Structured logs for the daemon: one JSON object a line on stderr (or
// logfmt), with a level filter. Fields are key/value pairs; secrets never
// reach a log line because no caller passes them (sources log their address
// and the error, never a password or token).
//
//   Logger log(LogLevel::kInfo, LogFormat::kJson);
//   log.Info("config reloaded", {{"targets", "3"}, {"file", path}});
//   // {"ts":"2026-11-23T10:00:00.123Z","level":"info","msg":"config reloaded",
//   //  "targets":"3","file":"config.yaml"}
//
// Thread-safe: a line is written with one call under a mutex.
#ifndef BALLAST_SRC_APP_LOG_H_
#define BALLAST_SRC_APP_LOG_H_

#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace ballast::app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
enum class LogFormat { kJson, kLogfmt };

std::optional<LogLevel> ParseLogLevel(absl::string_view name);
std::optional<LogFormat> ParseLogFormat(absl::string_view name);

using LogFields = std::vector<std::pair<std::string, std::string>>;

class Logger {
 public:
  Logger(LogLevel level, LogFormat format, std::ostream* out);

  void Log(LogLevel level, absl::string_view message,
           const LogFields& fields = {});
  void Debug(absl::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kDebug, m, f);
  }
  void Info(absl::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kInfo, m, f);
  }
  void Warn(absl::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kWarn, m, f);
  }
  void Error(absl::string_view m, const LogFields& f = {}) {
    Log(LogLevel::kError, m, f);
  }

 private:
  const LogLevel level_;
  const LogFormat format_;
  absl::Mutex mu_;
  std::ostream* out_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_LOG_H_
