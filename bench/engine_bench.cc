// Time of one engine tick over N targets (1, 100, 10,000), each with two
// inputs (one EWMA-smoothed, one p90 over 2 minutes), default behavior and a
// load that swings so that windows, policies and events are all exercised.
#include <cmath>
#include <vector>

#include "ballast/engine/engine.h"
#include "benchmark/benchmark.h"

namespace ballast::engine {
namespace {

TargetSpec BenchSpec() {
  TargetSpec spec;
  spec.name = "bench";
  spec.min_replicas = 2;
  spec.max_replicas = 200;
  spec.behavior = Behavior::Defaults();
  spec.inputs = {
      {.name = "backlog",
       .target_type = TargetType::kAverageValue,
       .target = 30,
       .smoothing = {.kind = Smoothing::Kind::kEwma, .half_life_seconds = 30}},
      {.name = "latency",
       .target_type = TargetType::kValue,
       .target = 2.0,
       .smoothing = {.kind = Smoothing::Kind::kQuantile,
                     .quantile = 0.9,
                     .window_seconds = 120}},
  };
  spec.fallback = Fallback{.failure_threshold = 3, .replicas = 6};
  return spec;
}

void BM_TickAllTargets(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  const TargetSpec spec = BenchSpec();
  std::vector<TargetHistory> histories(n);
  int64_t t = 0;
  for (auto _ : state) {
    t += 15;
    // A 20-minute cycle between light and heavy load.
    const double phase = std::sin(static_cast<double>(t) / 1200.0 * 6.283);
    for (size_t i = 0; i < n; ++i) {
      const double load = 300 + 280 * phase + static_cast<double>(i % 7);
      TickInput in{.now = absl::FromUnixSeconds(t),
                   .current_replicas = std::nullopt,
                   .inputs = {InputReading::Value(load),
                              InputReading::Value(1.0 + load / 300.0)}};
      TickResult r = Tick(spec, std::move(histories[i]), in);
      benchmark::DoNotOptimize(r.recommendation.replicas);
      histories[i] = std::move(r.history);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * n));
  state.counters["targets"] = static_cast<double>(n);
}
BENCHMARK(BM_TickAllTargets)
    ->Arg(1)
    ->Arg(100)
    ->Arg(10000)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ballast::engine
