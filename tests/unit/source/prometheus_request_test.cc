#include <string>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "ballast/source/prometheus_client.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

const absl::Time kAt = absl::FromUnixMillis(1700000000250);

TEST(PrometheusRequest, ShortQueryIsAGetWithEncodedParameters) {
  const net::HttpRequest r = PrometheusClient::BuildRequest(
      {.promql = R"(sum(rate(x{job="a b"}[1m])) > 0 & y)"}, kAt,
      absl::Milliseconds(1500), 1500);
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target,
            "/api/v1/query?query=sum%28rate%28x%7Bjob%3D%22a%20b%22%7D%5B1m%5D"
            "%29%29%20%3E%200%20%26%20y&time=1700000000.250&timeout=1.500");
  EXPECT_TRUE(r.body.empty());
}

TEST(PrometheusRequest, LongQueryIsAFormPost) {
  const std::string promql = "sum(" + std::string(1600, 'a') + ")";
  const net::HttpRequest r = PrometheusClient::BuildRequest(
      {.promql = promql}, kAt, absl::Seconds(2), 1500);
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/api/v1/query");
  EXPECT_EQ(r.content_type, "application/x-www-form-urlencoded");
  EXPECT_TRUE(absl::StartsWith(r.body, "query=sum%28aaa"));
  EXPECT_TRUE(absl::EndsWith(r.body, "%29&time=1700000000.250&timeout=2.000"));
}

TEST(PrometheusRequest, ThresholdCountsEncodedBytes) {
  // 100 spaces encode to 300 bytes.
  const PrometheusQuery q{.promql = std::string(100, ' ')};
  EXPECT_EQ(
      PrometheusClient::BuildRequest(q, kAt, absl::Seconds(1), 250).method,
      "POST");
  EXPECT_EQ(
      PrometheusClient::BuildRequest(q, kAt, absl::Seconds(1), 1000).method,
      "GET");
}

}  // namespace
}  // namespace ballast::source
