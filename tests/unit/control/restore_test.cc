// The loop's state as the state store keeps it: Records() of one loop,
// Restore()d into a fresh one (a restart, a new leader), continues every
// window and held value exactly; inputs are matched by name; a record of a
// target whose mode changed is refused and the target starts seeded.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ballast/config/config.h"
#include "ballast/control/control_loop.h"
#include "gtest/gtest.h"

namespace ballast::control {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'800'000'000);

// Answers each poll at once with `values` (one per input of one target).
class ValuesSource : public Source {
 public:
  void Poll(absl::Time now, absl::Duration,
            absl::AnyInvocable<void(PollResult)> done) override {
    TargetReadings r{.target = "t"};
    for (double v : values) r.inputs.emplace_back(v);
    done(PollResult{.time = now, .targets = {r}, .sources = {}});
  }
  std::vector<double> values;
};

class QuietObserver : public Observer {
 public:
  void Log(Severity, absl::string_view, const LogFields&) override {}
  void Ticked(bool) override {}
  void Polled(const PollResult&) override {}
  void Published(const store::TargetState&, std::optional<absl::Time>,
                 absl::Time) override {}
  void Removed(const std::string&) override {}
};

std::shared_ptr<const config::Config> Parse(const std::string& inputs,
                                            const std::string& mode = "") {
  const std::string yaml = absl::StrCat(R"(sources:
  redis: {main: {address: "127.0.0.1:6379"}}
server: {pollIntervalSeconds: 10}
targets:
  - name: t
    minReplicas: 1
    maxReplicas: 100
)",
                                        mode, R"(    behavior:
      scaleUp: {policies: [{type: Pods, value: 100, periodSeconds: 15}]}
      scaleDown: {stabilizationWindowSeconds: 60}
    inputs:
)",
                                        inputs);
  config::ConfigErrors errors;
  std::optional<config::Config> c =
      config::ParseConfig(yaml, "t.yaml", &errors);
  for (const config::ConfigError& e : errors) ADD_FAILURE() << e.ToString();
  return std::make_shared<const config::Config>(*std::move(c));
}

constexpr char kTwoInputs[] =
    "      - {name: a, celery: {source: main, queues: [a]}, averageValue: 10}\n"
    "      - {name: b, celery: {source: main, queues: [b]}, averageValue: 10,"
    " smoothing: {ewmaHalfLifeSeconds: 30}}\n";
constexpr char kSwapped[] =
    "      - {name: b, celery: {source: main, queues: [b]}, averageValue: 10,"
    " smoothing: {ewmaHalfLifeSeconds: 30}}\n"
    "      - {name: a, celery: {source: main, queues: [a]}, averageValue: "
    "10}\n";

// One loop on a fake clock with its own store.
struct Loop {
  explicit Loop(std::shared_ptr<const config::Config> config)
      : source(std::make_shared<ValuesSource>()),
        loop({.history = 5,
              .clock = [this] { return now; },
              .post = [](absl::AnyInvocable<void()> task) { task(); }},
             store, observer) {
    loop.Apply(std::move(config), source);
  }
  // Ticks at kStart + t with `values`; returns the recommendation.
  int32_t Tick(int64_t t, std::vector<double> values) {
    now = kStart + absl::Seconds(t);
    source->values = std::move(values);
    loop.Tick();
    return store.Current()->Find("t")->latest->replicas;
  }

  absl::Time now = kStart;
  store::RecommendationStore store;
  QuietObserver observer;
  std::shared_ptr<ValuesSource> source;
  ControlLoop loop;
};

TEST(RestoreTest, ARestoredLoopContinuesTheWindowsTickByTick) {
  Loop before(Parse(kTwoInputs));
  // Up to 10, then load for 1: the window holds 10 for 60 s.
  EXPECT_EQ(before.Tick(0, {100, 50}), 10);
  EXPECT_EQ(before.Tick(10, {5, 5}), 10);
  EXPECT_EQ(before.Tick(20, {5, 5}), 10);
  std::vector<state::TargetRecord> records = before.loop.Records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].target, "t");
  EXPECT_EQ(records[0].inputs[1].value, 5);

  Loop after(Parse(kTwoInputs));
  EXPECT_TRUE(after.loop.Restore(records).empty());
  after.loop.PublishSnapshot(kStart + absl::Seconds(20), "ballast-0");
  EXPECT_EQ(after.store.Current()->Find("t")->latest->replicas, 10);
  EXPECT_EQ(after.store.Current()->computed_by, "ballast-0");
  EXPECT_EQ(after.store.Current()->time, kStart + absl::Seconds(20));
  // The same inputs from here on: the same answers as the loop that kept
  // running, through the end of the window.
  for (int64_t t = 30; t <= 90; t += 10) {
    const std::vector<double> values = {5, t < 50 ? 5.0 : 30.0};
    EXPECT_EQ(after.Tick(t, values), before.Tick(t, values)) << "t=" << t;
  }
  // The window of the first 10 ended at 60 s; the EWMA of b still counts.
  const store::TargetState* a = after.store.Current()->Find("t");
  const store::TargetState* b = before.store.Current()->Find("t");
  EXPECT_EQ(a->latest->inputs[1].smoothed, b->latest->inputs[1].smoothed);
  EXPECT_EQ(a->recent.size(), b->recent.size());
  EXPECT_EQ(a->replicas_version, b->replicas_version);
}

TEST(RestoreTest, InputsAreMatchedByName) {
  Loop before(Parse(kTwoInputs));
  before.Tick(0, {100, 40});
  Loop after(Parse(kSwapped));
  EXPECT_TRUE(after.loop.Restore(before.loop.Records()).empty());
  const std::vector<state::TargetRecord> restored = after.loop.Records();
  ASSERT_EQ(restored[0].inputs.size(), 2u);
  EXPECT_EQ(restored[0].inputs[0].name, "b");
  EXPECT_EQ(restored[0].inputs[0].value, 40);
  EXPECT_EQ(restored[0].inputs[1].name, "a");
  EXPECT_EQ(restored[0].inputs[1].value, 100);
  // b's EWMA state moved with it.
  EXPECT_EQ(restored[0].history.inputs[0].ewma,
            before.loop.Records()[0].history.inputs[1].ewma);
  EXPECT_TRUE(restored[0].history.inputs[0].ewma.has_value());
}

TEST(RestoreTest, ARecordOfAnotherModeIsRefused) {
  Loop before(Parse(kTwoInputs));
  before.Tick(0, {100, 100});
  Loop after(Parse(kTwoInputs, "    mode: hpa\n"));
  const std::vector<std::string> refused =
      after.loop.Restore(before.loop.Records());
  EXPECT_EQ(refused, std::vector<std::string>{"t"});
  EXPECT_FALSE(after.loop.Records()[0].history.last_recommendation);
}

TEST(RestoreTest, RecordsOfTargetsNotConfiguredAreIgnored) {
  Loop before(Parse(kTwoInputs));
  before.Tick(0, {100, 100});
  std::vector<state::TargetRecord> records = before.loop.Records();
  records[0].target = "other";
  Loop after(Parse(kTwoInputs));
  EXPECT_TRUE(after.loop.Restore(records).empty());
  EXPECT_FALSE(after.loop.Records()[0].history.last_recommendation);
}

}  // namespace
}  // namespace ballast::control
