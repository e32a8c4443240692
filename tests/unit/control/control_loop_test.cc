// Table-driven timelines for the control loop, without servers or sockets: a
// fake source answers each tick with the step's readings or errors, a fake
// clock gives the step's time, and each step checks what the store received
// (recommendation, held values and their ages, failures, currentReplicas)
// and what the loop logged.
#include "ballast/control/control_loop.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ballast/config/config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::control {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

absl::StatusOr<double> V(double v) { return v; }
absl::StatusOr<double> Down() {
  return absl::UnavailableError("connection refused");
}

// Answers each Poll with the readings set for the next tick: at once
// (inline), or when Finish() is called.
class FakeSource : public Source {
 public:
  void Poll(absl::Time now, absl::Duration budget,
            absl::AnyInvocable<void(control::PollResult)> done) override {
    polls.push_back({now, budget});
    control::PollResult result{.time = now, .targets = next, .sources = {}};
    if (hold) {
      pending = [done = std::move(done), result = std::move(result)]() mutable {
        done(std::move(result));
      };
    } else {
      done(std::move(result));
    }
  }
  void Finish() {
    auto finish = std::move(pending);
    pending = nullptr;
    finish();
  }

  std::vector<control::TargetReadings> next;
  bool hold = false;
  absl::AnyInvocable<void()> pending;
  std::vector<std::pair<absl::Time, absl::Duration>> polls;
};

struct LogLine {
  Severity severity;
  std::string message;
  LogFields fields;
};

class RecordingObserver : public Observer {
 public:
  void Log(Severity severity, absl::string_view message,
           const LogFields& fields) override {
    logs.push_back({severity, std::string(message), fields});
  }
  void Ticked(bool skipped) override { ticks.push_back(skipped); }
  void Polled(const control::PollResult& result) override {
    polled.push_back(result.time);
  }
  void Published(const store::TargetState& state,
                 std::optional<absl::Time> current_sampled_at,
                 absl::Time now) override {
    current_age[state.spec->name] =
        current_sampled_at
            ? std::optional<absl::Duration>(now - *current_sampled_at)
            : std::nullopt;
  }
  void Removed(const std::string& target) override {
    removed.push_back(target);
  }

  std::vector<LogLine> logs;
  std::vector<bool> ticks;
  std::vector<absl::Time> polled;
  std::map<std::string, std::optional<absl::Duration>> current_age;
  std::vector<std::string> removed;
};

std::shared_ptr<const config::Config> Parse(const std::string& yaml) {
  config::ConfigErrors errors;
  std::optional<config::Config> c =
      config::ParseConfig(yaml, "test.yaml", &errors);
  for (const config::ConfigError& e : errors) ADD_FAILURE() << e.ToString();
  EXPECT_TRUE(c.has_value()) << yaml;
  return std::make_shared<const config::Config>(c ? *std::move(c)
                                                  : config::Config{});
}

// A config of `targets` (YAML list items, indented by two) over one Redis
// and one Prometheus source that nothing ever connects to.
std::string Yaml(const std::string& targets) {
  return absl::StrCat(R"(sources:
  redis: {main: {address: "127.0.0.1:6379"}}
  prometheus: {prom: {url: "http://127.0.0.1:9090"}}
server:
  pollIntervalSeconds: 10
targets:
)",
                      targets);
}

// What one target reads in a step (one entry per input, config order).
struct Reads {
  std::vector<absl::StatusOr<double>> inputs;
  std::optional<absl::StatusOr<int32_t>> current;
};

struct WantInput {
  std::string name;
  std::optional<double> value;  // the held value; nullopt: none yet
  int64_t age = 0;              // seconds since it was read (if held)
  int32_t failures = 0;
  std::string error;
};

struct WantTarget {
  int32_t replicas;
  engine::Limit limit;
  std::vector<WantInput> inputs;
  // What the engine was given as the observed count (the recommendation's
  // current_replicas) and the age of the held count (nullopt: none held).
  std::optional<int32_t> current = std::nullopt;
  std::optional<int64_t> current_age = std::nullopt;
};

