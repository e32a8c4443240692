#include "integration/faults/faults_fixture.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "integration/cli_util.h"
#include "integration/common/prometheus_server.h"

namespace ballast::testing {

std::string SourceErrors(absl::string_view kind, absl::string_view error) {
  return absl::StrCat(R"(ballast_source_errors_total{error=")", error,
                      R"(",kind=")", kind, R"(",source="main"})");
}

std::string RedisAsrConfig(const std::string& server_extra) {
  return absl::StrCat(R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
)",
                      server_extra, R"(targets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: 3}
)");
}

double SumOf(const std::string& body, absl::string_view name) {
  double sum = 0;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (!absl::ConsumePrefix(&line, name)) continue;
    if (line.empty() || (line[0] != '{' && line[0] != ' ')) continue;
    const size_t space = line.rfind(' ');
    double v = 0;
    if (space != absl::string_view::npos &&
        absl::SimpleAtod(line.substr(space + 1), &v)) {
      sum += v;
    }
  }
  return sum;
}

std::string LinesWith(const std::string& body, absl::string_view prefix) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(body, '\n')) {
    if (absl::StartsWith(line, prefix)) absl::StrAppend(&out, line, "\n");
  }
  return out;
}

absl::Status FaultsTest::StartBallast(
    const std::string& config, const std::vector<std::string>& extra_args,
    const std::map<std::string, std::string>& env,
    const std::string& log_level) {
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  telemetry_port_ = *port;
  std::ofstream(config_path()) << absl::StrReplaceAll(
      config, {{"TELEMETRY", absl::StrCat(telemetry_port_)}});
  return StartServe(ballast_, {.config_path = config_path(),
                               .log_path = log_path(),
                               .telemetry_port = telemetry_port_,
                               .log_level = log_level,
                               .extra_args = extra_args,
                               .env = env});
}

void FaultsTest::Watch(const std::string& series, std::set<double> allowed) {
  allowed_ = std::move(allowed);
  checked_ = false;
  stop_ = false;
  watcher_ = std::thread([this, series] { WatchLoop(series); });
}

void FaultsTest::Allow(double v) {
  std::lock_guard<std::mutex> lock(mu_);
  allowed_.insert(v);
}

void FaultsTest::StopWatching() {
  stop_ = true;
  if (watcher_.joinable()) watcher_.join();
  if (checked_) return;
  checked_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  // Never a hang: /healthz answered each probe within 2 s.
  EXPECT_EQ(health_failures_, 0) << last_health_failure_ << "\n" << Log();
  std::fprintf(stderr, "faults: slowest /healthz %.3f s over %d probes\n",
               absl::ToDoubleSeconds(slowest_health_), health_probes_);
  // Never a crash.
  EXPECT_FALSE(ballast_.Exited()) << Log();
  // Never a value nobody wrote (a zero read as a value, say).
  if (allowed_.empty()) return;
  for (double v : seen_) {
    EXPECT_TRUE(allowed_.count(v) > 0)
        << "served " << v << "; seen: " << absl::StrJoin(seen_, ", ") << "\n"
        << Log();
  }
}

void FaultsTest::TearDown() { StopWatching(); }

std::string FaultsTest::Metrics() { return MetricsOf(telemetry_port_); }

bool FaultsTest::Eventually(const std::function<bool(const std::string&)>& pred,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (pred(Metrics())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

absl::Duration FaultsTest::MeasureRecovery(
    const std::string& name, absl::Time fault_end,
    const std::function<bool(const std::string&)>& pred) {
  const bool recovered = Eventually(pred, absl::Seconds(20));
  const absl::Duration took = absl::Now() - fault_end;
  EXPECT_TRUE(recovered) << name << " not recovered after " << took << "\n"
                         << Metrics() << Log();
  std::fprintf(stderr, "recovery %s: %.2f s\n", name.c_str(),
               absl::ToDoubleSeconds(took));
  return took;
}

void FaultsTest::ExpectHeldThroughFailures(const std::string& errors,
                                           const std::string& value,
                                           const std::string& age,
                                           const std::string& log_text,
                                           bool only_this_error) {
  EXPECT_TRUE(Eventually([&](const std::string& m) {
    return Sample(m, errors).value_or(0) >= 1;
  })) << Metrics()
      << Log();
  EXPECT_TRUE(Eventually([&](const std::string& m) {
    return Sample(m, age).value_or(0) >= 2;
  })) << Metrics()
      << Log();
  const std::string m = Metrics();
  EXPECT_EQ(Sample(m, value), 12) << m;
  if (only_this_error) {
    EXPECT_EQ(SumOf(m, "ballast_source_errors_total"),
              Sample(m, errors).value_or(-1))
        << m;
  }
  std::fprintf(stderr, "faults: %s",
               LinesWith(m, "ballast_source_errors_total{").c_str());
  const std::string log = Log();
  EXPECT_TRUE(absl::StrContains(log, kHolding)) << log;
  EXPECT_TRUE(absl::StrContains(log, log_text)) << log;
}

std::string FaultsTest::Log() const { return ReadFile(log_path()); }

void FaultsTest::WatchLoop(std::string series) {
  while (!stop_) {
    const absl::Time start = absl::Now();
    absl::StatusOr<HttpReply> h =
        HttpGet(telemetry_port_, "/healthz", absl::Seconds(2));
    const absl::Duration took = absl::Now() - start;
    std::optional<double> v = Sample(Metrics(), series);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++health_probes_;
      slowest_health_ = std::max(slowest_health_, took);
      if (!h.ok() || h->status != 200) {
        ++health_failures_;
        last_health_failure_ =
            h.ok() ? absl::StrCat("status ", h->status) : h.status().ToString();
      }
      if (v) seen_.insert(*v);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace ballast::testing
