#include "ballast/state/record.h"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/state/v1/state.pb.h"
#include "google/protobuf/arena.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/repeated_field.h"

namespace ballast::state {
namespace {

namespace pb = ::ballast::state::v1;

constexpr int64_t kMinNanos = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxNanos = std::numeric_limits<int64_t>::max();

// The trailer: TargetRecord.checksum (field 14, fixed32) as its tag byte
// and the value, little-endian.
constexpr char kChecksumTag = (14 << 3) | 5;
constexpr size_t kTrailerSize = 5;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), a byte at a time:
// records are a few kilobytes.
constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int bit = 0; bit < 8; ++bit) c = (c >> 1) ^ (c & 1 ? 0x82F63B78u : 0);
    table[i] = c;
  }
  return table;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

uint32_t Crc32cTable(uint32_t crc, std::string_view bytes) {
  for (const char ch : bytes) {
    crc = (crc >> 8) ^ kCrcTable[(crc ^ static_cast<unsigned char>(ch)) & 0xFF];
  }
  return crc;
}

#if defined(__x86_64__)
// SSE 4.2's CRC32 instruction computes CRC-32C: 8 bytes a step instead of
// one table lookup a byte (a record of 1 KB: ~0.1 µs instead of ~1.5 µs).
__attribute__((target("sse4.2"))) uint32_t Crc32cSse42(uint32_t crc,
                                                       std::string_view bytes) {
  const char* p = bytes.data();
  size_t n = bytes.size();
  uint64_t c = crc;
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = __builtin_ia32_crc32di(c, word);
  }
  crc = static_cast<uint32_t>(c);
  for (; n > 0; ++p, --n) {
    crc = __builtin_ia32_crc32qi(crc, static_cast<unsigned char>(*p));
  }
  return crc;
}
#endif

uint32_t Crc32c(std::string_view bytes) {
#if defined(__x86_64__)
  static const bool kHardware = __builtin_cpu_supports("sse4.2");
  if (kHardware) return ~Crc32cSse42(0xFFFFFFFFu, bytes);
#endif
  return ~Crc32cTable(0xFFFFFFFFu, bytes);
}

// ---- Encoding ----

// Put and Get are overloaded per message; declared here for PutEach and
// GetEach, which call them for the elements of repeated fields.
void Put(const engine::InputState& in, pb::InputState& out);
void Put(const store::InputValue& in, pb::InputValue& out);
void Put(const engine::InputExplanation& in, pb::InputExplanation& out);
void Put(const engine::Recommendation& in, pb::Recommendation& out);
void Put(const store::PastRecommendation& in, pb::PastRecommendation& out);
absl::StatusOr<engine::InputState> Get(const pb::InputState& in);
absl::StatusOr<store::InputValue> Get(const pb::InputValue& in);
absl::StatusOr<engine::InputExplanation> Get(const pb::InputExplanation& in);
absl::StatusOr<engine::Recommendation> Get(const pb::Recommendation& in);

int64_t TimeToWire(absl::Time t) {
  if (t == absl::InfinitePast()) return kMinNanos;
  if (t == absl::InfiniteFuture()) return kMaxNanos;
  // absl::ToUnixNanos saturates a finite time out of range to INT64_MIN or
  // INT64_MAX, which would read back as infinite.
  return std::clamp(absl::ToUnixNanos(t), kMinNanos + 1, kMaxNanos - 1);
}

void Put(const engine::TimedReplicas& in, pb::TimedReplicas& out) {
  out.set_time(TimeToWire(in.time));
  out.set_replicas(in.replicas);
}

void Put(const std::pair<absl::Time, double>& in, pb::TimedValue& out) {
  out.set_time(TimeToWire(in.first));
  out.set_value(in.second);
}

void Put(const engine::RawSample& in, pb::RawSample& out) {
  out.set_time(TimeToWire(in.time));
  out.set_value(in.value);
  out.set_ready(in.ready);
}

void Put(const engine::HpaScaleEvent& in, pb::HpaScaleEvent& out) {
  out.set_time(TimeToWire(in.time));
  out.set_replicas(in.replicas);
  out.set_outdated(in.outdated);
}

template <typename Container, typename PbMessage>
void PutEach(const Container& in,
             google::protobuf::RepeatedPtrField<PbMessage>& out) {
  out.Reserve(static_cast<int>(in.size()));
  for (const auto& x : in) Put(x, *out.Add());
}