struct Step {
  int64_t t;  // seconds after kStart
  // Applied (as a reload: Apply, then a snapshot) before the tick.
  std::string reload = "";
  std::map<std::string, Reads> reads;  // by target; config order is used
  // Every target of the snapshot published after the tick.
  std::map<std::string, WantTarget> want;
  // Log lines this step must have written (message, some of its fields).
  std::vector<std::pair<std::string, LogFields>> logs = {};
};

class ControlLoopTest : public ::testing::Test {
 protected:
  ControlLoopTest()
      : loop_({.history = 3,
               .clock = [this] { return now_; },
               .post = [](absl::AnyInvocable<void()> task) { task(); }},
              store_, observer_) {}

  void Apply(const std::string& yaml) {
    config_ = Parse(yaml);
    source_ = std::make_shared<FakeSource>();
    loop_.Apply(config_, source_);
  }

  // Sets what the source answers next, in config order.
  void SetReads(const std::map<std::string, Reads>& reads) {
    source_->next.clear();
    for (const config::TargetConfig& t : config_->targets) {
      control::TargetReadings r{.target = t.spec.name};
      if (auto it = reads.find(t.spec.name); it != reads.end()) {
        r.inputs = it->second.inputs;
        r.current_replicas = it->second.current;
      }
      ASSERT_EQ(r.inputs.size(), t.spec.inputs.size()) << t.spec.name;
      source_->next.push_back(std::move(r));
    }
  }

  void CheckTarget(const store::Snapshot& snapshot, const std::string& name,
                   const WantTarget& want, const std::string& where) {
    const store::TargetState* state = snapshot.Find(name);
    ASSERT_NE(state, nullptr) << where;
    ASSERT_TRUE(state->latest != nullptr) << where;
    EXPECT_EQ(state->latest->replicas, want.replicas) << where;
    EXPECT_EQ(engine::LimitName(state->latest->limited_by),
              engine::LimitName(want.limit))
        << where;
    EXPECT_EQ(state->latest->time, snapshot.time) << where;
    if (want.current) {
      EXPECT_EQ(state->latest->current_replicas, *want.current) << where;
    }
    const std::optional<absl::Duration> current_age =
        observer_.current_age[name];
    EXPECT_EQ(current_age, want.current_age
                               ? std::optional<absl::Duration>(
                                     absl::Seconds(*want.current_age))
                               : std::nullopt)
        << where;
    ASSERT_EQ(state->inputs.size(), want.inputs.size()) << where;
    for (size_t i = 0; i < want.inputs.size(); ++i) {
      const store::InputValue& got = state->inputs[i];
      const WantInput& w = want.inputs[i];
      const std::string at = absl::StrCat(where, " input ", w.name);
      EXPECT_EQ(got.name, w.name) << at;
      EXPECT_EQ(got.value, w.value) << at;
      if (w.value) {
        EXPECT_EQ(snapshot.time - got.sampled_at, absl::Seconds(w.age)) << at;
      } else {
        EXPECT_EQ(got.sampled_at, absl::InfinitePast()) << at;
      }
      EXPECT_EQ(got.consecutive_failures, w.failures) << at;
      EXPECT_EQ(got.error, w.error) << at;
    }
  }

  // Runs `steps` in order through one loop and checks every tick.
  void RunTimeline(const std::vector<Step>& steps) {
    for (const Step& s : steps) {
      const std::string where = absl::StrCat("at t=", s.t);
      now_ = kStart + absl::Seconds(s.t);
      observer_.logs.clear();
      if (!s.reload.empty()) {
        Apply(s.reload);
        loop_.PublishSnapshot();
      }
      SetReads(s.reads);
      const uint64_t before = store_.Current()->generation;
      loop_.Tick();
      std::shared_ptr<const store::Snapshot> snapshot = store_.Current();
      ASSERT_EQ(snapshot->generation, before + 1) << where;
      EXPECT_EQ(snapshot->time, now_) << where;
      EXPECT_EQ(source_->polls.back().first, now_) << where;
      // 90 % of pollIntervalSeconds.
      EXPECT_EQ(source_->polls.back().second, absl::Seconds(9)) << where;
      std::vector<std::string> names;
      for (const auto& [name, state] : snapshot->targets) names.push_back(name);
      std::vector<std::string> want_names;
      for (const auto& [name, want] : s.want) want_names.push_back(name);
      EXPECT_EQ(names, want_names) << where;
      for (const auto& [name, want] : s.want) {
        CheckTarget(*snapshot, name, want, absl::StrCat(where, " ", name));
      }
      for (const auto& [message, fields] : s.logs) {
        bool found = false;
        for (const LogLine& line : observer_.logs) {
          if (line.message != message) continue;
          found = true;
          for (const auto& field : fields) {
            EXPECT_THAT(line.fields, ::testing::Contains(field))
                << where << ": " << message;
          }
        }
        EXPECT_TRUE(found) << where << ": no log line \"" << message << "\"";
      }
    }
  }

