#include "ballast/server/quantity.h"

#include <cmath>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace ballast::server {

namespace {

constexpr int kNanoDigits = 9;
constexpr int kMaxExponent = 18;  // E

const char* Suffix(int exponent) {
  switch (exponent) {
    case -9:
      return "n";
    case -6:
      return "u";
    case -3:
      return "m";
    case 3:
      return "k";
    case 6:
      return "M";
    case 9:
      return "G";
    case 12:
      return "T";
    case 15:
      return "P";
    case 18:
      return "E";
    default:
      return "";
  }
}

}  // namespace

absl::StatusOr<std::string> FormatQuantity(double value) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write ", value, " as a Kubernetes quantity"));
  }
  // printf rounds the exact binary value correctly to 9 decimals, so the
  // digits below are value rounded to the nearest nano-unit.
  const std::string fixed =
      absl::StrFormat("%.*f", kNanoDigits, std::fabs(value));
  std::string digits;
  digits.reserve(fixed.size());
  for (char c : fixed) {
    if (c != '.') digits.push_back(c);
  }
  const size_t first = digits.find_first_not_of('0');
  if (first == std::string::npos) return std::string("0");
  digits.erase(0, first);
  int exponent = -kNanoDigits;
  while (digits.back() == '0') {
    digits.pop_back();
    ++exponent;
  }
  // Down to a multiple of 3 (floor, also for negative exponents).
  while (((exponent % 3) + 3) % 3 != 0) {
    digits.push_back('0');
    --exponent;
  }
  while (exponent > kMaxExponent) {
    digits.push_back('0');
    --exponent;
  }
  return absl::StrCat(value < 0 ? "-" : "", digits, Suffix(exponent));
}

}  // namespace ballast::server
