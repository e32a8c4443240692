#include "ballast/config/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "yaml-cpp/yaml.h"

namespace ballast::config {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

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
  EXPECT_EQ(c.redis.at("main").options.redis.Address(), "10.0.0.1:6380");
  EXPECT_EQ(c.redis.at("main").options.redis.db, 2);
  EXPECT_EQ(c.redis.at("main").options.redis.command_timeout,
            absl::Milliseconds(250));
  ASSERT_EQ(c.prometheus.size(), 1u);
  EXPECT_EQ(c.prometheus.at("main").http.base_url, "https://prom:9090");
  EXPECT_EQ(c.prometheus.at("main").http.timeout, absl::Milliseconds(3000));
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
  EXPECT_THAT(asr.sources[0].celery->read.queues,
              ElementsAre("asr", "asr.low"));
  EXPECT_TRUE(asr.sources[0].celery->read.include_reserved);

  EXPECT_EQ(spec.inputs[1].name, "p95_latency");
  EXPECT_EQ(spec.inputs[1].target_type, TargetType::kValue);
  EXPECT_DOUBLE_EQ(spec.inputs[1].target, 2.0);
  EXPECT_EQ(spec.inputs[1].smoothing.kind, Smoothing::Kind::kEwma);
  EXPECT_DOUBLE_EQ(spec.inputs[1].smoothing.half_life_seconds, 30);
  EXPECT_EQ(spec.inputs[1].slo.max, 2.5);
  EXPECT_FALSE(spec.inputs[1].slo.max_per_replica.has_value());
  ASSERT_TRUE(asr.sources[1].prometheus.has_value());
  EXPECT_EQ(asr.sources[1].prometheus->source, "main");
  EXPECT_EQ(asr.sources[1].prometheus->query.promql,
            "histogram_quantile(0.95, x)");

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
  EXPECT_EQ(gateway.prometheus->query.promql, "kube_replicas");
}

TEST(ConfigParse, AppliesDefaultsToOmittedKeys) {
  const Config c = Parse(
      "sources:\n"
      "  redis: {main: {}}\n"
      "  prometheus: {main: {}}\n" +
      Target("") +
      "      - {name: q, celery: {source: main, queues: [a]}, value: 1}\n");
  EXPECT_EQ(c.redis.at("main").options.redis.Address(), "127.0.0.1:6379");
  EXPECT_EQ(c.redis.at("main").options.redis.db, 0);
  EXPECT_EQ(c.redis.at("main").options.redis.command_timeout,
            absl::Milliseconds(500));
  EXPECT_EQ(c.prometheus.at("main").http.base_url, "http://127.0.0.1:9090");
  EXPECT_EQ(c.prometheus.at("main").http.timeout, absl::Milliseconds(2000));
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
  EXPECT_FALSE(c.targets[0].sources[1].celery->read.include_reserved);
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
  // A static current count outside the bounds is a warning (issue 9: real
  // workloads start anywhere), see WarnsOfStaticReplicasOutsideBounds.
  EXPECT_THAT(
      Errors(Target("    currentReplicas: {static: 11}\n"
                    "    fallback: {replicas: 0}\n")),
      ElementsAre("t.yaml:7:26: targets[0].fallback.replicas: must be within "
                  "[minReplicas, maxReplicas] = [1, 10], got 0"));
}

TEST(ConfigParse, WarnsOfStaticReplicasOutsideBounds) {
  const Config above = Parse(Target("    currentReplicas: {static: 11}\n"));
  ASSERT_EQ(above.warnings.size(), 1u);
  EXPECT_EQ(above.warnings[0].ToString(),
            "t.yaml:6:31: targets[0].currentReplicas.static: outside "
            "[minReplicas, maxReplicas] = [1, 10]: the first tick goes to 10");
  EXPECT_EQ(above.targets[0].spec.initial_replicas, 11);
  const Config zero = Parse(Target("    currentReplicas: {static: 0}\n"));
  ASSERT_EQ(zero.warnings.size(), 1u);
  EXPECT_THAT(zero.warnings[0].message,
              testing::HasSubstr("0 replicas disables scaling"));
  EXPECT_TRUE(
      Parse(Target("    currentReplicas: {static: 10}\n")).warnings.empty());
}

