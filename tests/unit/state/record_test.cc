// The state record's codec (state/record.h): every field through a round
// trip, the checks DecodeRecord makes in their order (parse, version,
// checksum, contents), and the wire form's promises (deterministic bytes,
// the checksum trailer, fields a newer writer adds are skipped).
#include "ballast/state/record.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ballast/state/v1/state.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "gtest/gtest.h"
#include "unit/state/record_wire.h"

namespace ballast::state {
namespace {

using engine::HpaScaleEvent;
using engine::InputExplanation;
using engine::InputState;
using engine::Limit;
using engine::RawSample;
using engine::Recommendation;
using engine::TimedReplicas;
using ::testing::HasSubstr;

constexpr int64_t kMinNanos = std::numeric_limits<int64_t>::min();
constexpr int64_t kMaxNanos = std::numeric_limits<int64_t>::max();

// A time with a nanosecond part, `s` seconds after a base in 2027.
absl::Time T(int64_t s, int64_t ns = 0) {
  return absl::FromUnixSeconds(1'800'000'000 + s) + absl::Nanoseconds(ns);
}

InputExplanation Explanation(std::string name, int k) {
  return {.name = std::move(name),
          .raw = 100.5 + k,
          .smoothed = 90.25 + k,
          .proposal = 7 + k,
          .untolerated_proposal = 8 + k,
          .within_tolerance = true,
          .fallback = true,
          .predicted = 130.75 + k,
          .trend = true,
          .throughput = 2.5 + k,
          .drain = true,
          .active = k % 2 == 0,
          .consecutive_failures = 3 + k,
          .error = "poll failed " + std::to_string(k)};
}

Recommendation Rec(int64_t s, int k, Limit limit) {
  return {.time = T(s, k + 1),
          .current_replicas = 4 + k,
          .desired = 9 + k,
          .replicas = 6 + k,
          .limited_by = limit,
          .burst = true,
          .inputs = {Explanation("backlog", k),
                     Explanation("latency", k + 10),
                     // Only a name and an error: the optionals stay unset.
                     {.name = "down", .error = "connection refused"}}};
}

InputState FullInputState(int k) {
  return {
      .ewma = 41.5 + k,
      .ewma_time = T(-5, 7),
      .window = {{T(-30, 1), 1.5 + k}, {T(-15), -2.25}, {T(0, 999), 1e-300}},
      .consecutive_failures = 2 + k,
      .raw = {{.time = T(-60, 3), .value = 12.0 + k, .ready = 3},
              {.time = T(-45), .value = 1.7976931348623157e308, .ready = 5}},
      .drain_rates = {{T(-40, 11), 0.125 + k}, {T(-20), 0.5}},
      .throughput = 0.75 + k};
}

// Every field of every struct set, none to its default, each to a value of
// its own (so that a field carried into another's slot shows).
TargetRecord FullRecord() {
  TargetRecord r;
  r.target = "asr-worker";
  r.mode = Mode::kHpa;
  engine::TargetHistory& h = r.history;
  h.last_recommendation = 11;
  h.proposals = {{.time = T(-90, 5), .replicas = 12},
                 {.time = absl::InfinitePast(), .replicas = 13}};
  h.scale_up_events = {{.time = T(-80), .replicas = 2},
                       {.time = T(-70, 1), .replicas = 4}};
  h.scale_down_events = {{.time = T(-60, 2), .replicas = 1},
                         {.time = absl::InfiniteFuture(), .replicas = 3}};
  h.inputs = {FullInputState(0), FullInputState(100), InputState{}};
  h.burst_triggered = T(-50, 9);
  h.burst_peak = 17;
  h.hpa.recommendations = {{.time = T(-100, 4), .replicas = 5},
                           {.time = T(-95), .replicas = 6}};
  h.hpa.scale_up_events = {{.time = T(-85, 6), .replicas = 3, .outdated = true},
                           {.time = T(-84), .replicas = 2, .outdated = false}};
  h.hpa.scale_down_events = {
      {.time = T(-83), .replicas = 1, .outdated = false},
      {.time = absl::InfinitePast(), .replicas = 4, .outdated = true}};
  r.inputs = {{.name = "backlog",
               .value = 321.5,
               .sampled_at = T(-1, 8),
               .error = "timeout",
               .consecutive_failures = 2},
              // Never read: no value, the infinite past.
              {.name = "latency",
               .sampled_at = absl::InfinitePast(),
               .error = "connection refused",
               .consecutive_failures = 9}};
  r.latest = std::make_shared<const Recommendation>(
      Rec(0, 0, Limit::kScaleDownStabilization));
  for (const Recommendation& past :
       {Rec(-30, 1, Limit::kTrend), Rec(-15, 2, Limit::kMaxReplicas),
        *r.latest}) {
    r.recent.Push(store::PastRecommendation::Of(past), 20);
  }
  r.replicas_version = 42;
  r.current_replicas = 6;
  r.current_sampled_at = T(-2, 123);
  return r;
}

RecordMeta FullMeta() {
  return {.term = 7, .writer = "ballast-0", .written_at = T(1, 456)};
}

// Fails the test unless `bytes` decode; returns what they decode to.
DecodedRecord MustDecode(std::string_view bytes) {
  absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : DecodedRecord{};
}

v1::TargetRecord Wire(const std::string& bytes) {
  v1::TargetRecord m;
  EXPECT_TRUE(m.ParseFromString(bytes));
  return m;
}

// If a struct gains a field, its line here stops compiling: carry the new
// field in state.proto and record.cc, set it in FullRecord, then add its
// name here.
TEST(StateRecord, KnowsEveryFieldOfTheStructsItCarries) {
  TargetRecord r = FullRecord();
  [[maybe_unused]] auto& [t, mode, history, inputs, latest, recent,
                          replicas_version, current, sampled_at] = r;
  [[maybe_unused]] auto& [last, proposals, up, down, history_inputs, burst,
                          peak, hpa] = r.history;
  [[maybe_unused]] auto& [ewma, ewma_time, window, failures, raw, drain,
                          throughput] = r.history.inputs[0];
  [[maybe_unused]] auto& [hpa_recs, hpa_up, hpa_down] = r.history.hpa;
  [[maybe_unused]] auto& [e_time, e_replicas, e_outdated] =
      r.history.hpa.scale_up_events[0];
  [[maybe_unused]] auto& [tr_time, tr_replicas] = r.history.proposals[0];
  [[maybe_unused]] auto& [rs_time, rs_value, rs_ready] =
      r.history.inputs[0].raw[0];
  [[maybe_unused]] auto& [v_name, v_value, v_at, v_error, v_failures] =
      r.inputs[0];
  [[maybe_unused]] auto& [r_time, r_current, r_desired, r_replicas, r_limit,
                          r_burst, r_inputs] = *r.latest;
  [[maybe_unused]] auto& [x_name, x_raw, x_smoothed, x_proposal, x_untolerated,
                          x_within, x_fallback, x_predicted, x_trend,
                          x_throughput, x_drain, x_active, x_failures,
                          x_error] = r.latest->inputs[0];
  RecordMeta meta = FullMeta();
  [[maybe_unused]] auto& [term, writer, written_at] = meta;
}

TEST(StateRecord, RoundTripsEveryField) {
  const TargetRecord r = FullRecord();
  const RecordMeta meta = FullMeta();
  const DecodedRecord back = MustDecode(EncodeRecord(r, meta));
  // Part by part first, so that a failure says where.
  EXPECT_EQ(back.meta, meta);
  EXPECT_EQ(back.record.target, r.target);
  EXPECT_EQ(back.record.mode, r.mode);
  EXPECT_EQ(back.record.history.last_recommendation,
            r.history.last_recommendation);
  EXPECT_EQ(back.record.history.proposals, r.history.proposals);
  EXPECT_EQ(back.record.history.scale_up_events, r.history.scale_up_events);
  EXPECT_EQ(back.record.history.scale_down_events, r.history.scale_down_events);
  ASSERT_EQ(back.record.history.inputs.size(), r.history.inputs.size());
  for (size_t i = 0; i < r.history.inputs.size(); ++i) {
    const InputState& got = back.record.history.inputs[i];
    const InputState& want = r.history.inputs[i];
    EXPECT_EQ(got.ewma, want.ewma) << i;
    EXPECT_EQ(got.ewma_time, want.ewma_time) << i;
    EXPECT_EQ(got.window, want.window) << i;
    EXPECT_EQ(got.consecutive_failures, want.consecutive_failures) << i;
    EXPECT_EQ(got.raw, want.raw) << i;
    EXPECT_EQ(got.drain_rates, want.drain_rates) << i;
    EXPECT_EQ(got.throughput, want.throughput) << i;
  }
  EXPECT_EQ(back.record.history.burst_triggered, r.history.burst_triggered);
  EXPECT_EQ(back.record.history.burst_peak, r.history.burst_peak);
  EXPECT_EQ(back.record.history.hpa, r.history.hpa);
  EXPECT_EQ(back.record.inputs, r.inputs);
  ASSERT_NE(back.record.latest, nullptr);
  EXPECT_EQ(back.record.latest->inputs, r.latest->inputs);
  EXPECT_EQ(*back.record.latest, *r.latest);
  EXPECT_EQ(back.record.recent.size(), 3u);
  EXPECT_EQ(back.record.recent, r.recent);
  EXPECT_EQ(back.record.replicas_version, r.replicas_version);
  EXPECT_EQ(back.record.current_replicas, r.current_replicas);
  EXPECT_EQ(back.record.current_sampled_at, r.current_sampled_at);
  // And as a whole (the defaulted operator== of every struct).
  EXPECT_EQ(back, (DecodedRecord{r, meta}));
}

// Every field path of `descriptor` (message fields recursed into).
void AllPaths(const google::protobuf::Descriptor& descriptor,
              const std::string& prefix, std::set<std::string>& out) {
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const google::protobuf::FieldDescriptor& f = *descriptor.field(i);
    const std::string path = prefix + f.name();
    out.insert(path);
    if (f.message_type() != nullptr)
      AllPaths(*f.message_type(), path + ".", out);
  }
}

// The paths set (to a value other than the default) in `m` or in any
// element of its repeated fields.
void SetPaths(const google::protobuf::Message& m, const std::string& prefix,
              std::set<std::string>& out) {
  const google::protobuf::Reflection& reflection = *m.GetReflection();
  const google::protobuf::Descriptor& descriptor = *m.GetDescriptor();
  for (int i = 0; i < descriptor.field_count(); ++i) {
    const google::protobuf::FieldDescriptor* f = descriptor.field(i);
    const std::string path = prefix + f->name();
    if (f->is_repeated()) {
      const int n = reflection.FieldSize(m, f);
      if (n > 0) out.insert(path);
      if (f->message_type() == nullptr) continue;
      for (int j = 0; j < n; ++j) {
        SetPaths(reflection.GetRepeatedMessage(m, f, j), path + ".", out);
      }
    } else if (reflection.HasField(m, f)) {
      out.insert(path);
      if (f->message_type() != nullptr) {
        SetPaths(reflection.GetMessage(m, f), path + ".", out);
      }
    }
  }
}

// The encoder forgets no field: in the full record's bytes, every field of
// the schema (the checksum included) is set somewhere.
TEST(StateRecord, FullRecordSetsEveryWireField) {
  const v1::TargetRecord m = Wire(EncodeRecord(FullRecord(), FullMeta()));
  std::set<std::string> all;
  AllPaths(*v1::TargetRecord::descriptor(), "", all);
  std::set<std::string> set;
  SetPaths(m, "", set);
  std::vector<std::string> missing;
  std::set_difference(all.begin(), all.end(), set.begin(), set.end(),
                      std::back_inserter(missing));
  EXPECT_THAT(missing, ::testing::IsEmpty());
  EXPECT_EQ(m.version(), kRecordVersion);
  EXPECT_EQ(m.history().proposals(1).time(), kMinNanos);
  EXPECT_EQ(m.history().scale_down_events(1).time(), kMaxNanos);
  EXPECT_EQ(m.recent(1).limited_by(), "maxReplicas");
  EXPECT_EQ(m.mode(), v1::MODE_HPA);
}

TEST(StateRecord, RoundTripsADefaultRecord) {
  const TargetRecord r{.target = "t"};
  const DecodedRecord back = MustDecode(EncodeRecord(r, RecordMeta{}));
  EXPECT_EQ(back.record, r);
  EXPECT_EQ(back.meta, RecordMeta{});
  EXPECT_EQ(back.record.latest, nullptr);
  EXPECT_FALSE(back.record.current_replicas.has_value());
  EXPECT_EQ(back.record.current_sampled_at, absl::InfinitePast());
  EXPECT_EQ(back.meta.written_at, absl::InfinitePast());
}

TEST(StateRecord, KeepsOptionalsUnsetAndZeroesApart) {
  TargetRecord r{.target = "t"};
  r.history.last_recommendation = 0;
  r.history.burst_triggered = absl::UnixEpoch();
  r.history.inputs.push_back({.ewma = 0.0, .throughput = -0.0});
  r.history.inputs.push_back({});
  r.current_replicas = 0;
  r.inputs.push_back({.name = "a", .value = 0.0});
  Recommendation rec;
  rec.inputs.push_back({.raw = 0.0, .proposal = 0});
  rec.inputs.push_back({});
  r.latest = std::make_shared<const Recommendation>(rec);
  const DecodedRecord back = MustDecode(EncodeRecord(r, {}));
  EXPECT_EQ(back.record, r);
  EXPECT_TRUE(std::signbit(*back.record.history.inputs[0].throughput));
  EXPECT_FALSE(back.record.history.inputs[1].ewma.has_value());
  EXPECT_FALSE(back.record.latest->inputs[1].raw.has_value());
  EXPECT_FALSE(back.record.latest->inputs[1].proposal.has_value());
}

// Error messages are what sources answered, names what the config said:
// any bytes (state.proto carries text as `bytes`).
TEST(StateRecord, CarriesTextThatIsNotUtf8) {
  constexpr char kOdd[] = "\xff\xfe bad \xc3\x28 \0 end";
  const std::string odd(kOdd, sizeof kOdd - 1);
  TargetRecord r = FullRecord();
  r.target = odd;
  r.inputs[0].name = odd;
  r.inputs[0].error = odd;
  Recommendation latest = *r.latest;
  latest.inputs[0].name = odd;
  latest.inputs[0].error = odd;
  r.latest = std::make_shared<const Recommendation>(std::move(latest));
  RecordMeta meta = FullMeta();
  meta.writer = odd;
  EXPECT_EQ(MustDecode(EncodeRecord(r, meta)), (DecodedRecord{r, meta}));
}

TEST(StateRecord, CarriesTimesToTheNanosecond) {
  struct Case {
    absl::Time in;
    absl::Time want;
  };
  const Case cases[] = {
      {absl::InfinitePast(), absl::InfinitePast()},
      {absl::InfiniteFuture(), absl::InfiniteFuture()},
      {absl::UnixEpoch(), absl::UnixEpoch()},
      {absl::FromUnixNanos(-1), absl::FromUnixNanos(-1)},
      {absl::FromUnixNanos(kMinNanos + 1), absl::FromUnixNanos(kMinNanos + 1)},
      {absl::FromUnixNanos(kMaxNanos - 1), absl::FromUnixNanos(kMaxNanos - 1)},
      // Sub-nanosecond parts round down.
      {absl::FromUnixNanos(5) + absl::Nanoseconds(0.75),
       absl::FromUnixNanos(5)},
      {absl::FromUnixNanos(-5) - absl::Nanoseconds(0.25),
       absl::FromUnixNanos(-6)},
      // Finite beyond int64 nanoseconds (years 1678-2262): clamped, and
      // still finite. INT64_MIN and INT64_MAX themselves are the infinite.
      {absl::FromUnixNanos(kMaxNanos), absl::FromUnixNanos(kMaxNanos - 1)},
      {absl::FromUnixNanos(kMinNanos), absl::FromUnixNanos(kMinNanos + 1)},
      {absl::FromUnixSeconds(int64_t{1} << 40),
       absl::FromUnixNanos(kMaxNanos - 1)},
      {absl::FromUnixSeconds(-(int64_t{1} << 40)),
       absl::FromUnixNanos(kMinNanos + 1)},
  };
  for (const Case& c : cases) {
    TargetRecord r{.target = "t", .current_sampled_at = c.in};
    r.history.burst_triggered = c.in;
    const DecodedRecord back =
        MustDecode(EncodeRecord(r, {.written_at = c.in}));
    EXPECT_EQ(back.record.current_sampled_at, c.want) << c.in;
    EXPECT_EQ(back.record.history.burst_triggered, c.want) << c.in;
    EXPECT_EQ(back.meta.written_at, c.want) << c.in;
  }
}

TEST(StateRecord, EncodesDeterministically) {
  const std::string a = EncodeRecord(FullRecord(), FullMeta());
  const std::string b = EncodeRecord(FullRecord(), FullMeta());
  EXPECT_EQ(a, b);
  // What decodes encodes back to the same bytes.
  const DecodedRecord d = MustDecode(a);
  EXPECT_EQ(EncodeRecord(d.record, d.meta), a);
  // Any change changes them.
  TargetRecord r = FullRecord();
  ++r.replicas_version;
  EXPECT_NE(EncodeRecord(r, FullMeta()), a);
  RecordMeta meta = FullMeta();
  meta.written_at += absl::Nanoseconds(1);
  EXPECT_NE(EncodeRecord(FullRecord(), meta), a);
}

TEST(StateRecord, EndsWithTheChecksumOfWhatPrecedesIt) {
  EXPECT_EQ(testing::Crc32c("123456789"), 0xE3069283u);
  const std::string bytes = EncodeRecord(FullRecord(), FullMeta());
  ASSERT_GT(bytes.size(), 5u);
  const std::string_view body(bytes.data(), bytes.size() - 5);
  EXPECT_EQ(testing::Seal(body), bytes);
  EXPECT_EQ(Wire(bytes).checksum(), testing::Crc32c(body));
}

// Every length (the encoder's CRC takes 8 bytes a step and the rest one by
// one) against the test's own bytewise CRC-32C.
TEST(StateRecord, ChecksumsAgreeForEveryLength) {
  for (size_t n = 1; n <= 40; ++n) {
    const std::string bytes =
        EncodeRecord(TargetRecord{.target = std::string(n, 'x')}, {});
    const std::string_view body(bytes.data(), bytes.size() - 5);
    EXPECT_EQ(Wire(bytes).checksum(), testing::Crc32c(body)) << n;
  }
}

TEST(StateRecord, RefusesGarbage) {
  const std::string cases[] = {
      std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11),
      "hello, world", "{\"target\": \"asr-worker\", \"version\": 1}",
      std::string("\x08\x01\x12\xff\x01", 5),  // version 1, a string too long
  };
  for (const std::string& bytes : cases) {
    const absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << bytes;
    EXPECT_THAT(d.status().message(),
                HasSubstr("state record: not a TargetRecord"));
  }
  // No bytes, or a message without a version, is not a record either.
  for (const std::string& bytes :
       {std::string(), testing::Seal(""), std::string("\x12\x01x", 3)}) {
    const absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
    EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(d.status().message(), HasSubstr("without a version"));
  }
}

// Protobuf parses a message cut at a field boundary as a shorter one: the
// checksum is what refuses the prefixes.
TEST(StateRecord, RefusesEveryTruncation) {
  const std::string bytes = EncodeRecord(FullRecord(), FullMeta());
  int parse_as_protobuf = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    const std::string_view prefix(bytes.data(), n);
    v1::TargetRecord m;
    if (m.ParseFromArray(prefix.data(), static_cast<int>(n))) {
      ++parse_as_protobuf;
    }
    const absl::StatusOr<DecodedRecord> d = DecodeRecord(prefix);
    ASSERT_EQ(d.status().code(), absl::StatusCode::kDataLoss)
        << n << " of " << bytes.size() << ": " << d.status();
  }
  EXPECT_GT(parse_as_protobuf, 10);
}