void Put(const engine::InputState& in, pb::InputState& out) {
  if (in.ewma) out.set_ewma(*in.ewma);
  out.set_ewma_time(TimeToWire(in.ewma_time));
  PutEach(in.window, *out.mutable_window());
  out.set_consecutive_failures(in.consecutive_failures);
  PutEach(in.raw, *out.mutable_raw());
  PutEach(in.drain_rates, *out.mutable_drain_rates());
  if (in.throughput) out.set_throughput(*in.throughput);
}

void Put(const engine::HpaState& in, pb::HpaState& out) {
  PutEach(in.recommendations, *out.mutable_recommendations());
  PutEach(in.scale_up_events, *out.mutable_scale_up_events());
  PutEach(in.scale_down_events, *out.mutable_scale_down_events());
}

void Put(const engine::TargetHistory& in, pb::TargetHistory& out) {
  if (in.last_recommendation) {
    out.set_last_recommendation(*in.last_recommendation);
  }
  PutEach(in.proposals, *out.mutable_proposals());
  PutEach(in.scale_up_events, *out.mutable_scale_up_events());
  PutEach(in.scale_down_events, *out.mutable_scale_down_events());
  PutEach(in.inputs, *out.mutable_inputs());
  if (in.burst_triggered) {
    out.set_burst_triggered(TimeToWire(*in.burst_triggered));
  }
  out.set_burst_peak(in.burst_peak);
  Put(in.hpa, *out.mutable_hpa());
}

void Put(const store::InputValue& in, pb::InputValue& out) {
  out.set_name(in.name);
  if (in.value) out.set_value(*in.value);
  out.set_sampled_at(TimeToWire(in.sampled_at));
  out.set_error(in.error);
  out.set_consecutive_failures(in.consecutive_failures);
}

void Put(const engine::InputExplanation& in, pb::InputExplanation& out) {
  out.set_name(in.name);
  if (in.raw) out.set_raw(*in.raw);
  if (in.smoothed) out.set_smoothed(*in.smoothed);
  if (in.proposal) out.set_proposal(*in.proposal);
  if (in.untolerated_proposal) {
    out.set_untolerated_proposal(*in.untolerated_proposal);
  }
  out.set_within_tolerance(in.within_tolerance);
  out.set_fallback(in.fallback);
  if (in.predicted) out.set_predicted(*in.predicted);
  out.set_trend(in.trend);
  if (in.throughput) out.set_throughput(*in.throughput);
  out.set_drain(in.drain);
  if (in.active) out.set_active(*in.active);
  out.set_consecutive_failures(in.consecutive_failures);
  out.set_error(in.error);
}

// A Recommendation or a PastRecommendation: the fields they share.
template <typename PbMessage>
void PutDecision(const store::PastRecommendation& in, PbMessage& out) {
  out.set_time(TimeToWire(in.time));
  out.set_current_replicas(in.current_replicas);
  out.set_desired(in.desired);
  out.set_replicas(in.replicas);
  out.set_limited_by(std::string(engine::LimitName(in.limited_by)));
  out.set_burst(in.burst);
}

void Put(const store::PastRecommendation& in, pb::PastRecommendation& out) {
  PutDecision(in, out);
}

void Put(const engine::Recommendation& in, pb::Recommendation& out) {
  PutDecision(store::PastRecommendation::Of(in), out);
  PutEach(in.inputs, *out.mutable_inputs());
}

pb::Mode ModeToWire(Mode mode) {
  switch (mode) {
    case Mode::kBallast:
      return pb::MODE_BALLAST;
    case Mode::kHpa:
      return pb::MODE_HPA;
  }
  // Not a Mode: written as a value no reader accepts.
  return static_cast<pb::Mode>(-1);
}

// ---- Decoding ----
//
// Each Get returns the engine's value or a DataLoss naming the offending
// field, relative to the message it decodes; GetEach prefixes the field
// and index, DecodeRecord "state record: ".

absl::Time TimeFromWire(int64_t nanos) {
  if (nanos == kMinNanos) return absl::InfinitePast();
  if (nanos == kMaxNanos) return absl::InfiniteFuture();
  return absl::FromUnixNanos(nanos);
}

absl::Status Within(absl::string_view field, const absl::Status& status) {
  if (status.ok()) return status;
  return absl::DataLossError(absl::StrCat(field, ".", status.message()));
}

absl::StatusOr<double> Finite(absl::string_view field, double value) {
  if (!std::isfinite(value)) {
    return absl::DataLossError(
        absl::StrCat(field, ": ", value, " is not a finite number"));
  }
  return value;
}

absl::StatusOr<std::optional<double>> FiniteIfSet(absl::string_view field,
                                                  bool has, double value) {
  if (!has) return std::nullopt;
  absl::StatusOr<double> v = Finite(field, value);
  if (!v.ok()) return v.status();
  return std::optional<double>(*v);
}

