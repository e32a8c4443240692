// ballast/source/prometheus_options.h
//
// What a PrometheusClient is built with and what one query asks, as plain
// values with no I/O, so that the config (`sources.prometheus.<name>` and an
// input's `prometheus:` block) holds them as they are.
//
//   PrometheusQuery query{.promql = "sum(rate(x[1m]))",
//                         .aggregate = Aggregate::kMax, .empty_as = 0};
#ifndef BALLAST_SOURCE_PROMETHEUS_OPTIONS_H_
#define BALLAST_SOURCE_PROMETHEUS_OPTIONS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "ballast/net/http_options.h"

namespace ballast::source {

// How the series of a vector result become one value.
enum class Aggregate { kSum, kMax, kMin, kAvg };

struct PrometheusQuery {
  std::string promql;
  Aggregate aggregate = Aggregate::kSum;
  // The value of an empty vector (e.g. 0 for rate-like queries whose series
  // vanish when idle); without it an empty vector is NotFound.
  std::optional<double> empty_as;
};

struct PrometheusClientOptions {
  // base_url, timeout, limits, auth. Defaults: a Prometheus on loopback,
  // 2 s per query (`url`, `timeoutMs`).
  net::HttpClientOptions http = {.base_url = "http://127.0.0.1:9090",
                                 .timeout = absl::Seconds(2)};
  // Queries longer than this (URL-encoded) are POSTed as a form, so that no
  // proxy or server rejects a long URL.
  size_t post_threshold_bytes = 1500;
};

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_PROMETHEUS_OPTIONS_H_