TEST(StateRecord, RefusesEveryFlippedBit) {
  const std::string bytes = EncodeRecord(FullRecord(), FullMeta());
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = bytes;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      ASSERT_FALSE(DecodeRecord(flipped).ok()) << i << " bit " << bit;
    }
  }
}

TEST(StateRecord, RefusesAChangedChecksum) {
  std::string bytes = EncodeRecord(FullRecord(), FullMeta());
  bytes.back() = static_cast<char>(bytes.back() ^ 0x80);
  const absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(d.status().message(), HasSubstr("checksum mismatch"));
  // The body without a trailer.
  v1::TargetRecord m = Wire(EncodeRecord(FullRecord(), FullMeta()));
  m.clear_checksum();
  const absl::StatusOr<DecodedRecord> bare =
      DecodeRecord(m.SerializeAsString());
  EXPECT_EQ(bare.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bare.status().message(), HasSubstr("checksum missing"));
}

TEST(StateRecord, RefusesAnotherVersion) {
  v1::TargetRecord m = Wire(EncodeRecord(FullRecord(), FullMeta()));
  for (uint32_t version : {2u, 3u, 0xFFFFFFFFu}) {
    m.set_version(version);
    // Sealed or not: the version is read before the checksum.
    for (const std::string& bytes :
         {testing::Reseal(m), m.SerializeAsString()}) {
      const absl::StatusOr<DecodedRecord> d = DecodeRecord(bytes);
      EXPECT_EQ(d.status().code(), absl::StatusCode::kFailedPrecondition);
      EXPECT_THAT(d.status().message(), HasSubstr("state record: version " +
                                                  std::to_string(version)));
    }
  }
}

