#include "ballast/config/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::filesystem::path kConfigDir =
    std::filesystem::path(BALLAST_SOURCE_DIR) / "tests/testdata/configs";

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The errors of `yaml` as check-config prints them, for file "t.yaml".
std::vector<std::string> Errors(const std::string& yaml) {
  ConfigErrors errors;
  std::optional<Config> config = ParseConfig(yaml, "t.yaml", &errors);
  EXPECT_EQ(config.has_value(), errors.empty());
  std::vector<std::string> lines;
  for (const ConfigError& e : errors) lines.push_back(e.ToString());
  return lines;
}

Config Parse(const std::string& yaml) {
  ConfigErrors errors;
  std::optional<Config> config = ParseConfig(yaml, "t.yaml", &errors);
  for (const ConfigError& e : errors) ADD_FAILURE() << e.ToString();
  return config.value_or(Config{});
}

// ScalingPolicy as a comparable tuple: {type, value, periodSeconds}.
using Policy = std::tuple<PolicyType, int32_t, int32_t>;
std::vector<Policy> Policies(const ScalingRules& rules) {
  std::vector<Policy> out;
  for (const ScalingPolicy& p : rules.policies) {
    out.emplace_back(p.type, p.value, p.period_seconds);
  }
  return out;
}

// A valid target around `extra` (target-level keys, indented by four).
std::string Target(const std::string& extra) {
  return "targets:\n"
         "  - name: w\n"
         "    maxReplicas: 10\n"
         "    inputs:\n"
         "      - {name: backlog, averageValue: 30}\n" +
         extra;
}

constexpr char kFullConfig[] = R"(sources:
  redis:      {main: {address: "10.0.0.1:6380", db: 2, timeoutMs: 250}}
  prometheus: {main: {url: "https://prom:9090", timeoutMs: 3000}}
server: {pollIntervalSeconds: 30}
targets:
  - name: asr-worker
    minReplicas: 2
    maxReplicas: 40
    currentReplicas: {static: 3}
    tolerance: 0.05
    inputs:
      - name: backlog
        celery: {source: main, queues: [asr, asr.low], includeReserved: true}
        averageValue: 30
        slo: {maxPerReplica: 60}
      - name: p95_latency
        prometheus: {source: main, query: 'histogram_quantile(0.95, x)'}
        value: 2.0
        smoothing: {ewmaHalfLifeSeconds: 30}
        slo: {max: 2.5}
      - name: rate
        value: 100
        smoothing: {quantile: 0.9, windowSeconds: 120}
    behavior:
      scaleUp:   {stabilizationWindowSeconds: 10, selectPolicy: Min,
                  policies: [{type: Pods, value: 4, periodSeconds: 15}, {type: Percent, value: 100, periodSeconds: 60}]}
      scaleDown: {stabilizationWindowSeconds: 600, selectPolicy: Disabled, policies: [{type: Percent, value: 50, periodSeconds: 30}]}
    fallback: {failureThreshold: 5, replicas: 6}
  - name: tts
    maxReplicas: 8
    currentReplicas: {kubernetes: {namespace: speech, deployment: tts.v2}}
    inputs: [{name: backlog, celery: {source: main, queues: [tts]}, averageValue: 20}]
  - name: gateway
    maxReplicas: 8
    currentReplicas: {prometheus: {source: main, query: 'kube_replicas'}}
    inputs: [{name: rps, value: 1}]
)";

