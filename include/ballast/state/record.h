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
// infinite past and future as INT64_MIN and INT64_MAX.
#ifndef BALLAST_STATE_RECORD_H_
#define BALLAST_STATE_RECORD_H_

#include <cstdint>
#include <deque>
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
  std::optional<engine::Recommendation> latest;
  std::deque<engine::Recommendation> recent;  // oldest first
  uint64_t replicas_version = 0;
  // The last good read of currentReplicas and when it was made.
  std::optional<int32_t> current_replicas;
  absl::Time current_sampled_at = absl::InfinitePast();
};

// Who wrote a record, and when.
struct RecordMeta {
  uint64_t term = 0;     // the leader's term (fencing)
  std::string writer;    // the leader's identity (pod name)
  absl::Time written_at = absl::InfinitePast();
};

struct DecodedRecord {
  TargetRecord record;
  RecordMeta meta;
};

// The record's wire form (state.v1.TargetRecord, version kRecordVersion).
std::string EncodeRecord(const TargetRecord& record, const RecordMeta& meta);

// DataLoss: not a TargetRecord (truncated, garbage, a required field
// missing or out of range); FailedPrecondition: version other than
// kRecordVersion. The message says which.
absl::StatusOr<DecodedRecord> DecodeRecord(std::string_view bytes);

}  // namespace ballast::state

#endif  // BALLAST_STATE_RECORD_H_