  absl::Time now_ = kStart;
  store::RecommendationStore store_;
  RecordingObserver observer_;
  ControlLoop loop_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<FakeSource> source_;
};

// asr: 3 messages per replica, from 2; fallback to 6 after more than two
// failed polls; scale-down not stabilized, so that a recovery shows at once.
const std::string kAsr = R"(  - name: asr
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: 3}
    behavior: {scaleDown: {stabilizationWindowSeconds: 0}}
    fallback: {failureThreshold: 2, replicas: 6}
)";

// One tick of asr (kAsr): its backlog read as `read`, and what the snapshot
// must hold (`held` the backlog value, `age` and `failures` since the last
// good read, with the refused error while there are failures).
Step AsrStep(int64_t t, absl::StatusOr<double> read, int32_t replicas,
             engine::Limit limit, double held, int64_t age = 0,
             int32_t failures = 0,
             std::vector<std::pair<std::string, LogFields>> logs = {}) {
  return {.t = t,
          .reads = {{"asr", {.inputs = {std::move(read)}}}},
          .want = {{"asr",
                    {.replicas = replicas,
                     .limit = limit,
                     .inputs = {{.name = "backlog",
                                 .value = held,
                                 .age = age,
                                 .failures = failures,
                                 .error = failures > 0 ? "connection refused"
                                                       : ""}}}}},
          .logs = std::move(logs)};
}

TEST_F(ControlLoopTest, OutageHoldsTheValueWithItsAgeThenFallsBackAndRecovers) {
  Apply(Yaml(kAsr));
  const std::string refused = "connection refused";
  RunTimeline({
      AsrStep(0, V(12), 4, engine::Limit::kNone, 12, 0, 0,
              {{"recommendation",
                {{"target", "asr"},
                 {"replicas", "4"},
                 {"previous", "none"},
                 {"limited_by", "none"}}}}),
      // While the source answers, each read carries its own time.
      AsrStep(10, V(12), 4, engine::Limit::kNone, 12),
      // Down: the held 12 (never a zero), its age growing from the last
      // good read, the recommendation held; missing data is what limits.
      AsrStep(20, Down(), 4, engine::Limit::kMissingData, 12, 10, 1,
              {{"input read failed; holding its last value",
                {{"target", "asr"},
                 {"input", "backlog"},
                 {"error", refused},
                 {"failures", "1"}}}}),
      AsrStep(
          30, Down(), 4, engine::Limit::kMissingData, 12, 20, 2,
          {{"input read failed; holding its last value", {{"failures", "2"}}}}),
      // A third failure passes failureThreshold: fallback.replicas.
      AsrStep(40, Down(), 6, engine::Limit::kFallback, 12, 30, 3,
              {{"recommendation",
                {{"replicas", "6"},
                 {"previous", "4"},
                 {"limited_by", "fallback"}}}}),
      // Back: read again, age 0, failures and error cleared.
      AsrStep(50, V(5), 2, engine::Limit::kNone, 5),
  });
  EXPECT_THAT(observer_.ticks,
              ElementsAre(false, false, false, false, false, false));
  EXPECT_EQ(observer_.polled.size(), 6u);
}

// One tick of gw: 30 rps read (3 replicas, never limited), its current
// count read as `read`; the count the engine was given (`current`, unchecked
// when nullopt) and the held count's age (`age`, nullopt: none held).
Step GwStep(int64_t t, absl::StatusOr<int32_t> read,
            std::optional<int32_t> current, std::optional<int64_t> age,
            std::vector<std::pair<std::string, LogFields>> logs = {}) {
  return {.t = t,
          .reads = {{"gw", {.inputs = {V(30)}, .current = std::move(read)}}},
          .want = {{"gw",
                    {.replicas = 3,
                     .limit = engine::Limit::kNone,
                     .inputs = {{.name = "rps", .value = 30}},
                     .current = current,
                     .current_age = age}}},
          .logs = std::move(logs)};
}

