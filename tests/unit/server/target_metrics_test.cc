#include "ballast/server/target_metrics.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace ballast::server {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1000);
// An input name that needs every escape of the text format.
const char kOddInput[] = "we\"ird\\name\n";

std::shared_ptr<const TargetSpec> Spec(const std::string& name) {
  auto spec = std::make_shared<TargetSpec>();
  spec->name = name;
  return spec;
}

// "asr-worker" at 4 (maxReplicas) with a fresh backlog and a failing "load"
// held from 10 s ago; "tts-api" not ticked yet, its only input failing and
// held from 7 s ago.
store::Snapshot MakeSnapshot() {
  store::Snapshot s;
  s.generation = 5;
  s.time = kNow;
  store::TargetState& asr = s.targets["asr-worker"];
  asr.spec = Spec("asr-worker");
  asr.inputs = {
      {.name = "backlog", .value = 12, .sampled_at = kNow - absl::Seconds(2.5)},
      {.name = "load",
       .value = 1.0 / 3,
       .sampled_at = kNow - absl::Seconds(10),
       .error = "timeout",
       .consecutive_failures = 2},
      {.name = kOddInput, .value = 0.1, .sampled_at = kNow}};
  asr.latest = std::make_shared<const engine::Recommendation>(
      engine::Recommendation{.time = kNow,
                             .current_replicas = 3,
                             .desired = 5,
                             .replicas = 4,
                             .limited_by = engine::Limit::kMaxReplicas});
  store::TargetState& tts = s.targets["tts-api"];
  tts.spec = Spec("tts-api");
  tts.inputs = {
      {.name = "q",
       .value = 1e20,
       .sampled_at = kNow - absl::Seconds(7),
       .error = "refused",
       .consecutive_failures = 1},
      {.name = "never", .error = "refused", .consecutive_failures = 1}};
  return s;
}