// A target of minReplicas `min` whose input carries `input_keys`.
std::string ActivationTarget(int min, const std::string& input_keys,
                             const std::string& extra = "") {
  return absl::StrCat("targets:\n  - name: w\n    minReplicas: ", min,
                      "\n    maxReplicas: 10\n", extra,
                      "    inputs:\n      - {name: backlog, averageValue: 30",
                      input_keys, "}\n");
}

TEST(ConfigParse, ReadsActivationForScaleToZero) {
  const Config c = Parse(ActivationTarget(0, ", activation: 4.5"));
  EXPECT_EQ(c.targets[0].spec.min_replicas, 0);
  EXPECT_EQ(c.targets[0].spec.inputs[0].activation, 4.5);
  EXPECT_TRUE(c.warnings.empty());
  // Without the key: KEDA's default, active above 0.
  EXPECT_EQ(Parse(ActivationTarget(0, "")).targets[0].spec.inputs[0].activation,
            0);
}

TEST(ConfigParse, ActivationWithMinReplicasAboveZeroIsAWarning) {
  const Config c = Parse(ActivationTarget(2, ", activation: 4"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].ToString(),
            "t.yaml:6:55: targets[0].inputs[0].activation: has no effect "
            "unless minReplicas is 0 (it decides between 0 and 1 replicas); "
            "minReplicas is 2");
}

TEST(ConfigParse, ActivationIsRefusedInHpaModeAndBelowZero) {
  EXPECT_THAT(Errors(ActivationTarget(0, ", activation: 4", "    mode: hpa\n")),
              ElementsAre(testing::HasSubstr(
                  "targets[0].inputs[0].activation: not available in mode "
                  "hpa")));
  EXPECT_THAT(
      Errors(ActivationTarget(0, ", activation: -1")),
      ElementsAre(testing::HasSubstr("targets[0].inputs[0].activation:")));
}

TEST(ConfigParse, ReadsHpaModeToleranceAndFallbackBehavior) {
  const Config c = Parse(Target(
      "    mode: hpa\n"
      "    tolerance: 0.2\n"
      "    behavior:\n"
      "      scaleUp: {tolerance: 0.05}\n"
      "      scaleDown: {tolerance: 0.15}\n"
      "    fallback: {replicas: 3, behavior: currentReplicasIfHigher}\n"));
  ASSERT_EQ(c.targets.size(), 1u);
  const TargetSpec& spec = c.targets[0].spec;
  EXPECT_EQ(spec.mode, Mode::kHpa);
  EXPECT_EQ(spec.tolerance, 0.2);
  EXPECT_EQ(spec.behavior->scale_up.tolerance, 0.05);
  EXPECT_EQ(spec.behavior->scale_down.tolerance, 0.15);
  EXPECT_EQ(spec.fallback->behavior,
            FallbackBehavior::kCurrentReplicasIfHigher);
  EXPECT_EQ(Parse(Target("")).targets[0].spec.mode, Mode::kBallast);
  EXPECT_THAT(Errors(Target("    mode: keda\n")),
              ElementsAre(testing::HasSubstr("targets[0].mode")));
  EXPECT_THAT(Errors(Target("    behavior: {scaleUp: {tolerance: 1}}\n")),
              ElementsAre(testing::HasSubstr(
                  "targets[0].behavior.scaleUp.tolerance: must be in [0, 1)")));
  EXPECT_THAT(Errors(Target("    fallback: {replicas: 2, behavior: last}\n")),
              ElementsAre(testing::HasSubstr("targets[0].fallback.behavior")));
}

