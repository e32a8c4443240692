// Parsing of /api/v1/query responses: the JSON envelope, the result types,
// Prometheus' sample values, and the reduction of a vector to one value.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/source/prometheus_client.h"
#include "rapidjson/document.h"

namespace ballast::source {
namespace {

constexpr size_t kMaxBodyInMessage = 200;

// Builds statuses that name the query.
class Reporter {
 public:
  explicit Reporter(const PrometheusQuery& query)
      : prefix_(absl::StrCat("query \"", net::Shorten(query.promql), "\": ")) {}

  absl::Status operator()(absl::StatusCode code, absl::string_view what) const {
    return absl::Status(code, absl::StrCat(prefix_, what));
  }
  absl::Status Malformed(absl::string_view what) const {
    return (*this)(absl::StatusCode::kDataLoss,
                   absl::StrCat("malformed Prometheus response: ", what));
  }

 private:
  std::string prefix_;
};

// Prometheus' errorType (web/api/v1/api.go) to a status code; unknown types
// fall back on the HTTP status.
absl::StatusCode CodeForErrorType(absl::string_view type, int http_status) {
  if (type == "bad_data" || type == "execution") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (type == "timeout") return absl::StatusCode::kDeadlineExceeded;
  if (type == "canceled" || type == "unavailable" || type == "internal") {
    return absl::StatusCode::kUnavailable;
  }
  const absl::StatusCode code = net::CodeForHttpStatus(http_status);
  // NotFound means "no data" to callers; a 404 is a wrong URL.
  return code == absl::StatusCode::kNotFound
             ? absl::StatusCode::kInvalidArgument
             : code;
}

// A sample value as Prometheus writes it: "1.5", "1e+06", "NaN", "+Inf".
std::optional<double> ParseSampleValue(absl::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  const char* last = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), last, value);
  if (ec != std::errc() || ptr != last || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

absl::string_view NonFiniteName(double value) {
  if (std::isnan(value)) return "NaN";
  return value > 0 ? "+Inf" : "-Inf";
}

// `{__name__="up",job="x"}` from a series' "metric" object, for messages.
std::string SeriesName(const rapidjson::Value* metric) {
  if (metric == nullptr || !metric->IsObject()) return "{}";
  std::string out = "{";
  for (const auto& label : metric->GetObject()) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "", JsonText(label.name),
                    "=\"", label.value.IsString() ? JsonText(label.value) : "?",
                    "\"");
  }
  return out + "}";
}

struct Sample {
  absl::Time time;
  double value = 0;
};

// A `[<unix seconds>, "<value>"]` pair.
absl::StatusOr<Sample> ParseSample(const rapidjson::Value* pair,
                                   const Reporter& report) {
  if (pair == nullptr || !pair->IsArray() || pair->Size() != 2 ||
      !(*pair)[0].IsNumber() || !(*pair)[1].IsString()) {
    return report.Malformed("a sample is not [<time>, \"<value>\"]");
  }
  const absl::string_view text = JsonText((*pair)[1]);
  const std::optional<double> value = ParseSampleValue(text);
  if (!value.has_value()) {
    return report.Malformed(absl::StrCat("sample value \"", net::Shorten(text),
                                         "\" is not a number"));
  }
  const double seconds = (*pair)[0].GetDouble();
  return Sample{.time = absl::FromUnixMillis(
                    static_cast<int64_t>(std::llround(seconds * 1000))),
                .value = *value};
}

absl::StatusOr<QueryResult> FromScalar(const rapidjson::Value& result,
                                       const Reporter& report) {
  absl::StatusOr<Sample> sample = ParseSample(&result, report);
  if (!sample.ok()) return sample.status();
  if (!std::isfinite(sample->value)) {
    return report(absl::StatusCode::kNotFound,
                  absl::StrCat("query returned ", NonFiniteName(sample->value),
                               " (no usable value)"));
  }
  return QueryResult{.value = sample->value, .timestamp = sample->time};
}

// The aggregate of finite `values` (at least one). A sum can overflow to
// +-Inf (the caller reports it); an average of finite values cannot, so when
// the plain sum overflows it is taken over the terms value / n.
double Reduce(Aggregate aggregate, const std::vector<double>& values) {
  switch (aggregate) {
    case Aggregate::kMax:
      return *std::max_element(values.begin(), values.end());
    case Aggregate::kMin:
      return *std::min_element(values.begin(), values.end());
    case Aggregate::kSum:
    case Aggregate::kAvg:
      break;
  }
  double sum = 0;
  for (const double v : values) sum += v;
  if (aggregate == Aggregate::kSum) return sum;
  const auto n = static_cast<double>(values.size());
  if (std::isfinite(sum)) return sum / n;
  double mean = 0;
  for (const double v : values) mean += v / n;
  return mean;
}

