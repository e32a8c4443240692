// The telemetry endpoint over real HTTP on a free loopback port.
#include "ballast/server/telemetry_server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <boost/asio/io_context.hpp>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/common/tls_client.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;

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

}  // namespace
}  // namespace ballast::server
