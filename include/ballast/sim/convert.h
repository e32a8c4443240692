// ballast/sim/convert.h
//
// `ballast trace convert`: turns the shipped public traces into simulate's
// CSV format.
//
//   std::ostringstream out;
//   absl::StatusOr<int64_t> rows =
//       ConvertWorldCup98(text, "requests_per_minute.csv", {.scale = 0.5},
//       out);
//
// worldcup98 (`period,count`, requests per minute) becomes `time,rps`: one
// row per input row, rps = count / 60 x scale, time as RFC 3339 UTC.
//
// azure-llm (`TIMESTAMP,ContextTokens,GeneratedTokens`, one row per request)
// becomes `time,arrivals,work_seconds`: a first row at the start (floor of
// the first selected request's second, or `from`) with 0 arrivals, then one
// row per bucket of `bucket_seconds`, timed at the bucket's end (arrivals
// are "since the previous row"), empty buckets included as 0 so the
// simulated queue keeps draining. A request's service time is
// base_seconds + ContextTokens x seconds_per_context_token +
// GeneratedTokens x seconds_per_generated_token. With the defaults the
// hour-long 2023 trace (19,365 requests, mean 5.3 s of work each) needs
// about 29 busy workers on average and 35 in its busiest minute.
//
// azure-llm writes at most kMaxAzureLlmBuckets buckets (11.5 days at 1 s,
// about 40 MB of CSV; the hour-long 2023 trace needs 3,600): a longer span,
// e.g. from a typo in one timestamp's year, is InvalidArgument naming the
// first request past the limit (FILE:LINE), or `to`.
//
// Both keep the rows with from <= time < to when those are given.
#ifndef BALLAST_SIM_CONVERT_H_
#define BALLAST_SIM_CONVERT_H_

#include <cstdint>
#include <optional>
#include <ostream>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ballast::sim {

inline constexpr int64_t kMaxAzureLlmBuckets = 1'000'000;

struct TimeRange {
  std::optional<double> from;  // epoch seconds, inclusive
  std::optional<double> to;    // epoch seconds, exclusive
  bool Contains(double t) const {
    return (!from || t >= *from) && (!to || t < *to);
  }
};

struct WorldCupOptions {
  double scale = 1;  // > 0
  TimeRange range;
};

struct AzureLlmOptions {
  double bucket_seconds = 1;  // > 0
  double base_seconds = 0.5;
  double seconds_per_context_token = 0.0005;
  double seconds_per_generated_token = 0.02;
  TimeRange range;
};

// Each returns the number of data rows written, or InvalidArgument naming
// FILE:LINE for a malformed input (wrong header, bad or empty cell, rows
// out of order) or an empty selection.
absl::StatusOr<int64_t> ConvertWorldCup98(absl::string_view text,
                                          absl::string_view file_name,
                                          const WorldCupOptions& options,
                                          std::ostream& out);
absl::StatusOr<int64_t> ConvertAzureLlm(absl::string_view text,
                                        absl::string_view file_name,
                                        const AzureLlmOptions& options,
                                        std::ostream& out);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_CONVERT_H_
