// The trace CSV of `ballast simulate` (sim::ParseTrace), with the invariants
// the simulator relies on checked on every trace it accepts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>

#include "absl/strings/string_view.h"
#include "ballast/sim/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ballast::sim::Trace> trace =
      ballast::sim::ParseTrace(text, "fuzz.csv");
  if (!trace.ok()) return 0;
  const size_t rows = trace->rows();
  if (rows == 0) std::abort();  // "no data rows" is an error
  if (trace->values.size() != trace->columns.size()) std::abort();
  if (trace->lines.size() != rows) std::abort();
  for (const auto& column : trace->values) {
    if (column.size() != rows) std::abort();
  }
  for (size_t i = 0; i < rows; ++i) {
    if (!std::isfinite(trace->times[i])) std::abort();
    if (i > 0 && trace->times[i] < trace->times[i - 1]) std::abort();
  }
  for (const std::string& c : trace->columns) {
    if (!trace->ColumnIndex(c)) std::abort();
  }
  const std::optional<size_t> first = trace->RowAtOrBefore(trace->times[0]);
  if (!first || trace->times[*first] != trace->times[0]) std::abort();
  (void)trace->RowAtOrBefore(trace->times[rows - 1] + 1);
  return 0;
}
