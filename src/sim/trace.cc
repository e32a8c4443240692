#include "ballast/sim/trace.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "ballast/sim/format.h"

namespace ballast::sim {
namespace {

absl::Status LineError(absl::string_view file, int line,
                       absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(file, ":", line, ": ", what));
}

// Splits `text` into lines without their "\n" or "\r\n"; calls `fn(line, n)`
// with the 1-based line number until it returns a non-OK status.
template <typename Fn>
absl::Status ForEachLine(absl::string_view text, Fn fn) {
  int number = 0;
  while (!text.empty()) {
    ++number;
    const size_t end = text.find('\n');
    absl::string_view line = text.substr(0, end);
    text.remove_prefix(end == absl::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (absl::Status s = fn(line, number); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

std::optional<size_t> Trace::ColumnIndex(absl::string_view name) const {
  const auto it = std::find(columns.begin(), columns.end(), name);
  if (it == columns.end()) return std::nullopt;
  return static_cast<size_t>(it - columns.begin());
}

std::optional<size_t> Trace::RowAtOrBefore(double t) const {
  const auto it = std::upper_bound(times.begin(), times.end(), t);
  if (it == times.begin()) return std::nullopt;
  return static_cast<size_t>(it - times.begin()) - 1;
}

absl::StatusOr<Trace> ParseTrace(absl::string_view text,
                                 absl::string_view file_name,
                                 absl::string_view time_column) {
  Trace trace;
  trace.file = std::string(file_name);
  bool have_header = false;
  std::vector<absl::string_view> cells;
  absl::Status status = ForEachLine(
      text, [&](absl::string_view line, int number) -> absl::Status {
        if (absl::StripAsciiWhitespace(line).empty()) return absl::OkStatus();
        cells = absl::StrSplit(line, ',');
        if (!have_header) {
          have_header = true;
          if (absl::StripAsciiWhitespace(cells[0]) != time_column) {
            return LineError(file_name, number,
                             absl::StrCat("the first column of the header must "
                                          "be '",
                                          time_column, "'"));
          }
          std::set<std::string> seen;
          for (size_t i = 1; i < cells.size(); ++i) {
            std::string name(absl::StripAsciiWhitespace(cells[i]));
            if (name.empty() || name == time_column ||
                !seen.insert(name).second) {
              return LineError(
                  file_name, number,
                  absl::StrCat("column ", i + 1, ": empty or duplicate name '",
                               name, "'"));
            }
            trace.columns.push_back(std::move(name));
          }
          trace.values.resize(trace.columns.size());
          return absl::OkStatus();
        }
        if (cells.size() != trace.columns.size() + 1) {
          return LineError(file_name, number,
                           absl::StrCat(cells.size(), " cells, expected ",
                                        trace.columns.size() + 1));
        }
        const std::optional<double> t = ParseTraceTime(cells[0]);
        if (!t) {
          return LineError(file_name, number,
                           absl::StrCat("column '", time_column,
                                        "': not a number of seconds or an RFC "
                                        "3339 time"));
        }
        if (!trace.times.empty() && *t < trace.times.back()) {
          return LineError(file_name, number,
                           "time goes backwards (rows must be sorted by time)");
        }
        for (size_t c = 0; c < trace.columns.size(); ++c) {
          const absl::string_view cell =
              absl::StripAsciiWhitespace(cells[c + 1]);
          double v = std::numeric_limits<double>::quiet_NaN();
          if (!cell.empty()) {
            const std::optional<double> parsed = ParseNumber(cell);
            if (!parsed) {
              return LineError(file_name, number,
                               absl::StrCat("column '", trace.columns[c],
                                            "': not a number"));
            }
            v = *parsed;
          }
          trace.values[c].push_back(v);
        }
        trace.times.push_back(*t);
        trace.lines.push_back(number);
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  if (!have_header) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": empty trace (no header)"));
  }
  if (trace.times.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file_name, ": no data rows"));
  }
  return trace;
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat(path, ": read error"));
  return std::move(buffer).str();
}

absl::StatusOr<Trace> LoadTraceFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) return text.status();
  return ParseTrace(*text, path);
}

}  // namespace ballast::sim
