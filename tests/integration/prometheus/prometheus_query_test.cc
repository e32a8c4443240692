// PrometheusClient against Debian's real prometheus, scraping exporter.py
// (whose series are known exactly) every second.
#include <cmath>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/source/prometheus_client.h"
#include "gtest/gtest.h"
#include "integration/common/async_call.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"
#include "integration/prometheus/expect_status.h"

namespace ballast::source {
namespace {

using ::ballast::testing::AsyncCall;

constexpr double kRequestRate = 50;  // exporter.py's counter, per second

class PrometheusQueryTest : public ::testing::Test {
 protected:
  // Starts prometheus scraping `targets`; the client talks to it.
  void StartPrometheus(const std::vector<std::string>& targets) {
    absl::Status started = prometheus_.Start(targets);
    ASSERT_TRUE(started.ok()) << started;
    PrometheusClientOptions options;
    options.http.base_url = prometheus_.url();
    options.http.timeout = absl::Seconds(5);
    absl::StatusOr<std::unique_ptr<PrometheusClient>> client =
        PrometheusClient::Create(io_, options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // Starts exporter.py, and prometheus scraping it.
  void StartExporterAndPrometheus() {
    absl::StatusOr<int> port = ballast::testing::FreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    ASSERT_TRUE(exporter_
                    .Start({ballast::testing::kSystemPython,
                            std::string(BALLAST_SOURCE_DIR) +
                                "/tests/integration/prometheus/exporter.py",
                            std::to_string(*port), absl::StrCat(kRequestRate)},
                           dir_.path() + "/exporter.log")
                    .ok());
    ASSERT_TRUE(
        ballast::testing::WaitForHttpOk(*port, "/metrics", absl::Seconds(10))
            .ok());
    StartPrometheus({absl::StrCat("127.0.0.1:", *port)});
  }

  absl::StatusOr<QueryResult> Query(const PrometheusQuery& query) {
    return AsyncCall<QueryResult>(io_, [&](auto done) {
      client_->Query(query, absl::Now(), std::move(done));
    });
  }

  // Polls until `promql` is at least `want` (bounded).
  void WaitUntilAtLeast(const std::string& promql, double want,
                        absl::Duration limit) {
    const absl::Time deadline = absl::Now() + limit;
    absl::StatusOr<QueryResult> r = absl::UnknownError("not queried");
    while (absl::Now() < deadline) {
      r = Query({.promql = promql});
      if (r.ok() && r->value >= want) return;
      absl::SleepFor(absl::Milliseconds(250));
    }
    FAIL() << promql << " did not reach " << want << ": "
           << (r.ok() ? absl::StrCat(r->value) : r.status().ToString())
           << "\nprometheus log:\n"
           << prometheus_.Log();
  }

  ballast::testing::TempDir dir_;
  ballast::testing::ChildProcess exporter_;
  ballast::testing::PrometheusServer prometheus_;
  boost::asio::io_context io_;
  std::unique_ptr<PrometheusClient> client_;
};

TEST_F(PrometheusQueryTest, RateAndLatencyQuantileMatchTheExporter) {
  StartExporterAndPrometheus();
  // rate(x[10s]) is only right once the window holds 10 scrapes: with fewer,
  // Prometheus extrapolates only ~1.1 scrape intervals past the first sample.
  WaitUntilAtLeast("count_over_time(ballast_test_requests_total[10s])", 10,
                   absl::Seconds(25));

  // The exporter adds 5 every 100 ms on a drift-free schedule. Over the ~9 s
  // between the first and last scrape in the window (~450 added), a scrape
  // can land just before or after a tick: +-5 at each end, plus a few ticks
  // of scheduling lag under load, so +-5 % (+-22) bounds it with margin.
  absl::StatusOr<QueryResult> rate =
      Query({.promql = "rate(ballast_test_requests_total[10s])"});
  ASSERT_TRUE(rate.ok()) << rate.status();
  EXPECT_NEAR(rate->value, kRequestRate, 0.05 * kRequestRate);
  EXPECT_EQ(rate->series, 1);

  // Each tick adds one observation to each 0.1 s-wide bucket, so the 0.95
  // rank falls exactly on the le="1.9" bound: 1.9 s. A scrape in the middle
  // of a tick's 20 observations makes some buckets differ by one count out of
  // ~90 in the window, moving the interpolated value by < 0.1 * 2/90 s; 0.02 s
  // (a fifth of a bucket) bounds it.
  absl::StatusOr<QueryResult> p95 =
      Query({.promql = "histogram_quantile(0.95, sum by (le, service) "
                       "(rate(ballast_test_asr_latency_seconds_bucket[10s])))",
             .aggregate = Aggregate::kMax});
  ASSERT_TRUE(p95.ok()) << p95.status();
  EXPECT_NEAR(p95->value, 1.9, 0.02);

  // The mean latency from _sum / _count is exactly 1.0 s (up to a mid-tick
  // scrape, same bound).
  absl::StatusOr<QueryResult> mean = Query(
      {.promql = "sum(rate(ballast_test_asr_latency_seconds_sum[10s])) / "
                 "sum(rate(ballast_test_asr_latency_seconds_count[10s]))"});
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_NEAR(mean->value, 1.0, 0.02);
}

TEST_F(PrometheusQueryTest, AggregatesSeveralSeries) {
  StartPrometheus({});
  const std::string promql = R"(label_replace(vector(1), "s", "a", "", "") or )"
                             R"(label_replace(vector(4), "s", "b", "", ""))";
  struct Case {
    Aggregate aggregate;
    double want;
  };
  for (const Case& c : {Case{Aggregate::kSum, 5}, Case{Aggregate::kMax, 4},
                        Case{Aggregate::kMin, 1}, Case{Aggregate::kAvg, 2.5}}) {
    absl::StatusOr<QueryResult> r =
        Query({.promql = promql, .aggregate = c.aggregate});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->value, c.want) << AggregateName(c.aggregate);
    EXPECT_EQ(r->series, 2);
  }
}

TEST_F(PrometheusQueryTest, NanIsMissingDataNotAValue) {
  StartPrometheus({});
  ExpectCode(Query({.promql = "vector(0)/0"}), absl::StatusCode::kNotFound,
             "query returned NaN");
  ExpectCode(Query({.promql = "0/0"}), absl::StatusCode::kNotFound,
             "query returned NaN");
  ExpectCode(Query({.promql = "vector(1)/0"}), absl::StatusCode::kNotFound,
             "query returned +Inf");
}

TEST_F(PrometheusQueryTest, EmptyVectorIsNoDataUnlessEmptyAs) {
  StartPrometheus({});
  ExpectCode(Query({.promql = "absent_metric_xyz"}),
             absl::StatusCode::kNotFound, "no data (empty vector)");
  absl::StatusOr<QueryResult> r =
      Query({.promql = "sum(rate(absent_metric_xyz[1m]))", .empty_as = 0.0});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  EXPECT_TRUE(r->from_empty_as);
}

TEST_F(PrometheusQueryTest, QueryErrorsNameQueryAndErrorType) {
  StartPrometheus({});
  ExpectCode(Query({.promql = "sum(rate(x[1m]"}),
             absl::StatusCode::kInvalidArgument,
             "query \"sum(rate(x[1m]\": Prometheus error bad_data (HTTP 400)");
  ExpectCode(
      Query({.promql = R"(label_replace(vector(1), "a", "1", "", "") )"
                       R"(+ on() (vector(1) or label_replace(vector(1), )"
                       R"("a", "2", "", "")))"}),
      absl::StatusCode::kInvalidArgument,
      "Prometheus error execution (HTTP 422)");
  ExpectCode(Query({.promql = "prometheus_build_info[5s]"}),
             absl::StatusCode::kInvalidArgument, "range query result");
  ExpectCode(Query({.promql = R"("text")"}), absl::StatusCode::kInvalidArgument,
             "string");
}

TEST_F(PrometheusQueryTest, LongQueryIsPostedAndAnswered) {
  StartPrometheus({});
  // vector(1) + 0*vector(1) + ... : > 1500 bytes once encoded.
  std::string promql = "vector(1)";
  for (int i = 0; i < 120; ++i) promql += " + 0 * vector(1)";
  ASSERT_GT(promql.size(), 1500u);
  absl::StatusOr<QueryResult> r = Query({.promql = promql});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 1);
}

TEST_F(PrometheusQueryTest, EvaluatesAtTheGivenTime) {
  StartPrometheus({});
  const absl::Time at = absl::FromUnixMillis(1700000000250);
  absl::StatusOr<QueryResult> r = AsyncCall<QueryResult>(io_, [&](auto done) {
    client_->Query({.promql = "time()"}, at, std::move(done));
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->value, 1700000000.25);
  EXPECT_EQ(r->timestamp, at);
}

}  // namespace
}  // namespace ballast::source
