// A Prometheus /api/v1/query response (status code and body) as one value
// (source::ParseQueryResponse), for every aggregate, with and without
// `emptyAs`. An accepted value must be finite: a NaN or an overflow to inf
// is an error, never a good reading.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "ballast/source/prometheus_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  ballast::source::PrometheusQuery query;
  query.promql = "sum(rate(x[1m]))";
  constexpr ballast::source::Aggregate kAggregates[] = {
      ballast::source::Aggregate::kSum, ballast::source::Aggregate::kMax,
      ballast::source::Aggregate::kMin, ballast::source::Aggregate::kAvg};
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  query.aggregate = kAggregates[flags & 3];
  if (flags & 4) query.empty_as = (flags & 8) ? 0.0 : 1.5;
  const int status = (flags & 16) ? in.ConsumeIntegralInRange(100, 599) : 200;
  const std::string body = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<ballast::source::QueryResult> r =
      ballast::source::ParseQueryResponse(status, body, query);
  if (r.ok()) {
    if (!std::isfinite(r->value)) std::abort();
    if (r->series < 0 || r->nan_series < 0) std::abort();
  }
  return 0;
}
