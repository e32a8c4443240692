// ParseQueryResponse on responses recorded from a real Prometheus
// (tests/testdata/prometheus/README.md says how each was made).
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "ballast/source/prometheus_client.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

std::string Recorded(const std::string& name) {
  std::ifstream in(std::string(BALLAST_SOURCE_DIR) +
                   "/tests/testdata/prometheus/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<QueryResult> Parse(const std::string& file,
                                  PrometheusQuery query = {.promql = "q"},
                                  int http_status = 200) {
  return ParseQueryResponse(http_status, Recorded(file), query);
}

// The status has `code` and its message contains each of `parts`.
void ExpectError(const absl::StatusOr<QueryResult>& r, absl::StatusCode code,
                 std::initializer_list<const char*> parts) {
  ASSERT_FALSE(r.ok()) << "value " << r->value;
  EXPECT_EQ(r.status().code(), code) << r.status();
  for (const char* part : parts) {
    EXPECT_TRUE(absl::StrContains(r.status().message(), part))
        << r.status() << " lacks: " << part;
  }
}

TEST(ParseQueryResponse, AggregatesVectorSeries) {
  // Series values 1, 2.5 and -0.5.
  struct Case {
    Aggregate aggregate;
    double want;
  };
  for (const Case& c :
       {Case{Aggregate::kSum, 3.0}, Case{Aggregate::kMax, 2.5},
        Case{Aggregate::kMin, -0.5}, Case{Aggregate::kAvg, 1.0}}) {
    absl::StatusOr<QueryResult> r = Parse(
        "vector_three_series.json", {.promql = "q", .aggregate = c.aggregate});
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_DOUBLE_EQ(r->value, c.want) << AggregateName(c.aggregate);
    EXPECT_EQ(r->series, 3);
    EXPECT_EQ(r->timestamp, absl::FromUnixMillis(1700000000500));
  }
}

TEST(ParseQueryResponse, SumIsTheDefault) {
  absl::StatusOr<QueryResult> r = Parse("vector_real_up.json");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 2);
  EXPECT_EQ(r->series, 2);
}

TEST(ParseQueryResponse, TakesScalar) {
  absl::StatusOr<QueryResult> r = Parse("scalar.json");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 42.25);
  EXPECT_EQ(r->series, 0);
}

TEST(ParseQueryResponse, RejectsMatrixAndString) {
  ExpectError(Parse("matrix.json"), absl::StatusCode::kInvalidArgument,
              {"query \"q\"", "range query result", "instant vector"});
  ExpectError(Parse("string.json"), absl::StatusCode::kInvalidArgument,
              {"string"});
}

TEST(ParseQueryResponse, EmptyVectorIsNoDataUnlessEmptyAs) {
  ExpectError(Parse("empty_vector.json"), absl::StatusCode::kNotFound,
              {"no data", "empty vector", "emptyAs"});
  absl::StatusOr<QueryResult> r =
      Parse("empty_vector.json", {.promql = "q", .empty_as = 0.0});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 0);
  EXPECT_TRUE(r->from_empty_as);
}

TEST(ParseQueryResponse, NonFiniteValuesAreMissingData) {
  ExpectError(Parse("vector_nan.json"), absl::StatusCode::kNotFound,
              {"query returned NaN"});
  ExpectError(Parse("scalar_nan.json"), absl::StatusCode::kNotFound,
              {"query returned NaN"});
  ExpectError(Parse("vector_plus_inf.json"), absl::StatusCode::kNotFound,
              {"query returned +Inf"});
  ExpectError(Parse("vector_minus_inf.json"), absl::StatusCode::kNotFound,
              {"query returned -Inf"});
  // emptyAs is for absent series, not for NaN.
  ExpectError(Parse("vector_nan.json", {.promql = "q", .empty_as = 0.0}),
              absl::StatusCode::kNotFound, {"NaN"});
}

TEST(ParseQueryResponse, LeavesNanSeriesOutOfTheAggregate) {
  absl::StatusOr<QueryResult> r =
      Parse("vector_nan_and_values.json",
            {.promql = "q", .aggregate = Aggregate::kAvg});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->value, 3);
  EXPECT_EQ(r->series, 1);
  EXPECT_EQ(r->nan_series, 1);
}

// A vector response with one series per value (sample values as given).
std::string VectorOf(std::initializer_list<const char*> values) {
  std::string result;
  int i = 0;
  for (const char* v : values) {
    if (!result.empty()) result += ",";
    result += "{\"metric\":{\"pod\":\"p" + std::to_string(i++) +
              "\"},\"value\":[1700000000.5,\"" + v + "\"]}";
  }
  return "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
         "\"result\":[" +
         result + "]}}";
}