std::string Render(TargetMetrics detail,
                   const CurrentReplicasTimes* current = nullptr) {
  std::string out;
  AppendTargetMetrics(MakeSnapshot(),
                      {.detail = detail, .current_replicas = current}, out);
  return out;
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

TEST(TargetMetrics, SummaryIsTheRecommendationAndTheActiveLimit) {
  const std::string body = Render(TargetMetrics::kSummary);
  const size_t per_target = body.find("# HELP ballast_recommended_replicas");
  ASSERT_NE(per_target, std::string::npos) << body;
  EXPECT_EQ(body.substr(per_target),
            "# HELP ballast_recommended_replicas The replica count ballast "
            "recommends\n"
            "# TYPE ballast_recommended_replicas gauge\n"
            "ballast_recommended_replicas{target=\"asr-worker\"} 4\n"
            "# HELP ballast_limited_by 1, with the reason that limited the "
            "latest recommendation\n"
            "# TYPE ballast_limited_by gauge\n"
            "ballast_limited_by{reason=\"maxReplicas\",target=\"asr-worker\"} "
            "1\n");
}

TEST(TargetMetrics, FleetCountsAreInEveryMode) {
  CurrentReplicasTimes current;
  current.Set("asr-worker", kNow - absl::Seconds(3));
  current.Set("tts-api", kNow - absl::Seconds(1));
  for (TargetMetrics detail :
       {TargetMetrics::kNone, TargetMetrics::kSummary, TargetMetrics::kFull}) {
    const std::vector<std::string> lines = Lines(Render(detail, &current));
    EXPECT_THAT(lines,
                IsSupersetOf({
                    "ballast_targets 2",
                    "ballast_targets_limited_by{reason=\"maxReplicas\"} 1",
                    "ballast_targets_limited_by{reason=\"none\"} 0",
                    "ballast_targets_limited_by{reason=\"activation\"} 0",
                    // Both: "load" and "q" failed at the latest read.
                    "ballast_targets_with_failing_input 2",
                    // "load", held from 10 s ago ("never" has no value).
                    "ballast_input_age_max_seconds 10",
                    "ballast_current_replicas_age_max_seconds 3",
                }));
    int reasons = 0;
    for (const std::string& line : lines) {
      if (line.starts_with("ballast_targets_limited_by{")) ++reasons;
    }
    EXPECT_EQ(reasons, 15);
  }
  const std::string none = Render(TargetMetrics::kNone, &current);
  EXPECT_THAT(none, Not(HasSubstr("target=")));
  EXPECT_THAT(none, Not(HasSubstr("ballast_recommended_replicas")));
}

TEST(TargetMetrics, CurrentReplicaAgesFollowWhatIsHeld) {
  CurrentReplicasTimes current;
  current.Set("asr-worker", kNow - absl::Seconds(4));
  EXPECT_THAT(Lines(Render(TargetMetrics::kFull, &current)),
              Contains("ballast_current_replicas_age_seconds{target=\"asr-"
                       "worker\"} 4"));
  // No count held (a reload, or currentReplicas unreadable since start):
  // no series, and no fleet maximum.
  current.Set("asr-worker", std::nullopt);
  std::string body = Render(TargetMetrics::kFull, &current);
  EXPECT_THAT(body, Not(HasSubstr("ballast_current_replicas_age_seconds{")));
  EXPECT_THAT(body,
              Not(HasSubstr("\nballast_current_replicas_age_max_seconds ")));
  current.Set("asr-worker", kNow - absl::Seconds(1));
  current.Forget("asr-worker");
  EXPECT_EQ(current.Find("asr-worker"), std::nullopt);
}

// The series that stay are byte for byte what prometheus-cpp's gauges wrote
// (names, HELP, TYPE, label order, escapes, number format).
TEST(TargetMetrics, FullWritesWhatTheGaugesWrote) {
  prometheus::Registry registry;
  auto gauge = [&](const char* name, const char* help) -> auto& {
    return prometheus::BuildGauge().Name(name).Help(help).Register(registry);
  };
  gauge("ballast_recommended_replicas", "The replica count ballast recommends")
      .Add({{"target", "asr-worker"}})
      .Set(4);
  gauge("ballast_desired_replicas",
        "The combined proposal of the inputs, before stabilization windows "
        "and rate policies")
      .Add({{"target", "asr-worker"}})
      .Set(5);
  gauge("ballast_current_replicas", "The replica count the engine started from")
      .Add({{"target", "asr-worker"}})
      .Set(3);
  gauge("ballast_current_replicas_age_seconds",
        "Seconds since the current replica count's last good read "
        "(Kubernetes or Prometheus)")
      .Add({{"target", "asr-worker"}})
      .Set(0.25);
  auto& value =
      gauge("ballast_input_value", "The last good value read for an input");
  auto& age = gauge("ballast_input_age_seconds",
                    "Seconds since the input's last good read");
  const struct {
    const char* target;
    const char* input;
    double value, age;
  } inputs[] = {{"asr-worker", "backlog", 12, 2.5},
                {"asr-worker", "load", 1.0 / 3, 10},
                {"asr-worker", kOddInput, 0.1, 0},
                {"tts-api", "q", 1e20, 7}};
  for (const auto& in : inputs) {
    value.Add({{"target", in.target}, {"input", in.input}}).Set(in.value);
    age.Add({{"target", in.target}, {"input", in.input}}).Set(in.age);
  }
  const std::vector<std::string> expected =
      Lines(prometheus::TextSerializer().Serialize(registry.Collect()));
  ASSERT_EQ(expected.size(), 6 * 2 + 4 + 8);

  CurrentReplicasTimes current;
  current.Set("asr-worker", kNow - absl::Milliseconds(250));
  const std::vector<std::string> lines =
      Lines(Render(TargetMetrics::kFull, &current));
  EXPECT_THAT(lines, IsSupersetOf(expected));
  // Nothing for the input that has no value yet, nor for the target that has
  // no recommendation.
  for (const std::string& line : lines) {
    EXPECT_THAT(line, Not(HasSubstr("never")));
    if (!line.starts_with("ballast_input_")) {
      EXPECT_THAT(line, Not(HasSubstr("tts-api")));
    }
  }
}

// One HELP and one TYPE per family, each family's samples together, no
// series twice: what a scraper needs of the text format.
TEST(TargetMetrics, EachFamilyIsWrittenOnceAndWhole) {
  CurrentReplicasTimes current;
  current.Set("asr-worker", kNow);
  const std::vector<std::string> lines =
      Lines(Render(TargetMetrics::kFull, &current));
  std::set<std::string> families, series;
  std::string family;
  for (const std::string& line : lines) {
    if (line.starts_with("# HELP ")) {
      const std::string rest = line.substr(7);
      family = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(families.insert(family).second) << family;
      continue;
    }
    if (line.starts_with("# TYPE ")) {
      EXPECT_EQ(line, absl::StrCat("# TYPE ", family, " gauge"));
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    EXPECT_EQ(name, family) << line;
    EXPECT_TRUE(series.insert(line.substr(0, line.rfind(' '))).second) << line;
  }
  EXPECT_EQ(families.size(), 12u);
}

}  // namespace
}  // namespace ballast::server
