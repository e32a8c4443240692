// The cost of one Prometheus poll tick: N instant queries sent through one
// PrometheusClient (keep-alive connections, at most 4 in flight) to a real
// local prometheus that scrapes itself every second, until all N answered.
//
//   build-*/bench/prometheus_bench --benchmark_min_time=2
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ballast/source/prometheus_client.h"
#include "benchmark/benchmark.h"
#include "integration/common/async_call.h"
#include "integration/common/prometheus_server.h"

namespace ballast::source {
namespace {

constexpr int kMaxInFlight = 4;

// What a tick asks: a rate, a latency quantile and a plain selector, as a
// speech-service config would.
const std::vector<std::string>& Queries() {
  static const auto* queries = new std::vector<std::string>{
      "sum(rate(prometheus_http_requests_total[1m]))",
      "histogram_quantile(0.95, sum by (le) "
      "(rate(prometheus_http_request_duration_seconds_bucket[1m])))",
      "sum(up)",
  };
  return *queries;
}

// One prometheus for the whole run, stopped at exit.
ballast::testing::PrometheusServer* Prometheus() {
  static ballast::testing::PrometheusServer* server = [] {
    auto* s = new ballast::testing::PrometheusServer;
    absl::Status started = s->Start({}, absl::Seconds(1), /*scrape_self=*/true);
    if (!started.ok()) {
      fprintf(stderr, "prometheus: %s\n", started.ToString().c_str());
      std::exit(1);
    }
    return s;
  }();
  return server;
}

void BM_PrometheusTick(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  boost::asio::io_context io;
  PrometheusClientOptions options;
  options.http.base_url = Prometheus()->url();
  options.http.max_in_flight = kMaxInFlight;
  auto client = PrometheusClient::Create(io, options);
  if (!client.ok()) {
    state.SkipWithError(std::string(client.status().message()).c_str());
    return;
  }
  // Wait until the rate queries have two scrapes to work with.
  for (int i = 0; i < 100; ++i) {
    auto r = ballast::testing::AsyncCall<QueryResult>(io, [&](auto done) {
      (*client)->Query({.promql = Queries()[0]}, absl::Now(), std::move(done));
    });
    if (r.ok()) break;
    absl::SleepFor(absl::Milliseconds(200));
  }
  int errors = 0;
  for (auto _ : state) {
    int pending = n;
    const absl::Time at = absl::Now();
    for (int i = 0; i < n; ++i) {
      (*client)->Query({.promql = Queries()[i % Queries().size()]}, at,
                       [&](absl::StatusOr<QueryResult> r) {
                         if (!r.ok()) ++errors;
                         --pending;
                       });
    }
    io.restart();
    while (pending > 0 && io.run_one() > 0) {
    }
  }
  state.counters["queries_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
  state.counters["errors"] = errors;
}
BENCHMARK(BM_PrometheusTick)
    ->Arg(1)
    ->Arg(10)
    ->Arg(100)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace ballast::source