// Finite samples whose aggregate does not fit a double are an error, as a
// NaN is, never +-Inf passed on as a value; aggregates that fit are exact.
TEST(ParseQueryResponse, AggregateOverflowIsAnError) {
  struct Case {
    std::initializer_list<const char*> values;
    Aggregate aggregate;
    std::optional<double> want;  // nullopt: NotFound naming `overflow`
    const char* overflow;
  };
  const Case cases[] = {
      {{"1e308", "1e308"}, Aggregate::kSum, std::nullopt, "+Inf"},
      {{"-1.7e308", "-1e308"}, Aggregate::kSum, std::nullopt, "-Inf"},
      {{"1.7976931348623157e308", "1e300", "1e300"},
       Aggregate::kSum,
       std::nullopt,
       "+Inf"},
      {{"1e308", "-1e308", "1e308"}, Aggregate::kSum, 1e308, ""},
      {{"1e308", "5e307"}, Aggregate::kSum, 1.5e308, ""},
      // The average of finite values is finite even when their sum is not.
      {{"1e308", "1e308"}, Aggregate::kAvg, 1e308, ""},
      {{"1.7e308", "1.5e308", "-1.7e308"}, Aggregate::kAvg, 0.5e308, ""},
      {{"1e308", "1e308"}, Aggregate::kMax, 1e308, ""},
      {{"-1e308", "-1e308"}, Aggregate::kMin, -1e308, ""},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<QueryResult> r = ParseQueryResponse(
        200, VectorOf(c.values), {.promql = "q", .aggregate = c.aggregate});
    SCOPED_TRACE(VectorOf(c.values));
    if (c.want) {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_DOUBLE_EQ(r->value, *c.want);
      EXPECT_EQ(r->series, static_cast<int>(c.values.size()));
    } else {
      ExpectError(r, absl::StatusCode::kNotFound,
                  {"query \"q\"", "finite series whose sum overflows to",
                   c.overflow, "no usable value"});
    }
  }
}

TEST(ParseQueryResponse, MapsErrorEnvelopes) {
  ExpectError(Parse("error_bad_data.json", {.promql = "sum(rate(x[1m]"}, 400),
              absl::StatusCode::kInvalidArgument,
              {"query \"sum(rate(x[1m]\"", "bad_data", "HTTP 400",
               "unclosed left parenthesis"});
  ExpectError(Parse("error_execution.json", {.promql = "q"}, 422),
              absl::StatusCode::kInvalidArgument,
              {"execution", "many-to-many"});
  ExpectError(Parse("error_timeout.json", {.promql = "q"}, 503),
              absl::StatusCode::kDeadlineExceeded, {"timeout", "timed out"});
  ExpectError(Parse("error_unavailable.json", {.promql = "q"}, 503),
              absl::StatusCode::kUnavailable, {"unavailable"});
}

TEST(ParseQueryResponse, NonJsonBodies) {
  ExpectError(
      Parse("not_json.html"), absl::StatusCode::kDataLoss,
      {"malformed Prometheus response", "invalid JSON at byte 0", "<html>"});
  ExpectError(Parse("not_json.html", {.promql = "q"}, 502),
              absl::StatusCode::kUnavailable, {"HTTP 502", "Bad Gateway"});
  ExpectError(Parse("not_json.html", {.promql = "q"}, 404),
              absl::StatusCode::kInvalidArgument, {"HTTP 404"});
  ExpectError(Parse("truncated.json"), absl::StatusCode::kDataLoss,
              {"unexpected end of input"});
}

TEST(ParseQueryResponse, MalformedEnvelopes) {
  const PrometheusQuery q{.promql = "q"};
  for (
      const char* body : {
          R"({"data":{}})",
          R"({"status":"weird"})",
          R"({"status":"success"})",
          R"({"status":"success","data":{"resultType":"vector"}})",
          R"({"status":"success","data":{"resultType":"vector","result":{}}})",
          R"({"status":"success","data":{"resultType":"histogram","result":[]}})",
          R"({"status":"success","data":{"resultType":"scalar","result":[1,2]}})",
          R"({"status":"success","data":{"resultType":"scalar","result":[1,"x"]}})",
          R"({"status":"success","data":{"resultType":"scalar","result":[1,"1e999"]}})",
          R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}})",
      }) {
    absl::StatusOr<QueryResult> r = ParseQueryResponse(200, body, q);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss)
        << body << ": " << r.status();
  }
}

TEST(ParseQueryResponse, ShortensLongQueriesInMessages) {
  const std::string promql(500, 'x');
  absl::StatusOr<QueryResult> r =
      Parse("empty_vector.json", {.promql = promql});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::StrContains(r.status().message(),
                                "query \"" + std::string(120, 'x') + "...\""))
      << r.status();
  EXPECT_LT(r.status().message().size(), 300u);
}

TEST(Aggregate, ParsesConfigNames) {
  for (const char* name : {"sum", "max", "min", "avg"}) {
    absl::StatusOr<Aggregate> a = ParseAggregate(name);
    ASSERT_TRUE(a.ok()) << name;
    EXPECT_EQ(AggregateName(*a), name);
  }
  EXPECT_EQ(ParseAggregate("median").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ballast::source
