#include "ballast/sim/convert.h"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ballast/sim/format.h"
#include "ballast/sim/trace.h"

namespace ballast::sim {
namespace {

// Parses `text` with `time_column` first and returns it with the indices of
// `columns`, after checking that every cell of those is a number >= 0.
absl::StatusOr<std::pair<Trace, std::vector<size_t>>> ReadInput(
    absl::string_view text, absl::string_view file_name,
    absl::string_view time_column,
    std::initializer_list<absl::string_view> columns) {
  absl::StatusOr<Trace> trace = ParseTrace(text, file_name, time_column);
  if (!trace.ok()) return trace.status();
  std::vector<size_t> indices;
  for (const absl::string_view name : columns) {
    const std::optional<size_t> index = trace->ColumnIndex(name);
    if (!index) {
      return absl::InvalidArgumentError(
          absl::StrCat(file_name, ": no column '", name, "' in the header"));
    }
    for (size_t row = 0; row < trace->rows(); ++row) {
      if (!(trace->values[*index][row] >= 0)) {  // NaN or negative
        return absl::InvalidArgumentError(
            absl::StrCat(file_name, ":", trace->lines[row], ": column '", name,
                         "': empty or negative"));
      }
    }
    indices.push_back(*index);
  }
  return std::make_pair(*std::move(trace), std::move(indices));
}

absl::Status NothingSelected(absl::string_view file_name) {
  return absl::InvalidArgumentError(
      absl::StrCat(file_name, ": no rows in the selected time range"));
}

}  // namespace

absl::StatusOr<int64_t> ConvertWorldCup98(absl::string_view text,
                                          absl::string_view file_name,
                                          const WorldCupOptions& options,
                                          std::ostream& out) {
  if (!(options.scale > 0)) {
    return absl::InvalidArgumentError("scale must be > 0");
  }
  auto input = ReadInput(text, file_name, "period", {"count"});
  if (!input.ok()) return input.status();
  const auto& [trace, columns] = *input;
  std::string buf = "time,rps\n";
  int64_t rows = 0;
  for (size_t row = 0; row < trace.rows(); ++row) {
    if (!options.range.Contains(trace.times[row])) continue;
    absl::StrAppend(
        &buf, FormatRfc3339(trace.times[row]), ",",
        FormatNumber(trace.values[columns[0]][row] / 60 * options.scale), "\n");
    ++rows;
  }
  if (rows == 0) return NothingSelected(file_name);
  out << buf;
  return rows;
}

absl::StatusOr<int64_t> ConvertAzureLlm(absl::string_view text,
                                        absl::string_view file_name,
                                        const AzureLlmOptions& options,
                                        std::ostream& out) {
  if (!(options.bucket_seconds > 0)) {
    return absl::InvalidArgumentError("bucket seconds must be > 0");
  }
  auto input = ReadInput(text, file_name, "TIMESTAMP",
                         {"ContextTokens", "GeneratedTokens"});
  if (!input.ok()) return input.status();
  const auto& [trace, columns] = *input;

  std::optional<size_t> first_row;
  std::optional<double> last;
  for (size_t row = 0; row < trace.rows(); ++row) {
    if (!options.range.Contains(trace.times[row])) continue;
    if (!first_row) first_row = row;
    last = trace.times[row];
  }
  if (!first_row) return NothingSelected(file_name);
  const double first = trace.times[*first_row];
  const double start = options.range.from.value_or(std::floor(first));
  const double span = (options.range.to ? *options.range.to : *last) - start;
  // With `to` the buckets cover [start, to); else up to the last request.
  const double buckets_real =
      options.range.to ? std::ceil(span / options.bucket_seconds)
                       : std::floor(span / options.bucket_seconds) + 1;
  if (!(buckets_real <= kMaxAzureLlmBuckets)) {
    // Every bucket is written, empty ones too: a timestamp years off (a
    // typo in the year) would fill the disk. Name the first request past
    // the limit, else the --to that makes the span.
    const std::string limit = absl::StrCat(
        "more than ", kMaxAzureLlmBuckets, " buckets of ",
        FormatNumber(options.bucket_seconds),
        " s from the start; check the timestamp, select a range with "
        "--from/--to, or raise --bucket-seconds");
    const std::string from =
        options.range.from ? absl::StrCat(FormatRfc3339(start), " (--from)")
                           : absl::StrCat(FormatRfc3339(start), " (line ",
                                          trace.lines[*first_row], ")");
    for (size_t row = *first_row; row < trace.rows(); ++row) {
      const double t = trace.times[row];
      if (!options.range.Contains(t)) continue;
      if ((t - start) / options.bucket_seconds >= kMaxAzureLlmBuckets) {
        return absl::InvalidArgumentError(
            absl::StrCat(file_name, ":", trace.lines[row], ": TIMESTAMP ",
                         FormatRfc3339(t), " is ", FormatNumber(t - start),
                         " s after the start ", from, ": ", limit));
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "--to ", FormatRfc3339(*options.range.to), " is ", FormatNumber(span),
        " s after the start ", from, ": ", limit));
  }
  const int64_t buckets = static_cast<int64_t>(std::max(buckets_real, 0.0));
  std::vector<int64_t> arrivals(static_cast<size_t>(buckets), 0);
  std::vector<double> work(static_cast<size_t>(buckets), 0);
  for (size_t row = 0; row < trace.rows(); ++row) {
    if (!options.range.Contains(trace.times[row])) continue;
    const size_t b = static_cast<size_t>(
        std::floor((trace.times[row] - start) / options.bucket_seconds));
    if (b >= arrivals.size()) continue;  // rounding at the `to` edge
    ++arrivals[b];
    work[b] +=
        options.base_seconds +
        trace.values[columns[0]][row] * options.seconds_per_context_token +
        trace.values[columns[1]][row] * options.seconds_per_generated_token;
  }
  std::string buf = absl::StrCat("time,arrivals,work_seconds\n",
                                 FormatRfc3339(start), ",0,0\n");
  for (size_t b = 0; b < arrivals.size(); ++b) {
    const double end =
        start + static_cast<double>(b + 1) * options.bucket_seconds;
    absl::StrAppend(&buf, FormatRfc3339(end), ",", arrivals[b], ",",
                    FormatNumber(work[b]), "\n");
  }
  out << buf;
  return static_cast<int64_t>(arrivals.size()) + 1;
}

}  // namespace ballast::sim
