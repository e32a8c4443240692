// The converters of the public traces (`ballast trace convert`):
// sim::ConvertWorldCup98 and sim::ConvertAzureLlm, with and without a time
// range. The last byte picks the format and the options. The output is
// counted, not kept: a converter must stay within kMaxAzureLlmBuckets rows
// (the decades-span finding: a typo in a year bucketed every second between).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ostream>
#include <streambuf>
#include <string>

#include "ballast/sim/convert.h"

namespace {

// Counts what is written, keeps nothing.
class CountingBuf : public std::streambuf {
 public:
  size_t count = 0;

 protected:
  int_type overflow(int_type c) override {
    ++count;
    return traits_type::not_eof(c);
  }
  std::streamsize xsputn(const char*, std::streamsize n) override {
    count += static_cast<size_t>(n);
    return n;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  ballast::sim::TimeRange range;
  if (flags & 2) range.from = in.ConsumeFloatingPoint<double>();
  if (flags & 4) range.to = in.ConsumeFloatingPoint<double>();
  const std::string text = in.ConsumeRemainingBytesAsString();
  CountingBuf buf;
  std::ostream out(&buf);
  absl::StatusOr<int64_t> rows;
  if (flags & 1) {
    ballast::sim::AzureLlmOptions options;
    if (flags & 8) options.bucket_seconds = 0.25;
    options.range = range;
    rows = ballast::sim::ConvertAzureLlm(text, "fuzz.csv", options, out);
    if (rows.ok() && *rows > ballast::sim::kMaxAzureLlmBuckets) std::abort();
  } else {
    ballast::sim::WorldCupOptions options;
    if (flags & 8) options.scale = 1e300;
    options.range = range;
    rows = ballast::sim::ConvertWorldCup98(text, "fuzz.csv", options, out);
  }
  if (rows.ok() && *rows < 0) std::abort();
  // Rows are short: the output stays proportionate to the row count.
  if (rows.ok() && buf.count > 256 * (static_cast<size_t>(*rows) + 1)) {
    std::abort();
  }
  return 0;
}
