// unit/state/record_wire.h
//
// State records built by hand (state/record.h's wire form): a body of
// ballast.state.v1.TargetRecord bytes sealed with the checksum trailer the
// reader requires. The CRC-32C here is written from its definition, apart
// from src/state's, so that the tests pin the documented format rather than
// the implementation's idea of it. Used by record_test.cc and by
// fuzz/harness/state_record_fuzz.cc.
//
//   v1::TargetRecord m = ...;  // e.g. a decoded record, then altered
//   std::string bytes = Reseal(m);
//   DecodeRecord(bytes);  // checked past the checksum
#ifndef BALLAST_TESTS_UNIT_STATE_RECORD_WIRE_H_
#define BALLAST_TESTS_UNIT_STATE_RECORD_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "ballast/state/v1/state.pb.h"

namespace ballast::state::testing {

// CRC-32C (Castagnoli): reflected, polynomial 0x82F63B78, initial value
// and final xor 0xFFFFFFFF; bit by bit. Crc32c("123456789") == 0xE3069283.
inline uint32_t Crc32c(std::string_view bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
  }
  return crc ^ 0xFFFFFFFFu;
}

// `body` followed by TargetRecord.checksum (field 14, fixed32: tag 0x75 and
// the CRC-32C of `body`, little-endian).
inline std::string Seal(std::string_view body) {
  std::string out(body);
  const uint32_t crc = Crc32c(body);
  out.push_back(static_cast<char>(0x75));
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  }
  return out;
}

// `record` serialized without its checksum field, then sealed.
inline std::string Reseal(v1::TargetRecord record) {
  record.clear_checksum();
  return Seal(record.SerializeAsString());
}

}  // namespace ballast::state::testing

#endif  // BALLAST_TESTS_UNIT_STATE_RECORD_WIRE_H_
