// tests/integration/common/serve_process.h
//
// The built `ballast serve` as a child process, and its /metrics read the
// way the tests read it.
//
//   ChildProcess ballast;
//   ASSERT_TRUE(StartServe(ballast, {.config_path = config,
//                                    .log_path = log,
//                                    .telemetry_port = port}).ok());
//   EXPECT_TRUE(EventuallySample(port, R"(ballast_up)",
//                                [](double v) { return v == 1; }));
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_SERVE_PROCESS_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_SERVE_PROCESS_H_

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "integration/common/process.h"

namespace ballast::testing {

struct ServeOptions {
  std::string config_path;
  std::string log_path;
  int telemetry_port = 0;
  std::string log_format = "logfmt";
  std::string log_level;  // empty: the daemon's default
  // Waited for on the telemetry port (200) after the start, up to 20 s.
  std::string wait_path = "/readyz";
  std::vector<std::string> extra_args;
  std::map<std::string, std::string> env;
};

// Starts `ballast serve --config ...` in `process` and waits for
// `wait_path`; the error carries the daemon's log.
absl::Status StartServe(ChildProcess& process, const ServeOptions& options);

// The value of the series written exactly as `series` (name and labels as
// /metrics prints them), if present.
std::optional<double> Sample(const std::string& body,
                             const std::string& series);

// GET /metrics on the telemetry port; empty when it does not answer.
std::string MetricsOf(int telemetry_port);

// Waits until the value of `series` in /metrics satisfies `pred`, polling
// every 100 ms up to `timeout`.
bool EventuallySample(int telemetry_port, const std::string& series,
                      const std::function<bool(double)>& pred,
                      absl::Duration timeout = absl::Seconds(15));

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_SERVE_PROCESS_H_
