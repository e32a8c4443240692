// The state store's cost per tick and at a takeover, for N targets (1,000
// and 10,000), each with the history of a real run: one Celery-like input
// with EWMA smoothing, a 300 s scale-down window and 20 recommendations kept
// for explain, after 300 ticks of 1 s on a varying load (windows full).
//
//   BM_Encode:  every record to bytes (the leader, each tick)
//   BM_Decode:  every record from bytes (a follower each tick, a takeover)
//   BM_Write:   RedisStateStore::Write of every record: one fenced round
//               trip to a real redis-server the benchmark starts
//   BM_Restore: RedisStateStore::ReadAll + decode (a takeover)
// Counter bytes_per_target: the record size.
#include <boost/asio/io_context.hpp>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ballast/engine/engine.h"
#include "ballast/state/record.h"
#include "ballast/state/redis_state_store.h"
#include "benchmark/benchmark.h"
#include "integration/common/process.h"

namespace ballast::state {
namespace {

int g_port = 0;

TargetSpec Spec() {
  TargetSpec spec;
  spec.name = "t";
  spec.min_replicas = 1;
  spec.max_replicas = 100;
  InputSpec input;
  input.name = "backlog";
  input.target_type = TargetType::kAverageValue;
  input.target = 30;
  input.smoothing.kind = Smoothing::Kind::kEwma;
  input.smoothing.half_life_seconds = 30;
  spec.inputs.push_back(input);
  spec.behavior = Behavior::Defaults();  // a 300 s scale-down window
  return spec;
}

// One target's record after 300 ticks.
TargetRecord MakeRecord(const std::string& name) {
  const TargetSpec spec = Spec();
  TargetRecord r;
  r.target = name;
  r.inputs.push_back({.name = "backlog"});
  const absl::Time start = absl::FromUnixSeconds(1'800'000'000);
  for (int t = 0; t < 300; ++t) {
    const double v = 300 + 250 * std::sin(t / 20.0);
    const absl::Time now = start + absl::Seconds(t);
    engine::TickResult tick =
        engine::Tick(spec, std::move(r.history),
                     {.now = now, .inputs = {engine::InputReading::Value(v)}});
    r.history = std::move(tick.history);
    r.inputs[0].value = v;
    r.inputs[0].sampled_at = now;
    r.recent.Push(store::PastRecommendation::Of(tick.recommendation), 20);
    r.latest = std::make_shared<const engine::Recommendation>(
        std::move(tick.recommendation));
  }
  return r;
}

const std::vector<TargetRecord>& Records(int n) {
  static std::map<int, std::vector<TargetRecord>> cache;
  std::vector<TargetRecord>& records = cache[n];
  if (records.empty()) {
    const TargetRecord one = MakeRecord("t");
    for (int i = 0; i < n; ++i) {
      records.push_back(one);
      records.back().target = absl::StrCat("target-", i);
    }
  }
  return records;
}

const RecordMeta kMeta{.term = 1,
                       .writer = "ballast-0",
                       .written_at = absl::FromUnixSeconds(1'800'000'300)};

std::vector<std::pair<std::string, std::string>> EncodeAll(int n) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const TargetRecord& r : Records(n)) {
    out.emplace_back(r.target, EncodeRecord(r, kMeta));
  }
  return out;
}

void SetCounters(benchmark::State& state, int n) {
  const auto encoded = EncodeAll(n);
  state.counters["bytes_per_target"] =
      static_cast<double>(encoded.front().second.size());
  state.counters["targets"] = n;
}

void BM_Encode(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::vector<TargetRecord>& records = Records(n);
  for (auto _ : state) {
    size_t bytes = 0;
    for (const TargetRecord& r : records)
      bytes += EncodeRecord(r, kMeta).size();
    benchmark::DoNotOptimize(bytes);
  }
  SetCounters(state, n);
}

void BM_Decode(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto encoded = EncodeAll(n);
  for (auto _ : state) {
    for (const auto& [name, bytes] : encoded) {
      absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
      if (!d.ok()) return state.SkipWithError("decode failed");
      benchmark::DoNotOptimize(d->record.history.proposals.size());
    }
  }
  SetCounters(state, n);
}

net::RedisOptions Options() {
  return net::RedisOptions{.host = "127.0.0.1",
                           .port = g_port,
                           .command_timeout = absl::Seconds(30)};
}

void BM_Write(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  boost::asio::io_context io;
  RedisStateStore store(io, Options(), absl::StrCat("bench", n, ":"));
  for (auto _ : state) {
    state.PauseTiming();
    auto put = EncodeAll(n);
    state.ResumeTiming();
    bool done = false;
    store.Write(1, kMeta, std::move(put), {}, [&](absl::Status s) {
      done = true;
      if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    });
    io.restart();
    while (!done) io.run_one();
  }
  SetCounters(state, n);
}

void BM_Restore(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  boost::asio::io_context io;
  RedisStateStore store(io, Options(), absl::StrCat("restore", n, ":"));
  bool written = false;
  store.Write(1, kMeta, EncodeAll(n), {},
              [&](absl::Status) { written = true; });
  while (!written) io.run_one();
  for (auto _ : state) {
    bool done = false;
    store.ReadAll([&](absl::StatusOr<StoredState> s) {
      done = true;
      if (!s.ok()) return state.SkipWithError("read failed");
      for (const auto& [name, bytes] : s->records) {
        absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
        if (!d.ok()) return state.SkipWithError("decode failed");
      }
    });
    io.restart();
    while (!done) io.run_one();
  }
  SetCounters(state, n);
}

BENCHMARK(BM_Encode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Decode)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Write)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Restore)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ballast::state

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  ballast::testing::RedisServer redis;
  if (absl::Status s = redis.Start(); !s.ok()) {
    std::cerr << "redis-server: " << s << "\n";
    return EXIT_FAILURE;
  }
  ballast::state::g_port = redis.port();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return EXIT_SUCCESS;
}
