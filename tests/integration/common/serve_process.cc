#include "integration/common/serve_process.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "integration/common/prometheus_server.h"

namespace ballast::testing {

absl::Status StartServe(ChildProcess& process, const ServeOptions& options) {
  absl::StatusOr<std::string> binary = FindBinary(BALLAST_BINARY);
  if (!binary.ok()) return binary.status();
  std::vector<std::string> argv = {*binary,        "serve",
                                   "--config",     options.config_path,
                                   "--log-format", options.log_format};
  if (!options.log_level.empty()) {
    argv.insert(argv.end(), {"--log-level", options.log_level});
  }
  argv.insert(argv.end(), options.extra_args.begin(), options.extra_args.end());
  if (absl::Status s = process.Start(argv, options.log_path, options.env);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = WaitForHttpOk(options.telemetry_port, options.wait_path,
                                     absl::Seconds(20));
      !s.ok()) {
    std::ifstream in(options.log_path);
    std::stringstream log;
    log << in.rdbuf();
    return absl::Status(s.code(), absl::StrCat(s.message(), "\n", log.str()));
  }
  return absl::OkStatus();
}

std::optional<double> Sample(const std::string& body,
                             const std::string& series) {
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, series) ||
        !absl::ConsumePrefix(&line, " ")) {
      continue;
    }
    double v = 0;
    if (absl::SimpleAtod(line, &v)) return v;
  }
  return std::nullopt;
}

std::string MetricsOf(int telemetry_port) {
  absl::StatusOr<HttpReply> r = HttpGet(telemetry_port, "/metrics");
  return r.ok() ? r->body : "";
}

bool EventuallySample(int telemetry_port, const std::string& series,
                      const std::function<bool(double)>& pred,
                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    std::optional<double> v = Sample(MetricsOf(telemetry_port), series);
    if (v && pred(*v)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

}  // namespace ballast::testing
