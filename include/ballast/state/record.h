// ballast/state/record.h
//
// What ballast remembers of one target between ticks, as one versioned
// record: the engine's whole history (windows, scale events, smoothing,
// trend/drain samples, burst, failure counts), the held input values with
// when they were read, the held currentReplicas, and the last
// recommendations the servers answer from. The leader writes one record per
// target after every tick (state/redis_state_store.h); a restarted replica
// or a new leader restores them, and followers serve from them.
//
//   TargetRecord r = loop.Record("asr-worker");
//   std::string bytes = EncodeRecord(r, {.term = 7, .writer = "ballast-0",
//                                        .written_at = now});
//   absl::StatusOr<DecodedRecord> back = DecodeRecord(bytes);
//   // DataLoss: corrupt; FailedPrecondition: a version this build cannot
//   // read. Either way the caller discards it and seeds the target.
//
// The wire form is proto/ballast/state/v1/state.proto (`TargetRecord`),
// versioned by its `version` field (kRecordVersion): new fields may be
// added, a new version is refused, not misread. Times are absl::Time as
// Unix nanoseconds (the monotonic clock reads as a date, core/clock.h), the
// infinite past and future as INT64_MIN and INT64_MAX. A finite time is
// carried to the nanosecond (absl::Time's sub-nanosecond part is dropped,
// rounding down) and stays finite: one beyond the years 1678-2262 that
// int64 nanoseconds reach is clamped to INT64_MIN + 1 or INT64_MAX - 1.
// Names and messages are carried as any bytes, UTF-8 or not.
//
// The record ends with its checksum (`checksum`, CRC-32C of every byte
// before it, as the field's last 5 bytes): protobuf parses a message cut at
// a field boundary as a shorter valid one, so without it a truncated record
// would restore with recommendations, samples or events missing. The
// checksum also catches bytes changed in the store.
#ifndef BALLAST_STATE_RECORD_H_
#define BALLAST_STATE_RECORD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/core/target_spec.h"
#include "ballast/engine/engine.h"
#include "ballast/store/recommendation_store.h"

namespace ballast::state {

inline constexpr uint32_t kRecordVersion = 1;

// Everything the control loop keeps per target between ticks.
struct TargetRecord {
  std::string target;
  Mode mode = Mode::kBallast;  // of the spec that made `history`
  engine::TargetHistory history;
  std::vector<store::InputValue> inputs;  // by name (InputValue::name)
  // Shared with the snapshots that publish it; null before the first tick.
  std::shared_ptr<const engine::Recommendation> latest;
  store::Recent recent;
  uint64_t replicas_version = 0;
  // The last good read of currentReplicas and when it was made.
  std::optional<int32_t> current_replicas;
  absl::Time current_sampled_at = absl::InfinitePast();

  // Compares `latest` by value.
  friend bool operator==(const TargetRecord& a, const TargetRecord& b);
};

// Who wrote a record, and when.
struct RecordMeta {
  uint64_t term = 0;   // the leader's term (fencing)
  std::string writer;  // the leader's identity (pod name)
  absl::Time written_at = absl::InfinitePast();

  bool operator==(const RecordMeta&) const = default;
};

struct DecodedRecord {
  TargetRecord record;
  RecordMeta meta;

  bool operator==(const DecodedRecord&) const = default;
};

// The record's wire form (state.v1.TargetRecord, version kRecordVersion,
// checksum last). Deterministic: the same record and meta give the same
// bytes (within one build), so a writer can skip a write that would change
// nothing. It does not validate: a record DecodeRecord would refuse (an
// empty target, a non-finite value) still encodes.
std::string EncodeRecord(const TargetRecord& record, const RecordMeta& meta);

// The record `bytes` hold, checked in this order:
//   - DataLoss "state record: not a TargetRecord": protobuf cannot parse
//     the bytes, or they have no version (a version 1 writer always writes
//     it; empty bytes are not a record).
//   - FailedPrecondition "state record: version N ...": a version other
//     than kRecordVersion, refused before anything else is read of it.
//   - DataLoss "state record: checksum ...": the bytes do not end with the
//     CRC-32C of what precedes it (truncated or changed).
//   - DataLoss "state record: <field>: ...": an empty target name, a Mode
//     or limit name (engine::LimitName) this build does not know, or a
//     double that is not finite. The engine and the sources only ever hold
//     finite values (a non-finite reading is missing data), so one that is
//     not is corruption, refused rather than fed to the engine.
// Integers are carried as they are (int32 fields are int32 on the wire);
// times as the header says. Never crashes on hostile bytes; what it
// allocates is proportionate to their size.
absl::StatusOr<DecodedRecord> DecodeRecord(std::string_view bytes);

}  // namespace ballast::state

#endif  // BALLAST_STATE_RECORD_H_
