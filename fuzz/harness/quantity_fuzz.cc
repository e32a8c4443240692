// server::FormatQuantity: every finite double serves as a canonical
// Kubernetes Quantity (digits, an optional '-', an optional suffix);
// NaN and inf are errors.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "ballast/server/quantity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < sizeof(double)) return 0;
  double value;
  std::memcpy(&value, data, sizeof value);
  absl::StatusOr<std::string> q = ballast::server::FormatQuantity(value);
  if (q.ok() != std::isfinite(value)) std::abort();
  if (!q.ok()) return 0;
  const std::string& s = *q;
  // 1.8e308 has 309 digits (Kubernetes parses any length).
  if (s.empty() || s.size() > 330) std::abort();
  size_t i = s[0] == '-' ? 1 : 0;
  size_t digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
  if (digits == 0) std::abort();
  const std::string suffix = s.substr(i);
  static const char* const kSuffixes[] = {"",  "n", "u", "m", "k",
                                          "M", "G", "T", "P", "E"};
  bool known = false;
  for (const char* k : kSuffixes) known = known || suffix == k;
  if (!known) std::abort();
  return 0;
}