TEST(ConfigParse, ParsesFullConfigFieldByField) {
  const Config c = Parse(kFullConfig);

  ASSERT_EQ(c.redis.size(), 1u);
  EXPECT_EQ(c.redis.at("main").address, "10.0.0.1:6380");
  EXPECT_EQ(c.redis.at("main").db, 2);
  EXPECT_EQ(c.redis.at("main").timeout_ms, 250);
  ASSERT_EQ(c.prometheus.size(), 1u);
  EXPECT_EQ(c.prometheus.at("main").url, "https://prom:9090");
  EXPECT_EQ(c.prometheus.at("main").timeout_ms, 3000);
  EXPECT_EQ(c.server.poll_interval_seconds, 30);
  ASSERT_EQ(c.targets.size(), 3u);

  const TargetConfig& asr = c.targets[0];
  const TargetSpec& spec = asr.spec;
  EXPECT_EQ(spec.name, "asr-worker");
  EXPECT_EQ(spec.min_replicas, 2);
  EXPECT_EQ(spec.max_replicas, 40);
  EXPECT_EQ(spec.initial_replicas, 3);
  EXPECT_EQ(asr.current_replicas.static_replicas, 3);
  EXPECT_FALSE(asr.current_replicas.prometheus.has_value());
  EXPECT_FALSE(asr.current_replicas.kubernetes.has_value());
  EXPECT_DOUBLE_EQ(spec.tolerance, 0.05);

  ASSERT_EQ(spec.inputs.size(), 3u);
  ASSERT_EQ(asr.sources.size(), 3u);
  EXPECT_EQ(spec.inputs[0].name, "backlog");
  EXPECT_EQ(spec.inputs[0].target_type, TargetType::kAverageValue);
  EXPECT_DOUBLE_EQ(spec.inputs[0].target, 30);
  EXPECT_EQ(spec.inputs[0].smoothing.kind, Smoothing::Kind::kNone);
  EXPECT_FALSE(spec.inputs[0].slo.max.has_value());
  EXPECT_EQ(spec.inputs[0].slo.max_per_replica, 60);
  ASSERT_TRUE(asr.sources[0].celery.has_value());
  EXPECT_FALSE(asr.sources[0].prometheus.has_value());
  EXPECT_EQ(asr.sources[0].celery->source, "main");
  EXPECT_THAT(asr.sources[0].celery->queues, ElementsAre("asr", "asr.low"));
  EXPECT_TRUE(asr.sources[0].celery->include_reserved);

  EXPECT_EQ(spec.inputs[1].name, "p95_latency");
  EXPECT_EQ(spec.inputs[1].target_type, TargetType::kValue);
  EXPECT_DOUBLE_EQ(spec.inputs[1].target, 2.0);
  EXPECT_EQ(spec.inputs[1].smoothing.kind, Smoothing::Kind::kEwma);
  EXPECT_DOUBLE_EQ(spec.inputs[1].smoothing.half_life_seconds, 30);
  EXPECT_EQ(spec.inputs[1].slo.max, 2.5);
  EXPECT_FALSE(spec.inputs[1].slo.max_per_replica.has_value());
  ASSERT_TRUE(asr.sources[1].prometheus.has_value());
  EXPECT_EQ(asr.sources[1].prometheus->source, "main");
  EXPECT_EQ(asr.sources[1].prometheus->query, "histogram_quantile(0.95, x)");

  EXPECT_EQ(spec.inputs[2].smoothing.kind, Smoothing::Kind::kQuantile);
  EXPECT_DOUBLE_EQ(spec.inputs[2].smoothing.quantile, 0.9);
  EXPECT_DOUBLE_EQ(spec.inputs[2].smoothing.window_seconds, 120);
  EXPECT_FALSE(asr.sources[2].celery.has_value());
  EXPECT_FALSE(asr.sources[2].prometheus.has_value());

  ASSERT_TRUE(spec.behavior.has_value());
  const ScalingRules& up = spec.behavior->scale_up;
  EXPECT_EQ(up.stabilization_window_seconds, 10);
  EXPECT_EQ(up.select_policy, SelectPolicy::kMin);
  EXPECT_THAT(Policies(up), ElementsAre(Policy{PolicyType::kPods, 4, 15},
                                        Policy{PolicyType::kPercent, 100, 60}));
  const ScalingRules& down = spec.behavior->scale_down;
  EXPECT_EQ(down.stabilization_window_seconds, 600);
  EXPECT_EQ(down.select_policy, SelectPolicy::kDisabled);
  EXPECT_THAT(Policies(down),
              ElementsAre(Policy{PolicyType::kPercent, 50, 30}));

  ASSERT_TRUE(spec.fallback.has_value());
  EXPECT_EQ(spec.fallback->failure_threshold, 5);
  EXPECT_EQ(spec.fallback->replicas, 6);

  const CurrentReplicasSource& tts = c.targets[1].current_replicas;
  ASSERT_TRUE(tts.kubernetes.has_value());
  EXPECT_EQ(tts.kubernetes->namespace_, "speech");
  EXPECT_EQ(tts.kubernetes->deployment, "tts.v2");
  EXPECT_FALSE(tts.static_replicas.has_value());
  EXPECT_FALSE(c.targets[1].spec.initial_replicas.has_value());

  const CurrentReplicasSource& gateway = c.targets[2].current_replicas;
  ASSERT_TRUE(gateway.prometheus.has_value());
  EXPECT_EQ(gateway.prometheus->source, "main");
  EXPECT_EQ(gateway.prometheus->query, "kube_replicas");
}