TEST(ConfigParse, ReadsThePolicyFeatures) {
  const Config c = Parse(
      "targets:\n"
      "  - name: w\n"
      "    maxReplicas: 10\n"
      "    inputs:\n"
      "      - name: backlog\n"
      "        averageValue: 30\n"
      "        drain: {seconds: 120}\n"
      "      - name: rps\n"
      "        value: 100\n"
      "        trend: {horizonSeconds: 30, windowSeconds: 90}\n"
      "    behavior:\n"
      "      scaleDown: {minChangePods: 2, minChangeRatio: 0.25}\n"
      "      burst: {threshold: 3, windowSeconds: 10, "
      "stableWindowSeconds: 120, inputs: [rps]}\n");
  ASSERT_EQ(c.targets.size(), 1u);
  const TargetSpec& spec = c.targets[0].spec;
  ASSERT_TRUE(spec.inputs[0].drain.has_value());
  EXPECT_EQ(spec.inputs[0].drain->seconds, 120);
  EXPECT_EQ(spec.inputs[0].drain->window_seconds, 60);
  EXPECT_EQ(spec.inputs[0].drain->throughput_window_seconds, 600);
  EXPECT_FALSE(spec.inputs[0].trend.has_value());
  ASSERT_TRUE(spec.inputs[1].trend.has_value());
  EXPECT_EQ(spec.inputs[1].trend->horizon_seconds, 30);
  EXPECT_EQ(spec.inputs[1].trend->window_seconds, 90);
  EXPECT_EQ(spec.behavior->scale_down.min_change_pods, 2);
  EXPECT_EQ(spec.behavior->scale_down.min_change_ratio, 0.25);
  EXPECT_EQ(spec.behavior->scale_down.stabilization_window_seconds, 300);
  ASSERT_TRUE(spec.behavior->burst.has_value());
  EXPECT_EQ(spec.behavior->burst->threshold, 3);
  EXPECT_EQ(spec.behavior->burst->window_seconds, 10);
  EXPECT_EQ(spec.behavior->burst->stable_window_seconds, 120);
  EXPECT_THAT(spec.behavior->burst->inputs, ElementsAre("rps"));

  // Defaults, and nothing when the blocks are absent.
  const TargetSpec burst_defaults =
      Parse(Target("    behavior: {burst: {}}\n")).targets[0].spec;
  EXPECT_EQ(burst_defaults.behavior->burst->threshold, 2.0);
  EXPECT_EQ(burst_defaults.behavior->burst->window_seconds, 6);
  EXPECT_EQ(burst_defaults.behavior->burst->stable_window_seconds, 60);
  EXPECT_THAT(burst_defaults.behavior->burst->inputs, IsEmpty());
  const TargetSpec plain =
      Parse(Target("    behavior: {scaleDown: {}}\n")).targets[0].spec;
  EXPECT_FALSE(plain.behavior->burst.has_value());
  EXPECT_EQ(plain.behavior->scale_down.min_change_pods, 0);
  EXPECT_EQ(plain.behavior->scale_down.min_change_ratio, 0);
  EXPECT_FALSE(plain.inputs[0].trend.has_value());
  EXPECT_FALSE(plain.inputs[0].drain.has_value());

  EXPECT_THAT(Errors(Target("    behavior: {scaleUp: {minChangePods: 1}}\n")),
              ElementsAre(HasSubstr("targets[0].behavior.scaleUp.minChangePods:"
                                    " unknown key")));
  EXPECT_THAT(
      Errors(Target("    mode: hpa\n    behavior: {burst: {}}\n")),
      ElementsAre(HasSubstr("targets[0].behavior.burst: not available in "
                            "mode hpa")));
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

TEST(ConfigSources, PrometheusTlsNeedsAnHttpsUrl) {
  // Under http:// the tls settings could never apply: refused, not ignored.
  EXPECT_THAT(Errors(R"(sources:
  prometheus:
    p: {url: "http://127.0.0.1:9090", tls: {insecureSkipVerify: true}}
targets: []
)"),
              ElementsAre(AllOf(HasSubstr("sources.prometheus.p.tls"),
                                HasSubstr("tls applies to https:// URLs only: "
                                          "this url is http://"))));
  const Config c = Parse(R"(sources:
  prometheus:
    p:
      url: "https://127.0.0.1:9090"
      tls: {caFile: /ca.pem, serverName: prom.internal}
targets: []
)");
  const net::HttpClientOptions& h = c.prometheus.at("p").http;
  EXPECT_EQ(h.ca_file, "/ca.pem");
  EXPECT_EQ(h.tls_server_name, "prom.internal");
  EXPECT_TRUE(h.verify_peer);
}

TEST(ConfigSources, CredentialsInUrlsAreRefusedAndNeverEchoed) {
  const std::vector<std::string> errors = Errors(R"(sources:
  redis:
    a: {address: "redis://user:s3cretA@127.0.0.1:6379"}
    b: {address: "redis://user:s3cretB@127.0.0.1:notaport"}
  prometheus:
    p: {url: "http://ops:s3cretC@127.0.0.1:9090"}
    q: {url: "ftp://ops:s3cretD@127.0.0.1:9090"}
targets: []
)");
  EXPECT_THAT(errors,
              ElementsAre(HasSubstr("a password in a redis URL is not "
                                    "accepted: use passwordEnv or "
                                    "passwordFile"),
                          HasSubstr("a password in a redis URL is not "
                                    "accepted"),
                          HasSubstr("credentials in the URL are not accepted: "
                                    "use basicAuth or bearerTokenFile"),
                          // An invalid value is quoted without its password.
                          HasSubstr("invalid value 'ftp://REDACTED@127.0.0.1:"
                                    "9090'")));
  for (const std::string& e : errors) {
    EXPECT_THAT(e, Not(HasSubstr("s3cret"))) << e;
  }
}

TEST(ConfigServer, KubernetesAccessAndDelegatedAuth) {
  const Config c = Parse(R"(
kubernetes: {kubeconfig: /etc/ballast/kubeconfig, context: prod}
server:
  externalMetrics:
    listen: "127.0.0.1:0"
    tlsCertFile: /tls/tls.crt
    tlsKeyFile: /tls/tls.key
    authentication: {mode: Cluster, refreshSeconds: 30}
    authorization: {mode: Delegated, allowedTtlSeconds: 60, deniedTtlSeconds: 5, timeoutMs: 2000}
targets: []
)");
  EXPECT_EQ(c.kubernetes,
            (source::KubernetesAccess{.kubeconfig = "/etc/ballast/kubeconfig",
                                      .context = "prod"}));
  const ExternalMetricsServerConfig& e = *c.server.external_metrics;
  EXPECT_EQ(e.authentication_mode,
            ExternalMetricsServerConfig::AuthenticationMode::kCluster);
  EXPECT_EQ(e.authentication_refresh_seconds, 30);
  EXPECT_EQ(e.authorization_mode,
            ExternalMetricsServerConfig::AuthorizationMode::kDelegated);
  EXPECT_EQ(e.authorization_allowed_ttl_seconds, 60);
  EXPECT_EQ(e.authorization_denied_ttl_seconds, 5);
  EXPECT_EQ(e.authorization_timeout_ms, 2000);
}

TEST(ConfigServer, AuthDefaultsAreFilesAndAlwaysAllow) {
  const Config c = Parse(R"(
server:
  externalMetrics: {tlsCertFile: /a.crt, tlsKeyFile: /a.key}
targets: []
)");
  EXPECT_EQ(c.server.external_metrics->authentication_mode,
            ExternalMetricsServerConfig::AuthenticationMode::kFiles);
  EXPECT_EQ(c.server.external_metrics->authorization_mode,
            ExternalMetricsServerConfig::AuthorizationMode::kAlwaysAllow);
  EXPECT_EQ(c.server.external_metrics->authorization_allowed_ttl_seconds, 10);
  EXPECT_EQ(c.server.external_metrics->authorization_denied_ttl_seconds, 10);
}

TEST(ConfigServer, RejectsContradictoryAuthSettings) {
  EXPECT_THAT(
      Errors(R"(kubernetes: {context: prod, kubeConfig: /x}
server:
  externalMetrics:
    tlsCertFile: /a.crt
    tlsKeyFile: /a.key
    requestheaderClientCAFile: /ca.crt
    authentication: {mode: cluster}
    authorization: {mode: Delegated, deniedTtlSeconds: -1}
targets: []
)"),
      ElementsAre(
          "t.yaml:1:23: kubernetes.context: a context needs a kubeconfig (in a "
          "pod, ballast uses its service account)",
          "t.yaml:1:29: kubernetes.kubeConfig: unknown key 'kubeConfig'; did "
          "you mean 'kubeconfig'?",
          "t.yaml:7:28: server.externalMetrics.authentication.mode: expected "
          "one of Files, Cluster, got 'cluster'",
          "t.yaml:8:56: server.externalMetrics.authorization.deniedTtlSeconds: "
          "must be in [0, 3600], got -1"));
}

}  // namespace
}  // namespace ballast::config