// Fields a newer writer adds in version 1 are skipped (state.proto: only
// add fields).
TEST(StateRecord, SkipsFieldsItDoesNotKnow) {
  const std::string bytes = EncodeRecord(FullRecord(), FullMeta());
  std::string body = bytes.substr(0, bytes.size() - 5);
  body += std::string("\xa0\x06\x2a", 3);     // field 100, varint 42
  body += std::string("\xaa\x06\x03xyz", 6);  // field 101, "xyz"
  const DecodedRecord d = MustDecode(testing::Seal(body));
  EXPECT_EQ(d, (DecodedRecord{FullRecord(), FullMeta()}));
}

// `edit` applied to the full record's wire form, resealed, must be refused
// as DataLoss naming `where`.
void ExpectRefused(void (*edit)(v1::TargetRecord&), std::string_view where) {
  v1::TargetRecord m = Wire(EncodeRecord(FullRecord(), FullMeta()));
  edit(m);
  const absl::StatusOr<DecodedRecord> d = DecodeRecord(testing::Reseal(m));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss) << where;
  EXPECT_THAT(d.status().message(),
              HasSubstr("state record: " + std::string(where)));
}

TEST(StateRecord, RefusesAnEmptyTarget) {
  ExpectRefused([](v1::TargetRecord& m) { m.clear_target(); }, "target");
  const absl::StatusOr<DecodedRecord> d =
      DecodeRecord(EncodeRecord(TargetRecord{}, RecordMeta{}));
  EXPECT_EQ(d.status().code(), absl::StatusCode::kDataLoss);
}

