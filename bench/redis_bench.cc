// Time of one Celery poll tick: ONE pipelined round trip of LLEN for every
// priority band (4 with Celery's defaults) of N queues plus HLEN unacked,
// against a real redis-server on loopback that the benchmark starts itself.
// N = 10, 1,000, 10,000 (so 41 to 40,001 commands per tick); one queue in
// ten holds messages in two bands.
//
//   BM_BacklogPipeline: RedisClient::Pipeline + ParseBacklog
//   BM_SourcePoll:      CeleryRedisSource::Poll with one input per queue
//                       (include_reserved, nothing unacked: no HSCAN)
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ballast/net/redis_client.h"
#include "ballast/source/celery_backlog.h"
#include "benchmark/benchmark.h"
#include "integration/common/process.h"

namespace ballast::source {
namespace {

int g_port = 0;
constexpr int kMaxQueues = 10000;

std::vector<std::string> Queues(int n) {
  std::vector<std::string> queues;
  for (int i = 0; i < n; ++i) queues.push_back(absl::StrCat("queue-", i));
  return queues;
}

net::RedisOptions Options() {
  return net::RedisOptions{.host = "127.0.0.1",
                           .port = g_port,
                           .command_timeout = absl::Seconds(10)};
}

// Runs `io` until `done` is set.
void RunUntil(boost::asio::io_context& io, const bool& done) {
  while (!done) io.run_one();
}

void BM_BacklogPipeline(benchmark::State& state) {
  const std::vector<std::string> queues =
      Queues(static_cast<int>(state.range(0)));
  const CeleryBrokerOptions broker;
  boost::asio::io_context io;
  net::RedisClient client(io, Options());
  int64_t total = 0;
  for (auto _ : state) {
    bool done = false;
    client.Pipeline(BacklogCommands(queues, broker),
                    [&](absl::StatusOr<std::vector<net::RedisReply>> replies) {
                      done = true;
                      if (!replies.ok()) {
                        return state.SkipWithError(
                            std::string(replies.status().message()).c_str());
                      }
                      absl::StatusOr<Backlog> backlog =
                          ParseBacklog(queues, broker, *replies);
                      for (const auto& [q, n] : backlog->waiting) total += *n;
                    });
    RunUntil(io, done);
  }
  benchmark::DoNotOptimize(total);
  state.counters["commands/tick"] =
      static_cast<double>(queues.size() * broker.priority_steps.size() + 1);
}
BENCHMARK(BM_BacklogPipeline)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(kMaxQueues)
    ->Unit(benchmark::kMicrosecond);

void BM_SourcePoll(benchmark::State& state) {
  std::vector<CeleryInputSpec> inputs;
  for (const std::string& q : Queues(static_cast<int>(state.range(0)))) {
    inputs.push_back({.queues = {q}, .include_reserved = true});
  }
  boost::asio::io_context io;
  CeleryRedisSource source(io, {.redis = Options()}, inputs);
  for (auto _ : state) {
    bool done = false;
    source.Poll([&](CeleryPollResult r) {
      done = true;
      if (!r.inputs[0].ok()) {
        state.SkipWithError(
            std::string(r.inputs[0].status().message()).c_str());
      }
    });
    RunUntil(io, done);
  }
}
BENCHMARK(BM_SourcePoll)
    ->Arg(10)
    ->Arg(1000)
    ->Arg(kMaxQueues)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace ballast::source

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  ballast::testing::RedisServer redis;
  if (absl::Status s = redis.Start(); !s.ok()) {
    std::cerr << "redis-server: " << s << "\n";
    return EXIT_FAILURE;
  }
  ballast::source::g_port = redis.port();
  // One queue in ten holds 5 messages in band 0 and 3 in band 9.
  std::vector<std::vector<std::string>> fill;
  for (int i = 0; i < ballast::source::kMaxQueues; i += 10) {
    const std::string q = absl::StrCat("queue-", i);
    fill.push_back({"LPUSH", q, "m", "m", "m", "m", "m"});
    fill.push_back({"LPUSH", q + "\x06\x16" + "9", "m", "m", "m"});
  }
  absl::StatusOr<std::vector<ballast::net::RedisReply>> filled =
      ballast::net::RunPipelineSync(ballast::source::Options(), fill);
  if (!filled.ok()) {
    std::cerr << "populate: " << filled.status() << "\n";
    return EXIT_FAILURE;
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return EXIT_SUCCESS;
}