absl::StatusOr<engine::TimedReplicas> Get(const pb::TimedReplicas& in) {
  return engine::TimedReplicas{.time = TimeFromWire(in.time()),
                               .replicas = in.replicas()};
}

absl::StatusOr<std::pair<absl::Time, double>> Get(const pb::TimedValue& in) {
  absl::StatusOr<double> value = Finite("value", in.value());
  if (!value.ok()) return value.status();
  return std::pair<absl::Time, double>(TimeFromWire(in.time()), *value);
}

absl::StatusOr<engine::RawSample> Get(const pb::RawSample& in) {
  absl::StatusOr<double> value = Finite("value", in.value());
  if (!value.ok()) return value.status();
  return engine::RawSample{
      .time = TimeFromWire(in.time()), .value = *value, .ready = in.ready()};
}

absl::StatusOr<engine::HpaScaleEvent> Get(const pb::HpaScaleEvent& in) {
  return engine::HpaScaleEvent{.time = TimeFromWire(in.time()),
                               .replicas = in.replicas(),
                               .outdated = in.outdated()};
}

// Appends each of `in`, decoded, to `out` (a std::vector or core::RingDeque).
template <typename PbMessage, typename Container>
absl::Status GetEach(absl::string_view field,
                     const google::protobuf::RepeatedPtrField<PbMessage>& in,
                     Container& out) {
  if constexpr (requires { out.reserve(size_t{0}); }) {
    out.reserve(static_cast<size_t>(in.size()));
  }
  for (int i = 0; i < in.size(); ++i) {
    auto x = Get(in.Get(i));
    if (!x.ok()) {
      return absl::DataLossError(
          absl::StrCat(field, "[", i, "].", x.status().message()));
    }
    out.push_back(*std::move(x));
  }
  return absl::OkStatus();
}

