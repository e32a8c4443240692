// state::DecodeRecord (state/record.h) on any bytes, as read back from the
// state store: never a crash; an error is DataLoss or FailedPrecondition
// with a "state record: " message; what decodes re-encodes to bytes that
// decode to the same record, and encode to themselves again.
//
// Random bytes almost never carry a valid checksum (CRC-32C, the record's
// last 5 bytes), which DecodeRecord checks before it reads the fields, so
// every input is also decoded sealed: with a correct checksum appended
// (unit/state/record_wire.h). A seed's own trailer, mutated or not, is then
// one more field 14 inside the body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ballast/state/record.h"
#include "unit/state/record_wire.h"

namespace {

void Check(std::string_view bytes) {
  using ballast::state::DecodedRecord;
  const absl::StatusOr<DecodedRecord> d = ballast::state::DecodeRecord(bytes);
  if (!d.ok()) {
    const absl::StatusCode code = d.status().code();
    if (code != absl::StatusCode::kDataLoss &&
        code != absl::StatusCode::kFailedPrecondition) {
      std::abort();
    }
    if (d.status().message().substr(0, 14) != "state record: ") std::abort();
    return;
  }
  const std::string encoded = ballast::state::EncodeRecord(d->record, d->meta);
  const absl::StatusOr<DecodedRecord> again =
      ballast::state::DecodeRecord(encoded);
  if (!again.ok()) std::abort();
  if (!(*again == *d)) std::abort();
  if (ballast::state::EncodeRecord(again->record, again->meta) != encoded) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  Check(ballast::state::testing::Seal(bytes));
  return 0;
}
