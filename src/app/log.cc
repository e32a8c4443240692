#include "log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/core/json.h"

namespace ballast::app {
namespace {

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuotes(absl::string_view s) {
  if (s.empty()) return true;
  for (const char c : s) {
    if (c == ' ' || c == '"' || c == '=' ||
        static_cast<unsigned char>(c) < 0x20) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel l :
       {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (LevelName(l) == name) return l;
  }
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(absl::string_view name) {
  if (name == "json") return LogFormat::kJson;
  if (name == "logfmt") return LogFormat::kLogfmt;
  return std::nullopt;
}

Logger::Logger(LogLevel level, LogFormat format, std::ostream* out)
    : level_(level), format_(format), out_(out) {}

void Logger::Log(LogLevel level, absl::string_view message,
                 const LogFields& fields) {
  if (level < level_) return;
  const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(),
                                          absl::UTCTimeZone());
  std::string line;
  if (format_ == LogFormat::kJson) {
    JsonWriter w;
    w.StartObject().Key("ts").String(ts).Key("level").String(LevelName(level));
    w.Key("msg").String(message);
    for (const auto& [k, v] : fields) w.Key(k).String(v);
    line = w.EndObject().Take() + "\n";
  } else {
    line = absl::StrCat("ts=", ts, " level=", LevelName(level),
                        " msg=", JsonQuote(message));
    for (const auto& [k, v] : fields) {
      absl::StrAppend(&line, " ", k, "=", NeedsQuotes(v) ? JsonQuote(v) : v);
    }
    line += "\n";
  }
  absl::MutexLock lock(&mu_);
  *out_ << line << std::flush;
}

}  // namespace ballast::app