absl::StatusOr<engine::InputState> Get(const pb::InputState& in) {
  engine::InputState out;
  absl::StatusOr<std::optional<double>> ewma =
      FiniteIfSet("ewma", in.has_ewma(), in.ewma());
  if (!ewma.ok()) return ewma.status();
  out.ewma = *ewma;
  out.ewma_time = TimeFromWire(in.ewma_time());
  if (absl::Status s = GetEach("window", in.window(), out.window); !s.ok()) {
    return s;
  }
  out.consecutive_failures = in.consecutive_failures();
  if (absl::Status s = GetEach("raw", in.raw(), out.raw); !s.ok()) return s;
  if (absl::Status s =
          GetEach("drain_rates", in.drain_rates(), out.drain_rates);
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::optional<double>> throughput =
      FiniteIfSet("throughput", in.has_throughput(), in.throughput());
  if (!throughput.ok()) return throughput.status();
  out.throughput = *throughput;
  return out;
}

absl::StatusOr<engine::HpaState> Get(const pb::HpaState& in) {
  engine::HpaState out;
  if (absl::Status s =
          GetEach("recommendations", in.recommendations(), out.recommendations);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          GetEach("scale_up_events", in.scale_up_events(), out.scale_up_events);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = GetEach("scale_down_events", in.scale_down_events(),
                               out.scale_down_events);
      !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<engine::TargetHistory> Get(const pb::TargetHistory& in) {
  engine::TargetHistory out;
  if (in.has_last_recommendation()) {
    out.last_recommendation = in.last_recommendation();
  }
  if (absl::Status s = GetEach("proposals", in.proposals(), out.proposals);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          GetEach("scale_up_events", in.scale_up_events(), out.scale_up_events);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = GetEach("scale_down_events", in.scale_down_events(),
                               out.scale_down_events);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = GetEach("inputs", in.inputs(), out.inputs); !s.ok()) {
    return s;
  }
  if (in.has_burst_triggered()) {
    out.burst_triggered = TimeFromWire(in.burst_triggered());
  }
  out.burst_peak = in.burst_peak();
  absl::StatusOr<engine::HpaState> hpa = Get(in.hpa());
  if (!hpa.ok()) return Within("hpa", hpa.status());
  out.hpa = *std::move(hpa);
  return out;
}

absl::StatusOr<store::InputValue> Get(const pb::InputValue& in) {
  absl::StatusOr<std::optional<double>> value =
      FiniteIfSet("value", in.has_value(), in.value());
  if (!value.ok()) return value.status();
  return store::InputValue{.name = in.name(),
                           .value = *value,
                           .sampled_at = TimeFromWire(in.sampled_at()),
                           .error = in.error(),
                           .consecutive_failures = in.consecutive_failures()};
}

absl::StatusOr<engine::InputExplanation> Get(const pb::InputExplanation& in) {
  engine::InputExplanation out;
  out.name = in.name();
  absl::StatusOr<std::optional<double>> raw =
      FiniteIfSet("raw", in.has_raw(), in.raw());
  if (!raw.ok()) return raw.status();
  out.raw = *raw;
  absl::StatusOr<std::optional<double>> smoothed =
      FiniteIfSet("smoothed", in.has_smoothed(), in.smoothed());
  if (!smoothed.ok()) return smoothed.status();
  out.smoothed = *smoothed;
  if (in.has_proposal()) out.proposal = in.proposal();
  if (in.has_untolerated_proposal()) {
    out.untolerated_proposal = in.untolerated_proposal();
  }
  out.within_tolerance = in.within_tolerance();
  out.fallback = in.fallback();
  absl::StatusOr<std::optional<double>> predicted =
      FiniteIfSet("predicted", in.has_predicted(), in.predicted());
  if (!predicted.ok()) return predicted.status();
  out.predicted = *predicted;
  out.trend = in.trend();
  absl::StatusOr<std::optional<double>> throughput =
      FiniteIfSet("throughput", in.has_throughput(), in.throughput());
  if (!throughput.ok()) return throughput.status();
  out.throughput = *throughput;
  out.drain = in.drain();
  if (in.has_active()) out.active = in.active();
  out.consecutive_failures = in.consecutive_failures();
  out.error = in.error();
  return out;
}

absl::StatusOr<engine::Limit> GetLimit(const std::string& name) {
  const std::optional<engine::Limit> limit = engine::ParseLimitName(name);
  if (!limit) {
    return absl::DataLossError(
        absl::StrCat("limited_by: \"", absl::CHexEscape(name),
                     "\" is not a limit this build knows"));
  }
  return *limit;
}

absl::StatusOr<store::PastRecommendation> GetPast(
    const pb::PastRecommendation& in) {
  absl::StatusOr<engine::Limit> limit = GetLimit(in.limited_by());
  if (!limit.ok()) return limit.status();
  return store::PastRecommendation{.time = TimeFromWire(in.time()),
                                   .current_replicas = in.current_replicas(),
                                   .desired = in.desired(),
                                   .replicas = in.replicas(),
                                   .limited_by = *limit,
                                   .burst = in.burst()};
}

absl::StatusOr<engine::Recommendation> Get(const pb::Recommendation& in) {
  engine::Recommendation out;
  out.time = TimeFromWire(in.time());
  out.current_replicas = in.current_replicas();
  out.desired = in.desired();
  out.replicas = in.replicas();
  absl::StatusOr<engine::Limit> limit = GetLimit(in.limited_by());
  if (!limit.ok()) return limit.status();
  out.limited_by = *limit;
  out.burst = in.burst();
  if (absl::Status s = GetEach("inputs", in.inputs(), out.inputs); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<Mode> ModeFromWire(int mode) {
  switch (mode) {
    case pb::MODE_BALLAST:
      return Mode::kBallast;
    case pb::MODE_HPA:
      return Mode::kHpa;
    default:
      return absl::DataLossError(
          absl::StrCat("mode: ", mode, " is not a mode this build knows"));
  }
}

absl::StatusOr<DecodedRecord> Get(const pb::TargetRecord& in) {
  DecodedRecord out;
  TargetRecord& r = out.record;
  if (in.target().empty()) return absl::DataLossError("target: empty");
  r.target = in.target();
  absl::StatusOr<Mode> mode = ModeFromWire(static_cast<int>(in.mode()));
  if (!mode.ok()) return mode.status();
  r.mode = *mode;
  out.meta = RecordMeta{.term = in.term(),
                        .writer = in.writer(),
                        .written_at = TimeFromWire(in.written_at())};
  absl::StatusOr<engine::TargetHistory> history = Get(in.history());
  if (!history.ok()) return Within("history", history.status());
  r.history = *std::move(history);
  if (absl::Status s = GetEach("inputs", in.inputs(), r.inputs); !s.ok()) {
    return s;
  }
  if (in.has_latest()) {
    absl::StatusOr<engine::Recommendation> latest = Get(in.latest());
    if (!latest.ok()) return Within("latest", latest.status());
    r.latest =
        std::make_shared<const engine::Recommendation>(*std::move(latest));
  }
  for (int i = 0; i < in.recent_size(); ++i) {
    absl::StatusOr<store::PastRecommendation> past = GetPast(in.recent(i));
    if (!past.ok()) {
      return absl::DataLossError(
          absl::StrCat("recent[", i, "].", past.status().message()));
    }
    r.recent.Push(*past, static_cast<size_t>(in.recent_size()));
  }
  r.replicas_version = in.replicas_version();
  if (in.has_current_replicas()) r.current_replicas = in.current_replicas();
  r.current_sampled_at = TimeFromWire(in.current_sampled_at());
  return out;
}

uint32_t LoadLittleEndian32(std::string_view bytes) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    v |= uint32_t{static_cast<unsigned char>(bytes[i])} << (8 * i);
  }
  return v;
}

}  // namespace

bool operator==(const TargetRecord& a, const TargetRecord& b) {
  const bool same_latest =
      a.latest == b.latest || (a.latest && b.latest && *a.latest == *b.latest);
  return same_latest && a.target == b.target && a.mode == b.mode &&
         a.history == b.history && a.inputs == b.inputs &&
         a.recent == b.recent && a.replicas_version == b.replicas_version &&
         a.current_replicas == b.current_replicas &&
         a.current_sampled_at == b.current_sampled_at;
}

std::string EncodeRecord(const TargetRecord& record, const RecordMeta& meta) {
  // The message's parts come from one arena block (a record is ~1 KB):
  // one allocation, not one per sub-message and string.
  alignas(8) char block[8192];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = block;
  arena_options.initial_block_size = sizeof block;
  google::protobuf::Arena arena(arena_options);
  pb::TargetRecord& out =
      *google::protobuf::Arena::CreateMessage<pb::TargetRecord>(&arena);
  out.set_version(kRecordVersion);
  out.set_target(record.target);
  out.set_mode(ModeToWire(record.mode));
  out.set_term(meta.term);
  out.set_writer(meta.writer);
  out.set_written_at(TimeToWire(meta.written_at));
  Put(record.history, *out.mutable_history());
  PutEach(record.inputs, *out.mutable_inputs());
  if (record.latest) Put(*record.latest, *out.mutable_latest());
  PutEach(record.recent.OldestFirst(), *out.mutable_recent());
  out.set_replicas_version(record.replicas_version);
  if (record.current_replicas) {
    out.set_current_replicas(*record.current_replicas);
  }
  out.set_current_sampled_at(TimeToWire(record.current_sampled_at));

  std::string bytes;
  bytes.reserve(out.ByteSizeLong() + 5);
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    // No maps today, so this changes nothing yet; it keeps the promise
    // (same record, same bytes) if one is added.
    coded.SetSerializationDeterministic(true);
    out.SerializeToCodedStream(&coded);
  }
  const uint32_t crc = Crc32c(bytes);
  bytes.push_back(kChecksumTag);
  for (int i = 0; i < 4; ++i) {
    bytes.push_back(static_cast<char>((crc >> (8 * i)) & 0xFF));
  }
  return bytes;
}

absl::StatusOr<DecodedRecord> DecodeRecord(std::string_view bytes) {
  alignas(8) char block[8192];
  google::protobuf::ArenaOptions arena_options;
  arena_options.initial_block = block;
  arena_options.initial_block_size = sizeof block;
  google::protobuf::Arena arena(arena_options);
  pb::TargetRecord& in =
      *google::protobuf::Arena::CreateMessage<pb::TargetRecord>(&arena);
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !in.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat(
        "state record: not a TargetRecord (", bytes.size(),
        " bytes that do not parse as ballast.state.v1.TargetRecord)"));
  }
  if (in.version() == 0) {
    return absl::DataLossError(
        absl::StrCat("state record: not a TargetRecord (", bytes.size(),
                     " bytes without a version)"));
  }
  if (in.version() != kRecordVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("state record: version ", in.version(),
                     ", this build reads version ", kRecordVersion, " only"));
  }
  if (bytes.size() < kTrailerSize ||
      bytes[bytes.size() - kTrailerSize] != kChecksumTag) {
    return absl::DataLossError(
        "state record: checksum missing from its end (truncated?)");
  }
  const std::string_view body = bytes.substr(0, bytes.size() - kTrailerSize);
  const uint32_t want = LoadLittleEndian32(bytes.substr(body.size() + 1));
  const uint32_t got = Crc32c(body);
  if (got != want) {
    return absl::DataLossError(absl::StrCat(
        "state record: checksum mismatch (truncated or changed): the ",
        body.size(), " bytes before it hash to ",
        absl::Hex(got, absl::kZeroPad8), ", the record says ",
        absl::Hex(want, absl::kZeroPad8)));
  }
  absl::StatusOr<DecodedRecord> out = Get(in);
  if (!out.ok()) {
    return absl::DataLossError(
        absl::StrCat("state record: ", out.status().message()));
  }
  return out;
}

}  // namespace ballast::state