TEST_F(ControlLoopTest, HoldsCurrentReplicasThroughAFailedRead) {
  Apply(Yaml(R"(  - name: gw
    maxReplicas: 20
    currentReplicas: {prometheus: {source: prom, query: replicas}}
    inputs:
      - {name: rps, prometheus: {source: prom, query: rps}, averageValue: 10}
)"));
  const absl::StatusOr<int32_t> down =
      absl::DeadlineExceededError("prometheus timed out");
  Step reloaded =
      GwStep(50, down, std::nullopt, std::nullopt,
             {{"current replicas unreadable; assuming ballast's last "
               "recommendation",
               {{"target", "gw"}}}});
  reloaded.reload = Yaml(R"(  - name: gw
    maxReplicas: 20
    currentReplicas: {prometheus: {source: prom, query: replicas_v2}}
    inputs:
      - {name: rps, prometheus: {source: prom, query: rps}, averageValue: 10}
)");
  RunTimeline({
      // Nothing read yet: the engine assumes ballast's own count (the
      // initial one, minReplicas).
      GwStep(0, down, 1, std::nullopt,
             {{"current replicas unreadable; assuming ballast's last "
               "recommendation",
               {{"target", "gw"},
                {"kind", "deadline_exceeded"},
                {"error", "prometheus timed out"}}}}),
      GwStep(10, 3, 3, 0),
      // A failed read: the last good count, with its age.
      GwStep(20, down, 3, 10,
             {{"current replicas unreadable; holding the last good count",
               {{"target", "gw"},
                {"replicas", "3"},
                {"age_seconds", "10"},
                {"kind", "deadline_exceeded"}}}}),
      GwStep(30, down, 3, 20,
             {{"current replicas unreadable; holding the last good count",
               {{"age_seconds", "20"}}}}),
      GwStep(40, 5, 5, 0),
      // A reload holds no count: it may now come from elsewhere.
      reloaded,
  });
}

TEST_F(ControlLoopTest, ReloadAddsRemovesAndChangesTargetsAndRemapsInputs) {
  // asr's backlog: the largest of the last minute, so that its window shows
  // whether the reload kept it; no scaling limits in the way.
  // `first_inputs` (YAML list items) go before the backlog, at `per_replica`.
  auto asr_yaml = [](const std::string& first_inputs, int per_replica) {
    return absl::StrCat(R"(  - name: asr
    maxReplicas: 40
    currentReplicas: {static: 2}
    inputs:
)",
                        first_inputs, R"(      - name: backlog
        celery: {source: main, queues: [asr]}
        averageValue: )",
                        per_replica, R"(
        smoothing: {quantile: 1.0, windowSeconds: 60}
    behavior:
      scaleUp: {policies: [{type: Percent, value: 1000, periodSeconds: 1}]}
      scaleDown: {stabilizationWindowSeconds: 0}
)");
  };
  const std::string asr = asr_yaml("", 3);
  const std::string tts = R"(  - name: tts
    maxReplicas: 10
    inputs:
      - {name: backlog, celery: {source: main, queues: [tts]}, averageValue: 5}
)";
  // asr changed: a new input first, backlog second at 2 per replica; tts
  // gone; ocr new.
  const std::string asr2 = asr_yaml(
      "      - {name: priority, celery: {source: main, queues: [asr.hi]}, "
      "averageValue: 1}\n",
      2);
  const std::string ocr = R"(  - name: ocr
    maxReplicas: 10
    inputs:
      - {name: pages, celery: {source: main, queues: [ocr]}, averageValue: 4}
)";
  Apply(Yaml(asr + tts));
  RunTimeline({
      {.t = 0,
       .reads = {{"asr", {.inputs = {V(30)}}}, {"tts", {.inputs = {V(10)}}}},
       .want = {{"asr",
                 {.replicas = 10,
                  .limit = engine::Limit::kNone,
                  .inputs = {{.name = "backlog", .value = 30}}}},
                {"tts",
                 {.replicas = 2,
                  .limit = engine::Limit::kNone,
                  .inputs = {{.name = "backlog", .value = 10}}}}}},
  });
  EXPECT_EQ(store_.Current()->config_generation, 1u);

  // The reload's own snapshot: tts gone, ocr not yet ticked, asr's backlog
  // held under its name at its new place with its age.
  now_ = kStart + absl::Seconds(10);
  Apply(Yaml(asr2 + ocr));
  loop_.PublishSnapshot();
  EXPECT_THAT(observer_.removed, ElementsAre("tts"));
  {
    std::shared_ptr<const store::Snapshot> s = store_.Current();
    EXPECT_EQ(s->config_generation, 2u);
    EXPECT_EQ(s->time, now_);
    ASSERT_EQ(s->targets.size(), 2u);
    const store::TargetState* a = s->Find("asr");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->inputs.size(), 2u);
    EXPECT_EQ(a->inputs[0].name, "priority");
    EXPECT_EQ(a->inputs[0].value, std::nullopt);
    EXPECT_EQ(a->inputs[1].name, "backlog");
    EXPECT_EQ(a->inputs[1].value, 30);
    EXPECT_EQ(a->inputs[1].sampled_at, kStart);
    ASSERT_TRUE(a->latest != nullptr);
    EXPECT_EQ(a->latest->replicas, 10);
    EXPECT_EQ(a->spec->inputs[1].target, 2);
    const store::TargetState* o = s->Find("ocr");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->latest, nullptr);
    EXPECT_EQ(o->inputs.size(), 1u);
    EXPECT_EQ(o->inputs[0].name, "pages");
  }

  // asr reads priority 4 and backlog 3, ocr 8 pages (2 replicas).
  auto after_reload = [](int64_t t, int32_t asr_replicas) -> Step {
    return {.t = t,
            .reads = {{"asr", {.inputs = {V(4), V(3)}}},
                      {"ocr", {.inputs = {V(8)}}}},
            .want = {{"asr",
                      {.replicas = asr_replicas,
                       .limit = engine::Limit::kNone,
                       .inputs = {{.name = "priority", .value = 4},
                                  {.name = "backlog", .value = 3}}}},
                     {"ocr",
                      {.replicas = 2,
                       .limit = engine::Limit::kNone,
                       .inputs = {{.name = "pages", .value = 8}}}}}};
  };
  RunTimeline({
      // backlog's window kept its 30 through the reload: 30 / 2 = 15 (a new
      // window would give ceil(3 / 2) = 2); priority 4 / 1 = 4.
      after_reload(20, 15),
      // Past the window, the 30 is gone.
      after_reload(70, 4),
  });
  EXPECT_EQ(store_.Current()->config_generation, 2u);
}

