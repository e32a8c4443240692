// /metrics at 1,000 and 10,000 targets (issue 21): the per-target gauges as
// the daemon kept them up to 0eab561 (prometheus-cpp: ~19 gauges a target
// set every tick, serialized at each scrape) against the series written
// from the snapshot at scrape time (server/target_metrics.h) in each
// targetMetrics mode.
//
// Each target is what bench/README.md's scale runs poll: one Celery input,
// a static currentReplicas, a recommendation. Counters: the body's bytes and
// series (lines that are not comments), heap allocations and allocated
// bytes per scrape or tick, the heap's high-water mark above where it
// started during one scrape, and the heap each target keeps between
// scrapes.
//
// BM_HttpScrape is the same over loopback HTTP against the telemetry server
// (variant 0: the gauges; 1, 2, 3: targetMetrics none, summary, full).
//
//   build-release/bench/metrics_bench --benchmark_counters_tabular=true
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "ballast/server/target_metrics.h"
#include "ballast/server/telemetry_server.h"
#include "benchmark/benchmark.h"
#include "boost/asio/io_context.hpp"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

// Every allocation of the process, counted (the benchmark is one thread;
// relaxed atomics keep the library's own threads honest).
namespace {
std::atomic<int64_t> g_allocations{0};
std::atomic<int64_t> g_allocated{0};
std::atomic<int64_t> g_live{0};
std::atomic<int64_t> g_peak{0};

void* Allocate(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  const auto size = static_cast<int64_t>(malloc_usable_size(p));
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  g_allocated.fetch_add(size, std::memory_order_relaxed);
  const int64_t live = g_live.fetch_add(size, std::memory_order_relaxed) + size;
  int64_t peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak &&
         !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
  return p;
}
void Free(void* p) {
  if (p == nullptr) return;
  g_live.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)),
                   std::memory_order_relaxed);
  std::free(p);
}
}  // namespace

void* operator new(size_t n) { return Allocate(n); }
void* operator new[](size_t n) { return Allocate(n); }
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, size_t) noexcept { Free(p); }
void operator delete[](void* p, size_t) noexcept { Free(p); }

namespace ballast::server {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1790000000);

std::string TargetName(int i) {
  std::array<char, 32> buf;
  std::snprintf(buf.data(), buf.size(), "worker-%05d", i);
  return buf.data();
}

// N targets as the daemon's snapshot holds them after a tick.
store::Snapshot MakeSnapshot(int n) {
  store::Snapshot s;
  s.generation = 2;
  s.time = kNow;
  for (int i = 0; i < n; ++i) {
    const std::string name = TargetName(i);
    store::TargetState& t = s.targets[name];
    auto spec = std::make_shared<TargetSpec>();
    spec->name = name;
    t.spec = std::move(spec);
    t.inputs = {{.name = "backlog",
                 .value = 40.0 + i % 97,
                 .sampled_at = kNow - absl::Milliseconds(3 + i % 11)}};
    t.latest =
        std::make_shared<const engine::Recommendation>(engine::Recommendation{
            .time = kNow,
            .current_replicas = 4,
            .desired = 4 + i % 3,
            .replicas = 4 + i % 5,
            .limited_by = i % 4 == 0 ? engine::Limit::kScaleDownStabilization
                                     : engine::Limit::kNone});
  }
  return s;
}

void FillCurrentTimes(const store::Snapshot& s, CurrentReplicasTimes& c) {
  for (const auto& [name, t] : s.targets) c.Set(name, kNow);
}

// The per-target part of the daemon's metrics as main had it (0eab561,
// src/app/daemon_metrics.cc): the baseline.
class LegacyTargetGauges {
 public:
  explicit LegacyTargetGauges(prometheus::Registry& registry)
      : recommended_(Family(registry, "ballast_recommended_replicas")),
        desired_(Family(registry, "ballast_desired_replicas")),
        current_(Family(registry, "ballast_current_replicas")),
        current_age_(Family(registry, "ballast_current_replicas_age_seconds")),
        input_value_(Family(registry, "ballast_input_value")),
        input_age_(Family(registry, "ballast_input_age_seconds")),
        limited_by_(Family(registry, "ballast_limited_by")) {}

