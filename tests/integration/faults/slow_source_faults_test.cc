// Issue 12, the fault matrix: one source slower than the poll. A Prometheus
// that accepts connections and never answers (a listening socket nobody
// reads: what a hung server looks like from outside), with its timeoutMs
// (5 s) longer than pollIntervalSeconds (1 s), beside a healthy Redis. The
// tick ends at its budget (90 % of the interval): the Prometheus input is
// held and counted as deadline_exceeded, while the Redis input stays fresh
// and every tick still runs. Before the budget, each tick waited 5 s for
// the slow source, so the Redis value aged 5 s and four ticks in five were
// skipped.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "ballast/net/redis_client.h"
#include "gtest/gtest.h"
#include "integration/common/redis_commands.h"
#include "integration/faults/faults_fixture.h"

namespace ballast::testing {
namespace {

constexpr char kBacklog[] =
    R"(ballast_input_value{input="backlog",target="w"})";
constexpr char kBacklogAge[] =
    R"(ballast_input_age_seconds{input="backlog",target="w"})";
constexpr char kLoadAge[] =
    R"(ballast_input_age_seconds{input="load",target="w"})";
constexpr char kLate[] =
    R"(ballast_source_errors_total{error="deadline_exceeded",kind="prometheus",source="slow"})";

class FaultsSlowSourceTest : public FaultsTest {
 protected:
  void TearDown() override {
    FaultsTest::TearDown();
    if (hung_ >= 0) close(hung_);
  }

  // A socket that listens and is never read: connections complete in the
  // kernel's backlog, requests are never answered.
  int ListenAndNeverAnswer() {
    hung_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(hung_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(hung_, 64), 0);
    socklen_t len = sizeof(a);
    getsockname(hung_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }

  RedisServer redis_;
  int hung_ = -1;
};

TEST_F(FaultsSlowSourceTest, ASourceSlowerThanThePollHoldsBackOnlyItself) {
  ASSERT_TRUE(redis_.Start().ok());
  ASSERT_TRUE(PushMessages(redis_.port(), "q", 7).ok());
  const int slow_port = ListenAndNeverAnswer();
  ASSERT_TRUE(
      StartBallast(absl::StrReplaceAll(R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS"}}
  prometheus:
    slow: {url: "http://127.0.0.1:SLOW", timeoutMs: 5000}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
targets:
  - name: w
    maxReplicas: 20
    inputs:
      - {name: backlog, celery: {source: main, queues: [q]}, averageValue: 1}
      - {name: load, prometheus: {source: slow, query: "up"}, averageValue: 1}
)",
                                       {{"REDIS", absl::StrCat(redis_.port())},
                                        {"SLOW", absl::StrCat(slow_port)}}))
          .ok())
      << Log();
  Watch(kBacklog, {7, 9});
  // Every tick ends on time with the slow source counted late...
  ASSERT_TRUE(Eventually([](const std::string& m) {
    return Sample(m, kLate).value_or(0) >= 3;
  })) << Metrics()
      << Log();
  // ...and the Redis input is read every tick: fresh, and a change shows
  // within a couple of seconds.
  for (int i = 0; i < 8; ++i) {
    const std::string m = Metrics();
    EXPECT_EQ(Sample(m, kBacklog), 7) << m;
    EXPECT_LT(Sample(m, kBacklogAge).value_or(99), 2) << m;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  const absl::Time pushed = absl::Now();
  ASSERT_TRUE(PushMessages(redis_.port(), "q", 2).ok());
  EXPECT_TRUE(
      Eventually([](const std::string& m) { return Sample(m, kBacklog) == 9; },
                 absl::Seconds(3)))
      << Metrics();
  std::fprintf(stderr, "faults: a Redis change seen %.2f s after it\n",
               absl::ToDoubleSeconds(absl::Now() - pushed));
  const std::string m = Metrics();
  // The slow input never had a value: no series for it (never a zero that
  // looks fresh); and no tick was skipped for a poll still running.
  EXPECT_FALSE(Sample(m, kLoadAge).has_value()) << m;
  EXPECT_FALSE(
      Sample(m, R"(ballast_input_value{input="load",target="w"})").has_value())
      << m;
  EXPECT_GE(Sample(m, R"(ballast_ticks_total{result="ran"})").value_or(0), 5)
      << LinesWith(m, "ballast_ticks_total");
  EXPECT_EQ(Sample(m, R"(ballast_ticks_total{result="skipped"})").value_or(0),
            0)
      << LinesWith(m, "ballast_ticks_total");
  EXPECT_TRUE(absl::StrContains(Log(), "no answer within this tick")) << Log();
}

}  // namespace
}  // namespace ballast::testing
