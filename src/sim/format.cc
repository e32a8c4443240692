#include "ballast/sim/format.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace ballast::sim {
namespace {

// Reads exactly `n` digits at `*pos`; advances `*pos`.
std::optional<int> Digits(absl::string_view s, size_t* pos, size_t n) {
  if (*pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool Expect(absl::string_view s, size_t* pos, absl::string_view chars) {
  if (*pos >= s.size() || chars.find(s[*pos]) == absl::string_view::npos) {
    return false;
  }
  ++*pos;
  return true;
}

// Parses the zone suffix at `pos` (empty = UTC, Z, or +HH:MM); returns the
// offset east of UTC in seconds.
std::optional<int> ZoneOffset(absl::string_view s, size_t pos) {
  if (pos == s.size()) return 0;
  if (pos + 1 == s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return 0;
  const char sign = s[pos];
  if (sign != '+' && sign != '-') return std::nullopt;
  ++pos;
  const std::optional<int> hh = Digits(s, &pos, 2);
  if (!hh || !Expect(s, &pos, ":")) return std::nullopt;
  const std::optional<int> mm = Digits(s, &pos, 2);
  if (!mm || pos != s.size() || *hh > 23 || *mm > 59) return std::nullopt;
  const int offset = *hh * 3600 + *mm * 60;
  return sign == '+' ? offset : -offset;
}

std::optional<double> ParseCalendarTime(absl::string_view s) {
  size_t pos = 0;
  const std::optional<int> year = Digits(s, &pos, 4);
  if (!year || !Expect(s, &pos, "-")) return std::nullopt;
  const std::optional<int> month = Digits(s, &pos, 2);
  if (!month || !Expect(s, &pos, "-")) return std::nullopt;
  const std::optional<int> day = Digits(s, &pos, 2);
  if (!day || !Expect(s, &pos, "Tt ")) return std::nullopt;
  const std::optional<int> hour = Digits(s, &pos, 2);
  if (!hour || !Expect(s, &pos, ":")) return std::nullopt;
  const std::optional<int> minute = Digits(s, &pos, 2);
  if (!minute || !Expect(s, &pos, ":")) return std::nullopt;
  const std::optional<int> second = Digits(s, &pos, 2);
  if (!second) return std::nullopt;
  double fraction = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    double scale = 0.1;
    const size_t first = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      fraction += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  const std::optional<int> offset = ZoneOffset(s, pos);
  if (!offset) return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *hour > 23 || *minute > 59 ||
      *second > 60) {
    return std::nullopt;
  }
  // CivilDay normalises 02-30 to 03-02: a changed day means it did not exist.
  if (absl::CivilDay(*year, *month, *day).day() != *day) return std::nullopt;
  const absl::CivilSecond civil(*year, *month, *day, *hour, *minute, *second);
  const int64_t seconds =
      absl::ToUnixSeconds(absl::FromCivil(civil, absl::UTCTimeZone()));
  return static_cast<double>(seconds - *offset) + fraction;
}

}  // namespace

std::optional<double> ParseNumber(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0;
  const auto [end, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() ||
      !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> ParseTraceTime(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (std::optional<double> number = ParseNumber(text)) return number;
  return ParseCalendarTime(text);
}

std::optional<double> ParseDuration(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  if (std::optional<double> seconds = ParseNumber(text)) {
    return *seconds >= 0 ? seconds : std::nullopt;
  }
  if (text.empty()) return std::nullopt;
  double total = 0;
  while (!text.empty()) {
    const size_t unit = text.find_first_of("smhd");
    if (unit == 0 || unit == absl::string_view::npos) return std::nullopt;
    const absl::string_view number = text.substr(0, unit);
    // Digits and one '.', nothing else (no sign, blank or exponent).
    if (number.find_first_not_of("0123456789.") != absl::string_view::npos) {
      return std::nullopt;
    }
    const std::optional<double> n = ParseNumber(number);
    if (!n) return std::nullopt;
    switch (text[unit]) {
      case 's':
        total += *n;
        break;
      case 'm':
        total += *n * 60;
        break;
      case 'h':
        total += *n * 3600;
        break;
      default:
        total += *n * 86400;
    }
    text.remove_prefix(unit + 1);
  }
  if (!std::isfinite(total)) return std::nullopt;
  return total;
}

std::string FormatNumber(double value) {
  if (value == 0) return "0";  // also turns -0 into 0
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value,
                                       std::chars_format::general, 10);
  if (ec != std::errc()) return "nan";
  return std::string(buf, end);
}

std::string FormatRfc3339(double epoch_seconds) {
  // Beyond about year 33,000 (or non-finite) the microseconds would not fit
  // int64 (llround's result is then unspecified): the plain number.
  if (!(std::abs(epoch_seconds) < 1e12)) return FormatNumber(epoch_seconds);
  // Round to microseconds so that 0.68 does not print as 0.679999999.
  const absl::Time rounded =
      absl::UnixEpoch() + absl::Microseconds(std::llround(epoch_seconds * 1e6));
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", rounded,
                          absl::UTCTimeZone());
}

}  // namespace ballast::sim