TEST_F(ControlLoopTest, HeldValuesAndHistorySurviveARemovedInputAndTarget) {
  const std::string two = R"(  - name: asr
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: a, celery: {source: main, queues: [a]}, averageValue: 3}
      - {name: b, celery: {source: main, queues: [b]}, averageValue: 3}
)";
  const std::string one = R"(  - name: asr
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: b, celery: {source: main, queues: [b]}, averageValue: 3}
)";
  Apply(Yaml(two));
  RunTimeline({
      {.t = 0,
       .reads = {{"asr", {.inputs = {V(3), Down()}}}},
       .want = {{"asr",
                 {.replicas = 2,
                  .limit = engine::Limit::kMissingData,
                  .inputs = {{.name = "a", .value = 3},
                             {.name = "b",
                              .value = std::nullopt,
                              .failures = 1,
                              .error = "connection refused"}}}}}},
      // a removed: b keeps its failure count and error.
      {.t = 10,
       .reload = Yaml(one),
       .reads = {{"asr", {.inputs = {Down()}}}},
       .want = {{"asr",
                 {.replicas = 2,
                  .limit = engine::Limit::kMissingData,
                  .inputs = {{.name = "b",
                              .value = std::nullopt,
                              .failures = 2,
                              .error = "connection refused"}}}}}},
      // The target removed and added back starts afresh.
      {.t = 20,
       .reload = Yaml(kAsr),
       .reads = {{"asr", {.inputs = {V(12)}}}},
       .want = {{"asr",
                 {.replicas = 4,
                  .limit = engine::Limit::kNone,
                  .inputs = {{.name = "backlog", .value = 12}}}}}},
  });
}

