// ballast/sim/format.h
//
// Number and time text helpers shared by the trace reader, the simulator's
// reports and `ballast trace convert`. Times are seconds since the Unix epoch
// as doubles (microsecond precision for present-day dates).
//
//   std::optional<double> t = ParseTraceTime("2023-11-16T18:15:46Z");
//   std::string s = FormatNumber(2.5);      // "2.5"
//   std::string r = FormatRfc3339(*t);      // "2023-11-16T18:15:46Z"
//   std::optional<double> d = ParseDuration("1d12h");  // 129600
#ifndef BALLAST_SIM_FORMAT_H_
#define BALLAST_SIM_FORMAT_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace ballast::sim {

// A finite decimal number (surrounding blanks allowed); nullopt otherwise.
std::optional<double> ParseNumber(absl::string_view text);

// A trace time: a number of seconds, RFC 3339 (`2023-11-16T18:15:46Z`,
// `...46.25+01:00`), or `YYYY-MM-DD HH:MM:SS[.frac]` read as UTC (the form of
// the raw public traces). Returns seconds since the Unix epoch (a plain
// number is returned as is); nullopt when the text is none of these.
std::optional<double> ParseTraceTime(absl::string_view text);

// A length of time in seconds: a plain number of seconds ("5400"), or
// numbers with units s, m, h, d, in any order ("90m", "36h", "1.5d",
// "1d12h"). nullopt for anything else or a negative or non-finite total.
std::optional<double> ParseDuration(absl::string_view text);

// Shortest text that reads back as `value` with 10 significant digits, no
// exponent for ordinary magnitudes ("15", "0.5", "3823.766667").
std::string FormatNumber(double value);

// UTC RFC 3339 with a fraction only when needed: "1998-04-30T21:30:00Z",
// "2023-11-16T18:15:46.68Z".
std::string FormatRfc3339(double epoch_seconds);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_FORMAT_H_
