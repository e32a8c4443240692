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
  absl::StatusOr<std::string> binary = FindBinary(BALLAST_BINARY);
  if (!binary.ok()) return binary.status();
  std::vector<std::string> argv = {*binary,       "serve",        "--config",
                                   config_path(), "--log-format", "logfmt",
                                   "--log-level", log_level};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (absl::Status s = ballast_.Start(argv, log_path(), env); !s.ok()) {
    return s;
  }
  if (absl::Status s =
          WaitForHttpOk(telemetry_port_, "/readyz", absl::Seconds(20));
      !s.ok()) {
    return absl::Status(s.code(), absl::StrCat(s.message(), "\n", Log()));
  }
  return absl::OkStatus();
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

std::string FaultsTest::Metrics() {
  absl::StatusOr<HttpReply> r = HttpGet(telemetry_port_, "/metrics");
  return r.ok() ? r->body : "";
}

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
