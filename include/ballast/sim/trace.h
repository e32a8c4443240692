// ballast/sim/trace.h
//
// A recorded load trace for `ballast simulate`: a CSV whose header is
// `time,<column>...`, one row per sample, sorted by time. `time` is seconds
// (any origin) or an absolute RFC 3339 / `YYYY-MM-DD HH:MM:SS` UTC time; an
// empty cell is a missing sample.
//
//   absl::StatusOr<Trace> trace = LoadTraceFile("load.csv");
//   if (!trace.ok()) { ... }  // "load.csv:7: column 'rps': not a number"
//   std::optional<size_t> rps = trace->ColumnIndex("rps");
//   double v = trace->values[*rps][row];  // NaN when the cell was empty
#ifndef BALLAST_SIM_TRACE_H_
#define BALLAST_SIM_TRACE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ballast::sim {

struct Trace {
  std::string file;                  // name used in messages
  std::vector<std::string> columns;  // header names after `time`
  std::vector<double> times;         // seconds, non-decreasing
  // values[column][row]; NaN for an empty cell.
  std::vector<std::vector<double>> values;
  // Source line (1-based) of each row, for messages about a row.
  std::vector<int> lines;

  size_t rows() const { return times.size(); }
  std::optional<size_t> ColumnIndex(absl::string_view name) const;
  // Index of the last row with times[row] <= t; nullopt if t precedes all.
  std::optional<size_t> RowAtOrBefore(double t) const;
};

// Parses CSV text. InvalidArgument naming `file_name` and the line:
// "FILE:LINE: column 'x': not a number", "FILE:LINE: time goes backwards",
// a wrong cell count, a header without `time_column` first or with a
// duplicate name, or no data rows. `time_column` lets the converters read
// the raw public traces (`period`, `TIMESTAMP`) with the same rules.
absl::StatusOr<Trace> ParseTrace(absl::string_view text,
                                 absl::string_view file_name,
                                 absl::string_view time_column = "time");

// Reads and parses `path`; NotFound if it cannot be read.
absl::StatusOr<Trace> LoadTraceFile(const std::string& path);

// Reads a whole file; NotFound naming the path if it cannot be opened,
// InvalidArgument if it is a directory.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_TRACE_H_
