#include "ballast/source/prometheus_client.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ballast::source {
namespace {

constexpr char kQueryPath[] = "/api/v1/query";

// Transport errors name the URL; this adds the query, which a POST does not
// show in its URL.
absl::Status WithQuery(const absl::Status& status, absl::string_view promql) {
  return absl::Status(
      status.code(),
      absl::StrCat("query \"", net::Shorten(promql), "\": ", status.message()));
}

absl::StatusOr<QueryResult> ToResult(absl::StatusOr<net::HttpResponse> response,
                                     const PrometheusQuery& query) {
  if (!response.ok()) return WithQuery(response.status(), query.promql);
  return ParseQueryResponse(response->status, response->body, query);
}

// Seconds with millisecond precision, the form Prometheus parses for both
// `time` and `timeout`.
std::string Seconds(absl::Duration d) {
  return absl::StrFormat("%.3f", absl::ToDoubleSeconds(d));
}

}  // namespace

absl::StatusOr<std::unique_ptr<PrometheusClient>> PrometheusClient::Create(
    boost::asio::io_context& io, PrometheusClientOptions options) {
  absl::StatusOr<std::unique_ptr<net::HttpClient>> http =
      net::HttpClient::Create(io, std::move(options.http));
  if (!http.ok()) return http.status();
  return std::unique_ptr<PrometheusClient>(
      new PrometheusClient(*std::move(http), options.post_threshold_bytes));
}

net::HttpRequest PrometheusClient::BuildRequest(const PrometheusQuery& query,
                                                absl::Time at,
                                                absl::Duration timeout,
                                                size_t post_threshold_bytes) {
  std::string params = net::EncodeQuery(
      {{"query", query.promql},
       {"time", Seconds(absl::Milliseconds(absl::ToUnixMillis(at)))},
       {"timeout", Seconds(timeout)}});
  if (params.size() > post_threshold_bytes) {
    return net::HttpRequest{
        .method = "POST",
        .target = kQueryPath,
        .body = std::move(params),
        .content_type = "application/x-www-form-urlencoded"};
  }
  return net::HttpRequest{.target = absl::StrCat(kQueryPath, "?", params)};
}

void PrometheusClient::Query(const PrometheusQuery& query, absl::Time at,
                             Callback done) {
  http_->Send(
      BuildRequest(query, at, http_->options().timeout, post_threshold_),
      [query, done = std::move(done)](
          absl::StatusOr<net::HttpResponse> response) mutable {
        std::move(done)(ToResult(std::move(response), query));
      });
}

absl::StatusOr<QueryResult> PrometheusClient::QueryOnce(
    PrometheusClientOptions options, const PrometheusQuery& query,
    absl::Time at) {
  net::HttpRequest request = BuildRequest(query, at, options.http.timeout,
                                          options.post_threshold_bytes);
  return ToResult(
      net::HttpClient::Fetch(std::move(options.http), std::move(request)),
      query);
}

}  // namespace ballast::source