namespace ballast::config {
namespace {

TEST(ConfigSources, ParsesRedisUrlAuthTlsAndBrokerOptions) {
  const Config c = Parse(R"(
sources:
  redis:
    main:
      address: "rediss://worker@redis.internal:6380/3"
      passwordFile: /etc/ballast/redis-password
      tls: {caFile: /etc/ca.pem, serverName: redis.internal}
      connectTimeoutMs: 700
      prioritySteps: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
      separator: ":"
      globalKeyPrefix: "prod:"
      reservedIntervalSeconds: 10
targets: []
)");
  const source::CeleryRedisSourceOptions& r = c.redis.at("main").options;
  EXPECT_EQ(r.redis.Address(), "redis.internal:6380");
  EXPECT_EQ(r.redis.username, "worker");
  EXPECT_EQ(r.redis.db, 3);
  EXPECT_TRUE(r.redis.tls);
  EXPECT_EQ(r.redis.ca_file, "/etc/ca.pem");
  EXPECT_EQ(r.redis.server_name, "redis.internal");
  EXPECT_EQ(c.redis.at("main").password.file, "/etc/ballast/redis-password");
  EXPECT_TRUE(r.redis.password.empty());  // read when the source starts
  EXPECT_EQ(r.redis.connect_timeout, absl::Milliseconds(700));
  EXPECT_EQ(r.broker.priority_steps.size(), 10u);
  EXPECT_EQ(r.broker.separator, ":");
  EXPECT_EQ(r.broker.global_keyprefix, "prod:");
  EXPECT_EQ(r.reserved_interval, absl::Seconds(10));
}

TEST(ConfigSources, RedisDefaultsAreCelerys) {
  const Config c = Parse("sources: {redis: {main: {}}}\ntargets: []\n");
  const source::CeleryRedisSourceOptions& r = c.redis.at("main").options;
  EXPECT_EQ(r.redis.Address(), "127.0.0.1:6379");
  EXPECT_EQ(r.broker.separator, std::string("\x06\x16"));
  EXPECT_EQ(r.broker.priority_steps, (std::vector<int>{0, 3, 6, 9}));
  EXPECT_FALSE(r.redis.tls);
}

TEST(ConfigSources, ParsesPrometheusAuthHeadersAndInputOptions) {
  const Config c = Parse(R"(
sources:
  prometheus:
    main:
      url: https://prom.internal:9090
      bearerTokenFile: /var/run/token
      basicAuth: {username: ballast, passwordEnv: PROM_PASSWORD}
      headers: {X-Scope-OrgID: voice}
      maxInFlight: 8
targets:
  - name: tts
    maxReplicas: 10
    inputs:
      - name: rps
        prometheus: {source: main, query: 'sum(rate(x[1m]))', aggregate: max, emptyAs: 0}
        averageValue: 5
)");
  const net::HttpClientOptions& p = c.prometheus.at("main").http;
  EXPECT_TRUE(absl::StartsWith(p.base_url, "https://"));  // TLS on
  EXPECT_EQ(p.bearer_token_file, "/var/run/token");
  EXPECT_EQ(p.basic_auth_user, "ballast");
  EXPECT_EQ(p.basic_auth_password_env, "PROM_PASSWORD");
  EXPECT_THAT(p.headers, ElementsAre(std::pair<std::string, std::string>(
                             "X-Scope-OrgID", "voice")));
  EXPECT_EQ(p.max_in_flight, 8);
  const source::PrometheusQuery& in = c.targets[0].sources[0].prometheus->query;
  EXPECT_EQ(in.aggregate, source::Aggregate::kMax);
  EXPECT_EQ(in.empty_as, 0.0);
}

TEST(ConfigSources, RejectsInlineSecretsBadStepsAndBadAddresses) {
  EXPECT_THAT(
      Errors(R"(sources:
  redis:
    a: {address: "redis://h:1", password: hunter2}
    b: {address: "http://h:1", prioritySteps: [3, 6]}
  prometheus:
    p: {url: "http://h:1", basicAuth: {username: u, passwordEnv: E, passwordFile: F}}
targets: []
)"),
      ElementsAre(
          "t.yaml:3:43: sources.redis.a.password: secrets are not written "
          "inline: use passwordEnv (an environment variable) or passwordFile "
          "(a file)",
          "t.yaml:4:18: sources.redis.b.address: invalid value 'http://h:1': "
          "expected host:port, redis://host:port[/db] or "
          "rediss://host:port[/db]",
          "t.yaml:4:47: sources.redis.b.prioritySteps: priority steps must "
          "start at 0 (kombu always has band 0)",
          "t.yaml:6:83: sources.prometheus.p.basicAuth.passwordFile: give only "
          "one of passwordEnv, passwordFile"));
}

TEST(ConfigSources, DiscoverQueuesMakesQueuesOptional) {
  const Config c = Parse(R"(
sources: {redis: {main: {}}}
targets:
  - name: w
    maxReplicas: 3
    inputs:
      - {name: backlog, celery: {source: main, discoverQueues: true}, averageValue: 5}
)");
  // Discovery is the pattern `*` of the source: every queue found.
  EXPECT_THAT(c.targets[0].sources[0].celery->read.queues, ElementsAre("*"));
}

TEST(ConfigServer, ParsesTheThreeServers) {
  const Config c = Parse(R"(
server:
  pollIntervalSeconds: 5
  externalMetrics:
    listen: "127.0.0.1:0"
    tlsCertFile: /tls/tls.crt
    tlsKeyFile: /tls/tls.key
    requestheaderClientCAFile: /tls/front-proxy-ca.crt
    requestheaderAllowedNames: [front-proxy-client]
  grpc: {listen: "0.0.0.0:9090"}
  telemetry: {listen: "0.0.0.0:8080"}
targets: []
)");
  ASSERT_TRUE(c.server.external_metrics.has_value());
  EXPECT_EQ(c.server.external_metrics->listen, "127.0.0.1:0");
  EXPECT_EQ(c.server.external_metrics->requestheader_allowed_names,
            std::vector<std::string>{"front-proxy-client"});
  EXPECT_EQ(c.server.external_metrics->max_connections, 256);
  ASSERT_TRUE(c.server.grpc.has_value());
  EXPECT_EQ(c.server.grpc->listen, "0.0.0.0:9090");
  EXPECT_TRUE(c.server.grpc->tls_cert_file.empty());
  ASSERT_TRUE(c.server.telemetry.has_value());
  EXPECT_EQ(c.server.telemetry->target_metrics,
            TelemetryServerConfig::TargetMetrics::kSummary);
  EXPECT_EQ(c.server.poll_interval_seconds, 5);
}

TEST(ConfigServer, ReadsTelemetryTargetMetrics) {
  using Detail = TelemetryServerConfig::TargetMetrics;
  for (const auto& [text, detail] : std::vector<std::pair<std::string, Detail>>{
           {"none", Detail::kNone},
           {"summary", Detail::kSummary},
           {"full", Detail::kFull}}) {
    const Config c = Parse(absl::StrCat(
        "server:\n  telemetry: {listen: \"127.0.0.1:0\", targetMetrics: ", text,
        "}\ntargets: []\n"));
    ASSERT_TRUE(c.server.telemetry.has_value()) << text;
    EXPECT_EQ(c.server.telemetry->target_metrics, detail) << text;
  }
  EXPECT_THAT(Errors(R"(server:
  telemetry: {listen: "127.0.0.1:0", targetMetrics: all}
targets: []
)"),
              ElementsAre("t.yaml:2:53: server.telemetry.targetMetrics: "
                          "expected one of none, summary, full, got 'all'"));
}

TEST(ConfigServer, ServersAreOffUnlessConfigured) {
  const Config c = Parse("targets: []\n");
  EXPECT_FALSE(c.server.external_metrics.has_value());
  EXPECT_FALSE(c.server.grpc.has_value());
  EXPECT_FALSE(c.server.telemetry.has_value());
}

TEST(ConfigServer, RejectsMissingCertsAndHalfTls) {
  EXPECT_THAT(
      Errors(R"(server:
  externalMetrics: {listen: "0.0.0.0:6443"}
  grpc: {tlsCertFile: /a.crt}
  telemetry: {listen: "nowhere"}
targets: []
)"),
      ElementsAre(
          "t.yaml:2:20: server.externalMetrics.tlsCertFile: required key is "
          "missing",
          "t.yaml:2:20: server.externalMetrics.tlsKeyFile: required key is "
          "missing",
          "t.yaml:3:9: server.grpc: give both tlsCertFile and tlsKeyFile, or "
          "neither",
          "t.yaml:4:23: server.telemetry.listen: listen address \"nowhere\" "
          "is not host:port; e.g. 0.0.0.0:8080 (port 0 picks a free port)"));
}

// check-config uses the servers' own parser: a host name passes neither
// (serve binds an address, so it would refuse to start).
TEST(ConfigServer, ListenAddressesAreWhatTheServersBind) {
  EXPECT_THAT(
      Errors(R"(server:
  grpc: {listen: "ballast.example.com:9090"}
  telemetry: {listen: "[::1]:8080"}
targets: []
)"),
      ElementsAre("t.yaml:2:18: server.grpc.listen: listen address "
                  "\"ballast.example.com:9090\": host must be an IP address "
                  "(IPv6 in brackets), localhost, or empty for every "
                  "interface; e.g. 0.0.0.0:8080 (port 0 picks a free port)"));
}

}  // namespace
}  // namespace ballast::config

