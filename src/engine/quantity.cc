#include "ballast/engine/quantity.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>

namespace ballast::engine {
namespace {

// |x| as decimal digits (no leading zeros, at least one digit) times
// 10^exponent, from the shortest form that reads back as x.
struct Decimal {
  bool negative = false;
  std::string digits;
  int exponent = 0;
};

Decimal ToDecimal(double x) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x);
  std::string text(buf, ec == std::errc() ? end : buf);
  Decimal d;
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    d.negative = true;
    ++i;
  }
  int fraction_digits = 0;
  bool in_fraction = false;
  for (; i < text.size() && text[i] != 'e'; ++i) {
    if (text[i] == '.') {
      in_fraction = true;
      continue;
    }
    d.digits.push_back(text[i]);
    if (in_fraction) ++fraction_digits;
  }
  int exp10 = 0;
  if (i < text.size()) exp10 = std::atoi(text.c_str() + i + 1);
  d.exponent = exp10 - fraction_digits;
  const size_t first = d.digits.find_first_not_of('0');
  d.digits = first == std::string::npos ? "0" : d.digits.substr(first);
  while (d.digits.size() > 1 && d.digits.back() == '0') {
    d.digits.pop_back();
    ++d.exponent;
  }
  if (d.digits == "0") d.exponent = 0;
  return d;
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

}  // namespace

int64_t MilliValue(double x) {
  if (std::isnan(x)) return 0;
  if (std::isinf(x)) return x > 0 ? kMax : std::numeric_limits<int64_t>::min();
  const Decimal d = ToDecimal(x);
  const int shift = d.exponent + 3;  // milli = digits * 10^shift
  // The integer part of digits * 10^shift, and whether a fraction is left.
  int64_t whole = 0;
  bool fraction = false;
  bool overflow = false;
  const int keep = static_cast<int>(d.digits.size()) + std::min(shift, 0);
  for (int k = 0; k < static_cast<int>(d.digits.size()); ++k) {
    const int digit = d.digits[static_cast<size_t>(k)] - '0';
    if (k >= keep) {
      fraction = fraction || digit != 0;
      continue;
    }
    if (whole > (kMax - digit) / 10) {
      overflow = true;
      break;
    }
    whole = whole * 10 + digit;
  }
  for (int k = 0; !overflow && k < shift; ++k) {
    if (whole > kMax / 10) {
      overflow = true;
    } else {
      whole *= 10;
    }
  }
  if (overflow) return d.negative ? std::numeric_limits<int64_t>::min() : kMax;
  // Ceiling: up for a positive fraction; a negative one truncates.
  if (d.negative) return -whole;
  return fraction ? whole + 1 : whole;
}

double ApproximateFloat64(double x) {
  if (!std::isfinite(x) || x == 0) return x;
  Decimal d = ToDecimal(x);
  // The canonical form's exponent is a multiple of 3, reached by moving
  // factors of 10 into the mantissa.
  while (d.exponent % 3 != 0) {
    d.digits.push_back('0');
    --d.exponent;
  }
  double base = 0;
  for (const char c : d.digits) base = base * 10 + (c - '0');
  if (d.negative) base = -base;
  if (d.exponent == 0) return base;
  // Go's math.Pow10: 10^n exactly for n >= 0, 1 / 10^-n below (both are
  // exact or correctly rounded for the small exponents used here).
  double p = 1;
  for (int k = 0; k < std::abs(d.exponent); ++k) p *= 10;
  return d.exponent > 0 ? base * p : base * (1 / p);
}

}  // namespace ballast::engine
