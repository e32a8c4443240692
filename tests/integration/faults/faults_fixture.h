// tests/integration/faults/faults_fixture.h
//
// The fault matrix of issue 12: a real `ballast serve` (the built binary)
// in front of real servers, one fault at a time. FaultsTest starts the
// daemon from a config text, watches it from a second thread (/healthz
// within 2 s, the daemon alive, every value it serves for one series) and
// checks at TearDown that it never hung, never crashed and never served a
// value the test did not allow. Recovery times go to stderr as
// "recovery NAME: N s" for bench/README.md.
//
//   class FaultsFooTest : public FaultsTest {};
//   TEST_F(FaultsFooTest, Down) {
//     ASSERT_TRUE(StartBallast(config_with_TELEMETRY).ok());
//     Watch(R"(ballast_input_value{input="x",target="t"})", {12, 15});
//     ... fault ...; EXPECT_TRUE(Eventually(pred));
//     MeasureRecovery("foo-down", fault_end, pred);
//   }
//
// Run the whole matrix alone with `ctest -L faults`.
#ifndef BALLAST_TESTS_INTEGRATION_FAULTS_FAULTS_FIXTURE_H_
#define BALLAST_TESTS_INTEGRATION_FAULTS_FAULTS_FIXTURE_H_

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/serve_process.h"

namespace ballast::testing {

// ballast_source_errors_total of source "main" of `kind` for `error`.
std::string SourceErrors(absl::string_view kind, absl::string_view error);

// What the daemon logs while it holds an input's last value.
inline constexpr char kHolding[] = "input read failed; holding its last value";

// A config of source "main", the Redis at 127.0.0.1:REDIS (a placeholder,
// as is TELEMETRY), polled every second, and target asr-worker (max 20, 2
// current) on the backlog of queue asr, 3 per replica; `server_extra` goes
// under server: after the telemetry listener.
std::string RedisAsrConfig(const std::string& server_extra = "");

// The sum over every series of metric `name` (any labels).
double SumOf(const std::string& body, absl::string_view name);

// The lines of /metrics that start with `prefix`, for failure messages and
// the stderr report.
std::string LinesWith(const std::string& body, absl::string_view prefix);

class FaultsTest : public ::testing::Test {
 protected:
  // Writes `config` (every "TELEMETRY" replaced by a free port) to
  // dir()/ballast.yaml and starts `ballast serve` on it with logfmt logs at
  // `log_level`, then waits for /readyz.
  absl::Status StartBallast(const std::string& config,
                            const std::vector<std::string>& extra_args = {},
                            const std::map<std::string, std::string>& env = {},
                            const std::string& log_level = "info");

  // Starts the watcher: /healthz every 100 ms with a 2 s limit, and the
  // value of `series` in /metrics. When `allowed` is not empty, TearDown
  // fails on any other value seen.
  void Watch(const std::string& series, std::set<double> allowed = {});
  void Allow(double v);

  // Stops the watcher and checks what it saw; also called by TearDown.
  void StopWatching();
  void TearDown() override;

  std::string Metrics();
  // Waits until `pred(/metrics)` holds, up to `timeout`.
  bool Eventually(const std::function<bool(const std::string&)>& pred,
                  absl::Duration timeout = absl::Seconds(15));
  // From `fault_end` until `pred(/metrics)` holds (20 s at most); prints
  // "recovery NAME: N s" and returns the time.
  absl::Duration MeasureRecovery(
      const std::string& name, absl::Time fault_end,
      const std::function<bool(const std::string&)>& pred);

  // While reads fail: the `errors` series counted, `log_text` and kHolding
  // logged, and the last good value 12 of series `value` served with an
  // `age` of 2 s and more; with `only_this_error`, no other source error
  // counted. Prints the source errors to stderr.
  void ExpectHeldThroughFailures(const std::string& errors,
                                 const std::string& value,
                                 const std::string& age,
                                 const std::string& log_text,
                                 bool only_this_error);

  std::string config_path() const { return dir_.path() + "/ballast.yaml"; }
  std::string log_path() const { return dir_.path() + "/ballast.log"; }
  std::string Log() const;
  const TempDir& dir() const { return dir_; }
  int telemetry_port() const { return telemetry_port_; }
  ChildProcess& ballast() { return ballast_; }

 private:
  void WatchLoop(std::string series);

  TempDir dir_;
  int telemetry_port_ = 0;
  ChildProcess ballast_;

  std::thread watcher_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  int health_probes_ = 0;
  int health_failures_ = 0;
  std::string last_health_failure_;
  absl::Duration slowest_health_;
  std::set<double> seen_;
  std::set<double> allowed_;
  bool checked_ = true;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_FAULTS_FAULTS_FIXTURE_H_