namespace ballast::config {
namespace {

// The config shipped inside k8s/ballast.yaml's ConfigMap must stay valid.
TEST(ConfigTestdata, KubernetesManifestConfigParses) {
  const std::vector<YAML::Node> docs = YAML::LoadAllFromFile(
      std::string(BALLAST_SOURCE_DIR) + "/k8s/ballast.yaml");
  int checked = 0;
  for (const YAML::Node& doc : docs) {
    if (doc["kind"].as<std::string>() != "ConfigMap") continue;
    const Config c = Parse(doc["data"]["ballast.yaml"].as<std::string>());
    ASSERT_EQ(c.targets.size(), 1u);
    EXPECT_TRUE(c.targets[0].current_replicas.kubernetes.has_value());
    ASSERT_TRUE(c.server.external_metrics.has_value());
    // In a cluster: trust from the cluster, SubjectAccessReviews, and the
    // pod's service account (no kubeconfig).
    EXPECT_EQ(c.server.external_metrics->authentication_mode,
              ExternalMetricsServerConfig::AuthenticationMode::kCluster);
    EXPECT_EQ(c.server.external_metrics->authorization_mode,
              ExternalMetricsServerConfig::AuthorizationMode::kDelegated);
    EXPECT_TRUE(c.kubernetes.kubeconfig.empty());
    ++checked;
  }
  EXPECT_EQ(checked, 1);
}

}  // namespace
}  // namespace ballast::config
