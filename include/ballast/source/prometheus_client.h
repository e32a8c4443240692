// ballast/source/prometheus_client.h
//
// Instant PromQL queries against one Prometheus (`/api/v1/query`), reduced
// to one value per query: a `vector` result is aggregated (sum by default),
// a `scalar` is taken as is. Requests go through HttpClient, so they share
// its keep-alive connections, timeout, size limit and in-flight limit.
//
//   PrometheusClientOptions options;
//   options.http.base_url = "http://127.0.0.1:9090";
//   auto client = PrometheusClient::Create(io, options);
//   (*client)->Query({.promql = "sum(rate(http_requests_total[1m]))"},
//                    absl::Now(), [](absl::StatusOr<QueryResult> r) {
//                      if (r.ok()) Use(r->value);
//                      else if (absl::IsNotFound(r.status())) NoData();
//                    });
//
// Status codes, from Query and ParseQueryResponse (each message names the
// query, shortened to 120 bytes, and Prometheus' errorType when it gave one):
//   NotFound          no usable value: an empty vector (without `empty_as`),
//                     or only NaN / any ±Inf ("query returned NaN")
//   InvalidArgument   bad_data / execution errors, other 4xx (a query or URL
//                     mistake: retrying will not help); matrix and string
//                     results ("range query result: use an instant vector")
//   Unauthenticated   401;  PermissionDenied 403
//   DeadlineExceeded  our timeout, or Prometheus' errorType "timeout"
//   Unavailable       unreachable, 5xx, 429, errorType unavailable/canceled/
//                     internal (retrying may help)
//   DataLoss          a body that is not the JSON envelope Prometheus sends
//                     (non-JSON, truncated, missing fields, bad numbers)
//   ResourceExhausted a body over the HttpClient size limit
#ifndef BALLAST_SOURCE_PROMETHEUS_CLIENT_H_
#define BALLAST_SOURCE_PROMETHEUS_CLIENT_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/net/http_client.h"
#include "ballast/source/prometheus_options.h"

namespace ballast::source {

// "sum", "max", "min", "avg" (the config spelling).
absl::StatusOr<Aggregate> ParseAggregate(absl::string_view name);
absl::string_view AggregateName(Aggregate aggregate);

struct QueryResult {
  double value = 0;
  // The evaluation time Prometheus reports (latest over the series).
  absl::Time timestamp = absl::InfinitePast();
  int series = 0;      // series aggregated (0 for scalar or empty_as)
  int nan_series = 0;  // NaN series left out of the aggregate
  bool from_empty_as = false;
};

// Turns one /api/v1/query response (status code and body) into a value, as
// the file comment describes.
absl::StatusOr<QueryResult> ParseQueryResponse(int http_status,
                                               absl::string_view body,
                                               const PrometheusQuery& query);

class PrometheusClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<QueryResult>) &&>;

  // InvalidArgument / FailedPrecondition as HttpClient::Create.
  static absl::StatusOr<std::unique_ptr<PrometheusClient>> Create(
      boost::asio::io_context& io, PrometheusClientOptions options);

  // Evaluates query.promql at `at` (millisecond precision) with Prometheus'
  // own `timeout` set to the HTTP timeout. `done` runs once on the
  // io_context. Thread-safe.
  void Query(const PrometheusQuery& query, absl::Time at, Callback done);

  // One query on a private io_context (for `ballast probe`).
  static absl::StatusOr<QueryResult> QueryOnce(PrometheusClientOptions options,
                                               const PrometheusQuery& query,
                                               absl::Time at);

  // The request Query sends (exposed for tests): GET with the parameters in
  // the URL, or a form POST when they are longer than the threshold.
  static net::HttpRequest BuildRequest(const PrometheusQuery& query,
                                       absl::Time at, absl::Duration timeout,
                                       size_t post_threshold_bytes);

 private:
  PrometheusClient(std::unique_ptr<net::HttpClient> http, size_t post_threshold)
      : http_(std::move(http)), post_threshold_(post_threshold) {}
  std::unique_ptr<net::HttpClient> http_;
  size_t post_threshold_;
};

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_PROMETHEUS_CLIENT_H_