TEST_F(ControlLoopTest, SnapshotKeepsTheLastRecommendationsAndCountsChanges) {
  Apply(Yaml(kAsr));
  const std::vector<double> backlog = {12, 12, 15, 15, 6};
  std::vector<uint64_t> versions;
  for (size_t i = 0; i < backlog.size(); ++i) {
    now_ = kStart + absl::Seconds(10 * static_cast<int64_t>(i));
    SetReads({{"asr", {.inputs = {V(backlog[i])}}}});
    loop_.Tick();
    versions.push_back(store_.Current()->Find("asr")->replicas_version);
  }
  // 4, 4, 5, 5, 2: a new version only when the count changes.
  EXPECT_THAT(versions, ElementsAre(1, 1, 2, 2, 3));
  const store::TargetState* asr = store_.Current()->Find("asr");
  const std::vector<store::PastRecommendation> recent =
      asr->recent.OldestFirst();
  ASSERT_EQ(recent.size(), 3u);  // history = 3
  EXPECT_EQ(recent[0].replicas, 5);
  EXPECT_EQ(recent[0].time, kStart + absl::Seconds(20));
  EXPECT_EQ(recent[1].replicas, 5);
  EXPECT_EQ(recent[2].replicas, 2);
  EXPECT_EQ(recent[2].time, kStart + absl::Seconds(40));
  EXPECT_EQ(asr->latest->time, recent[2].time);
  EXPECT_EQ(asr->name(), "asr");
  EXPECT_EQ(store_.Current()->generation, 5u);
  EXPECT_EQ(store_.Current()->config_generation, 1u);
}

TEST_F(ControlLoopTest, SkipsATickWhilePollingAndDropsAPollFromBeforeAReload) {
  Apply(Yaml(kAsr));
  source_->hold = true;
  SetReads({{"asr", {.inputs = {V(12)}}}});
  loop_.Tick();
  EXPECT_TRUE(loop_.polling());
  now_ += absl::Seconds(10);
  loop_.Tick();  // the first poll still runs
  EXPECT_THAT(observer_.ticks, ElementsAre(false, true));
  ASSERT_EQ(observer_.logs.size(), 1u);
  EXPECT_EQ(observer_.logs[0].message,
            "previous poll still running; tick skipped");
  EXPECT_EQ(observer_.logs[0].severity, Severity::kWarn);
  EXPECT_EQ(source_->polls.size(), 1u);
  EXPECT_EQ(store_.Current()->generation, 0u);

  source_->Finish();
  EXPECT_FALSE(loop_.polling());
  ASSERT_EQ(store_.Current()->generation, 1u);
  // The engine ran at the time the poll was made at, the snapshot is of now.
  EXPECT_EQ(store_.Current()->Find("asr")->latest->time, kStart);
  EXPECT_EQ(store_.Current()->time, now_);

  // A poll that ends after a reload is dropped; the old source lives until
  // it has answered.
  loop_.Tick();
  std::weak_ptr<FakeSource> old = source_;
  std::shared_ptr<FakeSource> old_source = source_;
  Apply(Yaml(kAsr));
  EXPECT_TRUE(loop_.polling());
  old_source->Finish();
  old_source.reset();
  EXPECT_TRUE(old.expired());
  EXPECT_FALSE(loop_.polling());
  EXPECT_EQ(store_.Current()->generation, 1u);
  EXPECT_EQ(observer_.polled.size(), 1u);

  // After Stop, no poll starts and a running one is dropped.
  source_->hold = true;
  SetReads({{"asr", {.inputs = {V(12)}}}});
  loop_.Tick();
  loop_.Stop();
  source_->Finish();
  loop_.Tick();
  EXPECT_EQ(source_->polls.size(), 1u);
  EXPECT_EQ(store_.Current()->generation, 1u);
  EXPECT_THAT(observer_.removed, IsEmpty());
}

}  // namespace
}  // namespace ballast::control