  void ObserveTarget(const store::TargetState& state, absl::Time now) {
    const std::string& name = state.name();
    Series& s = SeriesOf(name);
    for (const store::InputValue& input : state.inputs) {
      if (!input.value) continue;
      auto [value, added] = s.input_value.try_emplace(input.name, nullptr);
      if (added) {
        value->second =
            &input_value_.Add({{"target", name}, {"input", input.name}});
        s.input_age[input.name] =
            &input_age_.Add({{"target", name}, {"input", input.name}});
      }
      value->second->Set(*input.value);
      s.input_age[input.name]->Set(
          absl::ToDoubleSeconds(now - input.sampled_at));
    }
    if (!state.latest) return;
    s.recommended->Set(state.latest->replicas);
    s.desired->Set(state.latest->desired);
    s.current->Set(state.latest->current_replicas);
    const std::string_view active = engine::LimitName(state.latest->limited_by);
    for (auto& [reason, gauge] : s.limited_by) {
      gauge->Set(reason == active ? 1 : 0);
    }
  }
  void ObserveCurrentReplicasAge(const std::string& target,
                                 absl::Time sampled_at, absl::Time now) {
    Series& s = SeriesOf(target);
    if (s.current_age == nullptr) {
      s.current_age = &current_age_.Add({{"target", target}});
    }
    s.current_age->Set(absl::ToDoubleSeconds(now - sampled_at));
  }

 private:
  struct Series {
    prometheus::Gauge* recommended;
    prometheus::Gauge* desired;
    prometheus::Gauge* current;
    prometheus::Gauge* current_age = nullptr;
    std::map<std::string, prometheus::Gauge*> input_value;
    std::map<std::string, prometheus::Gauge*> input_age;
    std::map<std::string, prometheus::Gauge*> limited_by;
  };
  static prometheus::Family<prometheus::Gauge>& Family(
      prometheus::Registry& registry, const char* name) {
    return prometheus::BuildGauge().Name(name).Help(name).Register(registry);
  }
  Series& SeriesOf(const std::string& t) {
    auto it = targets_.find(t);
    if (it != targets_.end()) return it->second;
    Series s{.recommended = &recommended_.Add({{"target", t}}),
             .desired = &desired_.Add({{"target", t}}),
             .current = &current_.Add({{"target", t}})};
    for (int l = 0; l <= static_cast<int>(engine::Limit::kActivation); ++l) {
      const std::string reason(
          engine::LimitName(static_cast<engine::Limit>(l)));
      s.limited_by[reason] =
          &limited_by_.Add({{"target", t}, {"reason", reason}});
    }
    return targets_.emplace(t, std::move(s)).first->second;
  }

  prometheus::Family<prometheus::Gauge>& recommended_;
  prometheus::Family<prometheus::Gauge>& desired_;
  prometheus::Family<prometheus::Gauge>& current_;
  prometheus::Family<prometheus::Gauge>& current_age_;
  prometheus::Family<prometheus::Gauge>& input_value_;
  prometheus::Family<prometheus::Gauge>& input_age_;
  prometheus::Family<prometheus::Gauge>& limited_by_;
  std::map<std::string, Series> targets_;
};

void ObserveAll(const store::Snapshot& s, LegacyTargetGauges& gauges) {
  for (const auto& [name, t] : s.targets) {
    gauges.ObserveTarget(t, s.time);
    gauges.ObserveCurrentReplicasAge(name, kNow, s.time);
  }
}

int64_t CountSeries(const std::string& body) {
  int64_t n = 0;
  size_t at = 0;
  while (at < body.size()) {
    size_t end = body.find('\n', at);
    if (end == std::string::npos) end = body.size();
    if (body[at] != '#') ++n;
    at = end + 1;
  }
  return n;
}

// Allocations, bytes and the heap's high-water mark over a loop's
// iterations, as per-iteration counters.
class HeapMeter {
 public:
  HeapMeter()
      : allocations_(g_allocations.load()),
        allocated_(g_allocated.load()),
        live_(g_live.load()) {
    g_peak.store(live_);
  }
  void Report(benchmark::State& state) const {
    const auto it = static_cast<double>(state.iterations());
    state.counters["allocs"] =
        static_cast<double>(g_allocations.load() - allocations_) / it;
    state.counters["alloc_MB"] =
        static_cast<double>(g_allocated.load() - allocated_) / it / 1e6;
    state.counters["peak_MB"] =
        static_cast<double>(g_peak.load() - live_) / 1e6;
  }

 private:
  int64_t allocations_, allocated_, live_;
};

void ReportBody(benchmark::State& state, const std::string& body) {
  state.counters["MB"] = static_cast<double>(body.size()) / 1e6;
  state.counters["series"] = static_cast<double>(CountSeries(body));
}

// Heap kept per target between scrapes by what a tick sets.
void ReportRetained(benchmark::State& state, int64_t before, int n) {
  state.counters["kept_B/target"] =
      static_cast<double>(g_live.load() - before) / n;
}