TEST(StateRecord, RefusesAnUnknownMode) {
  ExpectRefused(
      [](v1::TargetRecord& m) { m.set_mode(static_cast<v1::Mode>(2)); },
      "mode: 2");
  ExpectRefused(
      [](v1::TargetRecord& m) { m.set_mode(static_cast<v1::Mode>(-1)); },
      "mode: -1");
}

TEST(StateRecord, RefusesAnUnknownLimitName) {
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_latest()->set_limited_by("scaleSidewaysPolicy");
      },
      "latest.limited_by: \"scaleSidewaysPolicy\"");
  ExpectRefused(
      [](v1::TargetRecord& m) { m.mutable_recent(2)->set_limited_by(""); },
      "recent[2].limited_by");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_recent(0)->set_limited_by("Trend");  // names are exact
      },
      "recent[0].limited_by");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_recent(1)->set_limited_by(std::string("trend\0\xff", 7));
      },
      "recent[1].limited_by: \"trend\\x00\\xff\"");
}

TEST(StateRecord, RefusesNonFiniteValues) {
  constexpr double kNan = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_history()->mutable_inputs(1)->mutable_window(2)->set_value(
            kNan);
      },
      "history.inputs[1].window[2].value: nan");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_history()->mutable_inputs(0)->set_ewma(kInf);
      },
      "history.inputs[0].ewma: inf");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_history()->mutable_inputs(0)->mutable_raw(1)->set_value(
            -kInf);
      },
      "history.inputs[0].raw[1].value: -inf");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_history()
            ->mutable_inputs(0)
            ->mutable_drain_rates(0)
            ->set_value(kNan);
      },
      "history.inputs[0].drain_rates[0].value");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_history()->mutable_inputs(1)->set_throughput(kNan);
      },
      "history.inputs[1].throughput");
  ExpectRefused(
      [](v1::TargetRecord& m) { m.mutable_inputs(0)->set_value(kInf); },
      "inputs[0].value");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_latest()->mutable_inputs(1)->set_raw(kNan);
      },
      "latest.inputs[1].raw");
  ExpectRefused(
      [](v1::TargetRecord& m) {
        m.mutable_latest()->mutable_inputs(0)->set_throughput(kInf);
      },
      "latest.inputs[0].throughput");
}

