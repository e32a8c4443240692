// The telemetry endpoint over real HTTP on a free loopback port.
#include "ballast/server/telemetry_server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <boost/asio/io_context.hpp>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/store_targets.h"
#include "integration/common/tls_client.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(TelemetryServer, ServesMetricsHealthAndReadiness) {
  boost::asio::io_context io;
  store::RecommendationStore store;
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter()
      .Name("ballast_test_events_total")
      .Help("Events.")
      .Register(*registry)
      .Add({{"kind", "tick"}})
      .Increment(3);
  absl::StatusOr<std::unique_ptr<TelemetryServer>> server =
      TelemetryServer::Start(io, store, {registry}, {.listen = "127.0.0.1:0"});
  ASSERT_TRUE(server.ok()) << server.status();
  std::thread runner([&io] { io.run(); });
  const int port = (*server)->port();

  absl::StatusOr<testing::HttpReply> metrics =
      testing::Get(port, nullptr, "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->headers["content-type"],
              HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(metrics->body,
              HasSubstr("# TYPE ballast_test_events_total counter"));
  EXPECT_THAT(metrics->body,
              HasSubstr("ballast_test_events_total{kind=\"tick\"} 3"));

  EXPECT_EQ(testing::Get(port, nullptr, "/healthz")->status, 200);
  absl::StatusOr<testing::HttpReply> ready =
      testing::Get(port, nullptr, "/readyz");
  ASSERT_TRUE(ready.ok()) << ready.status();
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("no snapshot"));

  store::Snapshot pending;
  auto asr = std::make_shared<TargetSpec>();
  asr->name = "asr";
  pending.Add({.spec = asr});
  store.Publish(pending);
  ready = testing::Get(port, nullptr, "/readyz");
  EXPECT_EQ(ready->status, 503);
  EXPECT_THAT(ready->body, HasSubstr("\"asr\" has no recommendation"));

  store::Snapshot done = pending;
  done.targets["asr"].latest = std::make_shared<const engine::Recommendation>(
      engine::Recommendation{.replicas = 2});
  store.Publish(done);
  EXPECT_EQ(testing::Get(port, nullptr, "/readyz")->status, 200);
  EXPECT_EQ(testing::Get(port, nullptr, "/nope")->status, 404);

  (*server)->StopAndWait(absl::Seconds(1));
  io.stop();
  runner.join();
}

// The registry's families and the ones written from the snapshot make one
// valid exposition, as Prometheus's own promtool parses and lints it, in
// each targetMetrics mode; the mode decides the per-target series.
TEST(TelemetryServer, MetricsIsOneValidExpositionInEveryMode) {
  boost::asio::io_context io;
  store::RecommendationStore store;
  store::Snapshot snapshot;
  snapshot.time = absl::FromUnixSeconds(1790000020);
  snapshot.targets["asr"] = testing::MetricTarget("asr", 7, 1.5);
  snapshot.targets["tts"] = testing::MetricTarget("tts", std::nullopt, 2);
  store.Publish(snapshot);
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildHistogram()
      .Name("ballast_source_poll_duration_seconds")
      .Help("Time for a source to answer one tick's reads")
      .Register(*registry)
      .Add({{"kind", "redis"}, {"source", "main"}},
           prometheus::Histogram::BucketBoundaries{0.01, 0.1})
      .Observe(0.05);
  CurrentReplicasTimes current;
  current.Set("asr", snapshot.time - absl::Seconds(2));
  std::thread runner;
  std::vector<std::unique_ptr<TelemetryServer>> servers;
  for (TargetMetrics detail :
       {TargetMetrics::kNone, TargetMetrics::kSummary, TargetMetrics::kFull}) {
    absl::StatusOr<std::unique_ptr<TelemetryServer>> server =
        TelemetryServer::Start(
            io, store, {registry},
            {.listen = "127.0.0.1:0", .target_metrics = detail}, {}, &current);
    ASSERT_TRUE(server.ok()) << server.status();
    servers.push_back(*std::move(server));
  }
  runner = std::thread([&io] { io.run(); });

  testing::TempDir dir;
  std::vector<std::string> bodies;
  for (const auto& server : servers) {
    absl::StatusOr<testing::HttpReply> metrics =
        testing::Get(server->port(), nullptr, "/metrics");
    ASSERT_TRUE(metrics.ok()) << metrics.status();
    ASSERT_EQ(metrics->status, 200);
    const std::string file = absl::StrCat(dir.path(), "/metrics");
    std::ofstream(file) << metrics->body;
    absl::StatusOr<std::string> lint = testing::RunCommand(
        {"/bin/sh", "-c", absl::StrCat("promtool check metrics < ", file)});
    EXPECT_TRUE(lint.ok()) << lint.status() << "\n" << metrics->body;
    EXPECT_THAT(metrics->body,
                HasSubstr("ballast_source_poll_duration_seconds_count{kind="
                          "\"redis\",source=\"main\"} 1"));
    EXPECT_THAT(metrics->body, HasSubstr("\nballast_targets 2\n"));
    // Both inputs were read at 1790000000.
    EXPECT_THAT(metrics->body,
                HasSubstr("\nballast_input_age_max_seconds 20\n"));
    EXPECT_THAT(metrics->body,
                HasSubstr("\nballast_current_replicas_age_max_seconds 2\n"));
    bodies.push_back(metrics->body);
  }
  EXPECT_THAT(bodies[0], Not(HasSubstr("{target=")));
  EXPECT_THAT(bodies[1], HasSubstr("\nballast_recommended_replicas{target="
                                   "\"asr\"} 7\n"));
  EXPECT_THAT(bodies[1], Not(HasSubstr("ballast_input_value{")));
  EXPECT_THAT(bodies[2], HasSubstr("\nballast_input_value{input=\"backlog\","
                                   "target=\"tts\"} 2\n"));
  EXPECT_THAT(bodies[2], HasSubstr("\nballast_input_age_seconds{input="
                                   "\"backlog\",target=\"asr\"} 20\n"));
  EXPECT_THAT(bodies[2], HasSubstr("\nballast_current_replicas_age_seconds{"
                                   "target=\"asr\"} 2\n"));

  for (const auto& server : servers) server->StopAndWait(absl::Seconds(1));
  io.stop();
  runner.join();
}

}  // namespace
}  // namespace ballast::server