TEST(ConfigParse, AppliesDefaultsToOmittedKeys) {
  const Config c = Parse(
      "sources:\n"
      "  redis: {main: {}}\n"
      "  prometheus: {main: {}}\n" +
      Target("") +
      "      - {name: q, celery: {source: main, queues: [a]}, value: 1}\n");
  EXPECT_EQ(c.redis.at("main").address, "127.0.0.1:6379");
  EXPECT_EQ(c.redis.at("main").db, 0);
  EXPECT_EQ(c.redis.at("main").timeout_ms, 500);
  EXPECT_EQ(c.prometheus.at("main").url, "http://127.0.0.1:9090");
  EXPECT_EQ(c.prometheus.at("main").timeout_ms, 2000);
  EXPECT_EQ(c.server.poll_interval_seconds, 15);
  ASSERT_EQ(c.targets.size(), 1u);
  const TargetSpec& spec = c.targets[0].spec;
  EXPECT_EQ(spec.min_replicas, 1);
  EXPECT_DOUBLE_EQ(spec.tolerance, 0.1);
  EXPECT_FALSE(spec.initial_replicas.has_value());
  EXPECT_FALSE(spec.behavior.has_value());
  EXPECT_FALSE(spec.fallback.has_value());
  EXPECT_FALSE(c.targets[0].current_replicas.static_replicas.has_value());
  EXPECT_FALSE(c.targets[0].current_replicas.prometheus.has_value());
  EXPECT_FALSE(c.targets[0].current_replicas.kubernetes.has_value());
  EXPECT_FALSE(c.targets[0].sources[1].celery->include_reserved);
}

TEST(ConfigParse, LeavesBehaviorUnsetWhenAbsent) {
  EXPECT_FALSE(Parse(Target("")).targets.at(0).spec.behavior.has_value());
}

TEST(ConfigParse, FillsKubernetesDefaultsIntoPartialBehavior) {
  const Config c =
      Parse(Target("    behavior:\n"
                   "      scaleDown: {stabilizationWindowSeconds: 60}\n"));
  const std::optional<Behavior>& b = c.targets.at(0).spec.behavior;
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scale_up.stabilization_window_seconds, 0);
  EXPECT_EQ(b->scale_up.select_policy, SelectPolicy::kMax);
  EXPECT_EQ(Policies(b->scale_up), Policies(Behavior::DefaultScaleUp()));
  EXPECT_EQ(b->scale_down.stabilization_window_seconds, 60);
  EXPECT_EQ(b->scale_down.select_policy, SelectPolicy::kMax);
  EXPECT_THAT(Policies(b->scale_down),
              ElementsAre(Policy{PolicyType::kPercent, 100, 15}));
}

TEST(ConfigParse, EmptyBehaviorMeansKubernetesDefaults) {
  const Config c = Parse(Target("    behavior: {}\n"));
  const std::optional<Behavior>& b = c.targets.at(0).spec.behavior;
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->scale_down.stabilization_window_seconds, 300);
  EXPECT_EQ(b->scale_up.policies.size(), 2u);
}

TEST(ConfigParse, OmittedWindowTakesThatDirectionsDefault) {
  const Config c = Parse(Target(
      "    behavior:\n"
      "      scaleDown: {policies: [{type: Pods, value: 1, periodSeconds: "
      "60}]}\n"));
  const ScalingRules& down = c.targets.at(0).spec.behavior->scale_down;
  EXPECT_EQ(down.stabilization_window_seconds, 300);
  EXPECT_THAT(Policies(down), ElementsAre(Policy{PolicyType::kPods, 1, 60}));
}