// The fuzz seeds (fuzz/corpus/state_record_fuzz) are records this test
// encodes; they must stay records this build reads. With
// BALLAST_STATE_SEEDS=DIR set, writes them into DIR first:
//   BALLAST_STATE_SEEDS=fuzz/corpus/state_record_fuzz
//   build/tests/state_test --gtest_filter='StateRecordSeeds.*'
TEST(StateRecordSeeds, DecodeAsWritten) {
  TargetRecord ballast{.target = "tts", .mode = Mode::kBallast};
  ballast.history.inputs.push_back(FullInputState(1));
  ballast.latest =
      std::make_shared<const Recommendation>(Rec(0, 3, Limit::kBurst));
  ballast.recent.Push(store::PastRecommendation::Of(*ballast.latest), 20);
  const std::pair<std::string, std::string> seeds[] = {
      {"full", EncodeRecord(FullRecord(), FullMeta())},
      {"minimal", EncodeRecord(TargetRecord{.target = "t"}, RecordMeta{})},
      {"ballast-mode", EncodeRecord(ballast, {.term = 1, .writer = "b"})},
  };
  const std::filesystem::path dir = std::filesystem::path(BALLAST_SOURCE_DIR) /
                                    "fuzz/corpus/state_record_fuzz";
  if (const char* out = std::getenv("BALLAST_STATE_SEEDS")) {
    for (const auto& [name, bytes] : seeds) {
      std::ofstream(std::filesystem::path(out) / name, std::ios::binary)
          << bytes;
    }
  }
  for (const auto& [name, bytes] : seeds) {
    std::ifstream in(dir / name, std::ios::binary);
    ASSERT_TRUE(in) << dir / name;
    const std::string committed((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
    EXPECT_TRUE(DecodeRecord(committed).ok()) << name;
  }
}

}  // namespace
}  // namespace ballast::state