// NaN series (e.g. a ratio over an idle series) are left out; a ±Inf series
// makes the whole result unusable, since leaving it out would hide exactly
// the overload it signals (e.g. a latency beyond the largest bucket).
absl::StatusOr<QueryResult> FromVector(const rapidjson::Value& result,
                                       const PrometheusQuery& query,
                                       const Reporter& report) {
  if (!result.IsArray()) return report.Malformed("vector result not a list");
  QueryResult out;
  std::vector<double> values;
  for (const rapidjson::Value& series : result.GetArray()) {
    absl::StatusOr<Sample> sample =
        ParseSample(JsonFind(series, "value"), report);
    if (!sample.ok()) return sample.status();
    out.timestamp = std::max(out.timestamp, sample->time);
    if (std::isnan(sample->value)) {
      ++out.nan_series;
    } else if (std::isinf(sample->value)) {
      return report(
          absl::StatusCode::kNotFound,
          absl::StrCat("query returned ", NonFiniteName(sample->value),
                       " for series ",
                       net::Shorten(SeriesName(JsonFind(series, "metric"))),
                       " (no usable value)"));
    } else {
      values.push_back(sample->value);
    }
  }
  out.series = static_cast<int>(values.size());
  if (!values.empty()) {
    out.value = Reduce(query.aggregate, values);
    if (!std::isfinite(out.value)) {
      // Finite samples whose sum does not fit a double: as unusable as a
      // NaN, and never to be passed on as a (huge) good value.
      return report(
          absl::StatusCode::kNotFound,
          absl::StrCat("query returned ", values.size(),
                       " finite series whose ", AggregateName(query.aggregate),
                       " overflows to ", NonFiniteName(out.value),
                       " (no usable value)"));
    }
    return out;
  }
  if (out.nan_series > 0) {
    return report(absl::StatusCode::kNotFound,
                  absl::StrCat("query returned NaN (", out.nan_series,
                               " series, no usable value)"));
  }
  if (query.empty_as.has_value()) {
    out.value = *query.empty_as;
    out.from_empty_as = true;
    return out;
  }
  return report(absl::StatusCode::kNotFound,
                "query returned no data (empty vector); set emptyAs if an "
                "absent series means a value such as 0");
}

absl::Status FromErrorEnvelope(const rapidjson::Value& doc, int http_status,
                               const Reporter& report) {
  const rapidjson::Value* type = JsonFind(doc, "errorType");
  const rapidjson::Value* error = JsonFind(doc, "error");
  const absl::string_view type_name =
      type != nullptr && type->IsString() ? JsonText(*type) : "unknown";
  return report(CodeForErrorType(type_name, http_status),
                absl::StrCat("Prometheus error ", type_name, " (HTTP ",
                             http_status, "): ",
                             error != nullptr && error->IsString()
                                 ? net::Shorten(JsonText(*error), 500)
                                 : "no message"));
}

}  // namespace

absl::StatusOr<Aggregate> ParseAggregate(absl::string_view name) {
  for (const Aggregate a :
       {Aggregate::kSum, Aggregate::kMax, Aggregate::kMin, Aggregate::kAvg}) {
    if (name == AggregateName(a)) return a;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown aggregate \"", name, "\"; expected sum, max, min or avg"));
}

absl::string_view AggregateName(Aggregate aggregate) {
  switch (aggregate) {
    case Aggregate::kSum:
      return "sum";
    case Aggregate::kMax:
      return "max";
    case Aggregate::kMin:
      return "min";
    case Aggregate::kAvg:
      return "avg";
  }
  return "?";
}

absl::StatusOr<QueryResult> ParseQueryResponse(int http_status,
                                               absl::string_view body,
                                               const PrometheusQuery& query) {
  const Reporter report(query);
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) {
    if (http_status != 200) {
      return report(CodeForErrorType("", http_status),
                    absl::StrCat("HTTP ", http_status, ": ",
                                 net::Shorten(body, kMaxBodyInMessage)));
    }
    return report.Malformed(
        absl::StrCat(doc.status().message(), "; body starts with \"",
                     net::Shorten(body, kMaxBodyInMessage), "\""));
  }
  const rapidjson::Value* status = JsonFind(*doc, "status");
  if (status == nullptr || !status->IsString()) {
    return report.Malformed("no \"status\" string");
  }
  if (JsonText(*status) == "error" || http_status != 200) {
    return FromErrorEnvelope(*doc, http_status, report);
  }
  if (JsonText(*status) != "success") {
    return report.Malformed(absl::StrCat(
        "unknown status \"", net::Shorten(JsonText(*status)), "\""));
  }
  const rapidjson::Value* data = JsonFind(*doc, "data");
  const rapidjson::Value* type =
      data == nullptr ? nullptr : JsonFind(*data, "resultType");
  const rapidjson::Value* result =
      data == nullptr ? nullptr : JsonFind(*data, "result");
  if (type == nullptr || !type->IsString() || result == nullptr) {
    return report.Malformed("no data.resultType and data.result");
  }
  const absl::string_view type_name = JsonText(*type);
  if (type_name == "vector") return FromVector(*result, query, report);
  if (type_name == "scalar") return FromScalar(*result, report);
  if (type_name == "matrix") {
    return report(absl::StatusCode::kInvalidArgument,
                  "range query result (matrix): use an instant vector, e.g. "
                  "wrap the range selector in rate() or *_over_time()");
  }
  if (type_name == "string") {
    return report(absl::StatusCode::kInvalidArgument,
                  "query returned a string, not a number");
  }
  return report.Malformed(
      absl::StrCat("unknown resultType \"", net::Shorten(type_name), "\""));
}

}  // namespace ballast::source