TEST(ConfigParse, AcceptsEmptyTargetList) {
  EXPECT_TRUE(Parse("targets: []\n").targets.empty());
}

TEST(ConfigParse, RejectsMinAboveMax) {
  EXPECT_THAT(Errors("targets:\n"
                     "  - name: w\n"
                     "    minReplicas: 12\n"
                     "    maxReplicas: 10\n"
                     "    inputs: [{name: a, value: 1}]\n"),
              ElementsAre("t.yaml:3:18: targets[0].minReplicas: minReplicas "
                          "(12) is greater than maxReplicas (10)"));
}

TEST(ConfigParse, RejectsUnknownKeyWithSuggestion) {
  EXPECT_THAT(Errors(Target("    behavior:\n"
                            "      scaleUp:\n"
                            "        stabilisationWindowSeconds: 0\n")),
              ElementsAre("t.yaml:8:9: targets[0].behavior.scaleUp."
                          "stabilisationWindowSeconds: unknown key "
                          "'stabilisationWindowSeconds'; did you mean "
                          "'stabilizationWindowSeconds'?"));
}

TEST(ConfigParse, RejectsUnknownKeyWithoutSuggestionWhenNothingIsClose) {
  EXPECT_THAT(Errors(Target("    colour: blue\n")),
              ElementsAre("t.yaml:6:5: targets[0].colour: unknown key "
                          "'colour'"));
}

TEST(ConfigParse, ReportsWrongTypesWithTheValueSeen) {
  EXPECT_THAT(Errors("server: {pollIntervalSeconds: abc}\n"
                     "targets: {}\n"),
              ElementsAre("t.yaml:1:31: server.pollIntervalSeconds: expected "
                          "an integer, got 'abc'",
                          "t.yaml:2:10: targets: expected a list, got a map"));
}