// Today's scrape: the registry's Collect and prometheus-cpp's serializer.
void BM_ScrapeGauges(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const store::Snapshot snapshot = MakeSnapshot(n);
  const int64_t before = g_live.load();
  auto registry = std::make_unique<prometheus::Registry>();
  LegacyTargetGauges gauges(*registry);
  ObserveAll(snapshot, gauges);
  ReportRetained(state, before, n);
  std::string body;
  const HeapMeter meter;
  for (auto _ : state) {
    body = prometheus::TextSerializer().Serialize(registry->Collect());
    benchmark::DoNotOptimize(body.data());
  }
  meter.Report(state);
  ReportBody(state, body);
}

// The scrape now: the series written from the snapshot.
void BM_ScrapeSnapshot(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const auto detail = static_cast<TargetMetrics>(state.range(1));
  const store::Snapshot snapshot = MakeSnapshot(n);
  const int64_t before = g_live.load();
  CurrentReplicasTimes current;
  FillCurrentTimes(snapshot, current);
  ReportRetained(state, before, n);
  std::string body;
  const HeapMeter meter;
  for (auto _ : state) {
    body.clear();
    body.shrink_to_fit();
    AppendTargetMetrics(snapshot,
                        {.detail = detail, .current_replicas = &current}, body);
    benchmark::DoNotOptimize(body.data());
  }
  meter.Report(state);
  ReportBody(state, body);
}

// What a tick spends on metrics: every gauge set (before), the current
// replica times (now).
void BM_TickGauges(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const store::Snapshot snapshot = MakeSnapshot(n);
  prometheus::Registry registry;
  LegacyTargetGauges gauges(registry);
  ObserveAll(snapshot, gauges);
  const HeapMeter meter;
  for (auto _ : state) ObserveAll(snapshot, gauges);
  meter.Report(state);
  state.SetItemsProcessed(state.iterations() * n);
}

void BM_TickCurrentTimes(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const store::Snapshot snapshot = MakeSnapshot(n);
  CurrentReplicasTimes current;
  FillCurrentTimes(snapshot, current);
  const HeapMeter meter;
  for (auto _ : state) FillCurrentTimes(snapshot, current);
  meter.Report(state);
  state.SetItemsProcessed(state.iterations() * n);
}

// One GET /metrics over loopback HTTP/1.1 (a new connection, read to the
// end): the body's bytes.
size_t HttpGetMetrics(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::abort();
  }
  const char kRequest[] =
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (write(fd, kRequest, sizeof kRequest - 1) < 0) std::abort();
  static std::array<char, 1 << 16> buf;
  size_t total = 0;
  for (ssize_t n; (n = read(fd, buf.data(), buf.size())) > 0;) {
    total += static_cast<size_t>(n);
  }
  close(fd);
  return total;
}

// The whole scrape as Prometheus sees it: the telemetry server on its own
// thread, what it serves by variant: 0 the gauges (as main had them), 1..3
// targetMetrics none, summary, full.
void BM_HttpScrape(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const int variant = static_cast<int>(state.range(1));
  store::RecommendationStore store;
  store.Publish(MakeSnapshot(n));
  auto registry = std::make_shared<prometheus::Registry>();
  LegacyTargetGauges gauges(*registry);
  if (variant == 0) ObserveAll(*store.Current(), gauges);
  CurrentReplicasTimes current;
  FillCurrentTimes(*store.Current(), current);
  boost::asio::io_context io;
  absl::StatusOr<std::unique_ptr<TelemetryServer>> server =
      TelemetryServer::Start(
          io, store, {registry},
          {.listen = "127.0.0.1:0",
           .target_metrics = variant == 0
                                 ? TargetMetrics::kNone
                                 : static_cast<TargetMetrics>(variant - 1)},
          {}, &current);
  if (!server.ok()) {
    state.SkipWithError(std::string(server.status().message()).c_str());
    return;
  }
  std::thread runner([&io] { io.run(); });
  size_t bytes = 0;
  for (auto _ : state) bytes = HttpGetMetrics((*server)->port());
  state.counters["MB"] = static_cast<double>(bytes) / 1e6;
  (*server)->StopAndWait(absl::Seconds(1));
  io.stop();
  runner.join();
}

BENCHMARK(BM_ScrapeGauges)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ScrapeSnapshot)
    ->ArgNames({"targets", "detail"})
    ->ArgsProduct({{1000, 10000},
                   {static_cast<int>(TargetMetrics::kNone),
                    static_cast<int>(TargetMetrics::kSummary),
                    static_cast<int>(TargetMetrics::kFull)}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_HttpScrape)
    ->ArgNames({"targets", "variant"})
    ->ArgsProduct({{1000, 10000}, {0, 1, 2, 3}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_TickGauges)->Arg(1000)->Arg(10000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_TickCurrentTimes)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ballast::server