TEST(ConfigParse, ReportsYamlSyntaxErrorAtItsMark) {
  EXPECT_THAT(Errors("targets: [\n  - a\n"), ElementsAre(HasSubstr("t.yaml:")));
  const std::vector<std::string> errors = Errors("a: b: c\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], "t.yaml:1:5: invalid YAML: illegal map value");
}

TEST(ConfigParse, RejectsNonMapTopLevel) {
  EXPECT_THAT(Errors("- 1\n- 2\n"),
              ElementsAre("t.yaml:1:1: expected a map, got a list"));
  EXPECT_THAT(Errors("just text\n"),
              ElementsAre("t.yaml:1:1: expected a map, got 'just text'"));
  EXPECT_THAT(Errors(""), ElementsAre("t.yaml:1:1: the config is empty"));
}

TEST(ConfigParse, RejectsUnknownSourceListingDefinedOnes) {
  EXPECT_THAT(
      Errors("sources: {redis: {b: {}, a: {}}}\n" +
             Target("      - {name: q, celery: {source: x, queues: [q]}, "
                    "value: 1}\n")),
      ElementsAre("t.yaml:7:36: targets[0].inputs[1].celery.source: unknown "
                  "source 'x' (defined: a, b)"));
}

TEST(ConfigParse, PrometheusSourcesAreSeparateFromRedisSources) {
  EXPECT_THAT(
      Errors("sources: {redis: {main: {}}}\n" +
             Target("    currentReplicas: {prometheus: {source: main, query: "
                    "up}}\n")),
      ElementsAre("t.yaml:7:44: targets[0].currentReplicas.prometheus.source: "
                  "unknown source 'main' (defined: none)"));
}

TEST(ConfigParse, DuplicateNamesPointAtSecondOccurrence) {
  EXPECT_THAT(
      Errors("targets:\n"
             "  - {name: w, maxReplicas: 1, inputs: [{name: a, value: 1}]}\n"
             "  - {name: w, maxReplicas: 1, inputs: [{name: a, value: 1},\n"
             "                                       {name: a, value: 2}]}\n"),
      ElementsAre("t.yaml:3:12: targets[1].name: duplicate target name 'w' "
                  "(first defined at line 2)",
                  "t.yaml:4:47: targets[1].inputs[1].name: duplicate input "
                  "name 'a' (first defined at line 3)"));
}

TEST(ConfigParse, RejectsDuplicateYamlKeys) {
  EXPECT_THAT(Errors(Target("    maxReplicas: 3\n")),
              ElementsAre("t.yaml:6:5: targets[0].maxReplicas: duplicate key "
                          "'maxReplicas'"));
}

TEST(ConfigParse, RequiresExactlyOneOfAverageValueAndValue) {
  EXPECT_THAT(Errors(Target("      - {name: both, averageValue: 1, value: 2}\n"
                            "      - {name: neither}\n")),
              ElementsAre("t.yaml:6:46: targets[0].inputs[1].value: give only "
                          "one of averageValue, value",
                          "t.yaml:7:9: targets[0].inputs[2]: needs one of "
                          "averageValue, value"));
}

TEST(ConfigParse, RejectsNonPositiveTargets) {
  EXPECT_THAT(Errors(Target("      - {name: z, value: 0}\n")),
              ElementsAre("t.yaml:6:26: targets[0].inputs[1].value: must be > "
                          "0, got 0"));
}

TEST(ConfigParse, ChecksReplicaCountsAgainstBounds) {
  EXPECT_THAT(
      Errors(Target("    currentReplicas: {static: 11}\n"
                    "    fallback: {replicas: 0}\n")),
      ElementsAre("t.yaml:6:31: targets[0].currentReplicas.static: must be "
                  "within [minReplicas, maxReplicas] = [1, 10], got 11",
                  "t.yaml:7:26: targets[0].fallback.replicas: must be within "
                  "[minReplicas, maxReplicas] = [1, 10], got 0"));
}

TEST(ConfigParse, ReportsMissingRequiredKeysAtTheirMap) {
  EXPECT_THAT(Errors("targets:\n  - name: w\n"),
              ElementsAre("t.yaml:2:5: targets[0].maxReplicas: required key "
                          "is missing",
                          "t.yaml:2:5: targets[0].inputs: required key is "
                          "missing"));
}

TEST(ConfigParse, ReportsEveryErrorAtOnceInFileOrder) {
  EXPECT_THAT(
      Errors("server: {pollIntervalSeconds: 0}\n"
             "targets:\n"
             "  - name: Bad\n"
             "    maxReplicas: 0\n"
             "    tolerance: 1.5\n"
             "    inputs:\n"
             "      - {name: a, value: 1, smoothing: {quantile: 2, "
             "windowSeconds: 60}}\n"
             "    behavior:\n"
             "      scaleUp: {selectPolicy: Sometimes}\n"
             "    fallbak: {}\n"),
      ElementsAre(
          "t.yaml:1:31: server.pollIntervalSeconds: must be in [1, 3600], got "
          "0",
          "t.yaml:3:11: targets[0].name: invalid value 'Bad': use lowercase "
          "letters, digits and '-', starting and ending with a letter or "
          "digit, at most 63 characters (RFC 1123 label)",
          "t.yaml:4:18: targets[0].maxReplicas: must be > 0, got 0",
          "t.yaml:5:16: targets[0].tolerance: must be in [0, 1), got 1.5",
          "t.yaml:7:51: targets[0].inputs[0].smoothing.quantile: must be in "
          "(0, 1], got 2",
          "t.yaml:9:31: targets[0].behavior.scaleUp.selectPolicy: expected "
          "one of Max, Min, Disabled, got 'Sometimes'",
          "t.yaml:10:5: targets[0].fallbak: unknown key 'fallbak'; did you "
          "mean 'fallback'?"));
}

TEST(ConfigError, ToStringOmitsAnEmptyPath) {
  EXPECT_EQ((ConfigError{"f.yaml", 3, 7, "a.b", "bad"}).ToString(),
            "f.yaml:3:7: a.b: bad");
  EXPECT_EQ((ConfigError{"f.yaml", 1, 1, "", "bad"}).ToString(),
            "f.yaml:1:1: bad");
}

struct SuggestCase {
  std::string unknown;
  std::optional<std::string> expected;
};

TEST(SuggestKey, SuggestsTheClosestKnownKey) {
  const std::vector<std::string_view> known = {"stabilizationWindowSeconds",
                                               "selectPolicy",
                                               "policies",
                                               "minReplicas",
                                               "maxReplicas",
                                               "timeoutMs",
                                               "db",
                                               "max",
                                               "maxPerReplica"};
  const std::vector<SuggestCase> cases = {
      {"stabilisationWindowSeconds", "stabilizationWindowSeconds"},
      {"selectpolicy", "selectPolicy"},     // case only
      {"polices", "policies"},              // one insertion
      {"minReplica", "minReplicas"},        // one deletion
      {"maxreplicas", "maxReplicas"},       // not minReplicas
      {"timeout", "timeoutMs"},             // truncation
      {"dc", "db"},                         // short keys allow one edit
      {"maxPerReplicas", "maxPerReplica"},  // not max
      {"colour", std::nullopt},             // nothing close
      {"xy", std::nullopt},                 // two edits in two characters
      {"stabilizationWindow", "stabilizationWindowSeconds"},
  };
  for (const SuggestCase& c : cases) {
    EXPECT_EQ(SuggestKey(c.unknown, known), c.expected) << c.unknown;
  }
  EXPECT_EQ(SuggestKey("anything", {}), std::nullopt);
}

TEST(LoadConfigFile, ReturnsNotFoundForAMissingFile) {
  EXPECT_EQ(LoadConfigFile("/nonexistent/ballast.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LoadConfigFile, JoinsEveryErrorIntoInvalidArgument) {
  const std::string path = (kConfigDir / "bad_min_above_max.yaml").string();
  ConfigErrors errors;
  const absl::StatusOr<Config> config = LoadConfigFile(path, &errors);
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].file, path);
  EXPECT_EQ(std::string(config.status().message()), errors[0].ToString());

  const absl::StatusOr<Config> many =
      LoadConfigFile((kConfigDir / "bad_wrong_type.yaml").string());
  EXPECT_GT(std::count(many.status().message().begin(),
                       many.status().message().end(), '\n'),
            2);
}

std::vector<std::filesystem::path> ConfigFiles(std::string_view prefix) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigDir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".yaml")) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Each bad_X.yaml must produce exactly the lines of bad_X.expected, which is
// what `ballast check-config bad_X.yaml` prints on stderr.
TEST(ConfigTestdata, BadConfigsProduceTheirExpectedErrors) {
  const std::vector<std::filesystem::path> files = ConfigFiles("bad_");
  EXPECT_GE(files.size(), 10u);
  for (const std::filesystem::path& yaml : files) {
    std::filesystem::path expected_path = yaml;
    expected_path.replace_extension(".expected");
    ASSERT_TRUE(std::filesystem::exists(expected_path)) << expected_path;
    ConfigErrors errors;
    EXPECT_FALSE(ParseConfig(ReadFile(yaml), yaml.filename().string(), &errors)
                     .has_value())
        << yaml;
    std::string actual;
    for (const ConfigError& e : errors) actual += e.ToString() + "\n";
    EXPECT_EQ(actual, ReadFile(expected_path)) << yaml;
  }
}

TEST(ConfigTestdata, GoodConfigsAndTheExampleParse) {
  std::vector<std::filesystem::path> files = ConfigFiles("good_");
  EXPECT_FALSE(files.empty());
  files.push_back(std::filesystem::path(BALLAST_SOURCE_DIR) /
                  "config/example.yaml");
  for (const std::filesystem::path& yaml : files) {
    ConfigErrors errors;
    EXPECT_TRUE(ParseConfig(ReadFile(yaml), yaml.filename().string(), &errors)
                    .has_value())
        << yaml;
    for (const ConfigError& e : errors) ADD_FAILURE() << e.ToString();
  }
}

TEST(ConfigTestdata, ExampleShowsEveryKind) {
  const absl::StatusOr<Config> c =
      LoadConfigFile(std::string(BALLAST_SOURCE_DIR) + "/config/example.yaml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->targets.size(), 3u);
  EXPECT_TRUE(c->targets[0].spec.behavior.has_value());
  EXPECT_TRUE(c->targets[0].spec.fallback.has_value());
  EXPECT_TRUE(c->targets[1].current_replicas.kubernetes.has_value());
  EXPECT_TRUE(c->targets[2].current_replicas.prometheus.has_value());
}

}  // namespace
}  // namespace ballast::config
