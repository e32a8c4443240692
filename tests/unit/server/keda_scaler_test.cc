#include "ballast/server/keda_scaler.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;

// Two targets: "asr-worker" recommends `replicas`, "tts-api" has not ticked.
store::Snapshot MakeSnapshot(int32_t replicas) {
  store::Snapshot snapshot;
  snapshot.generation = 3;
  auto asr = std::make_shared<TargetSpec>();
  asr->name = "asr-worker";
  snapshot.Add({.spec = asr,
                .latest = std::make_shared<const engine::Recommendation>(
                    engine::Recommendation{.time = absl::FromUnixSeconds(1000),
                                           .current_replicas = 2,
                                           .desired = replicas,
                                           .replicas = replicas})});
  auto tts = std::make_shared<TargetSpec>();
  tts->name = "tts-api";
  snapshot.Add({.spec = tts});
  return snapshot;
}

externalscaler::ScaledObjectRef Ref(const std::string& target) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name("so");
  ref.set_namespace_("default");
  (*ref.mutable_scalermetadata())["scalerAddress"] = "ballast:9090";
  if (!target.empty()) (*ref.mutable_scalermetadata())["target"] = target;
  return ref;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST(KedaScaler, MetricSpecIsOneReplicaPerUnitWithBothFields) {
  auto spec = BuildKedaMetricSpec(MakeSnapshot(7), Ref("asr-worker"));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->metricspecs_size(), 1);
  EXPECT_EQ(spec->metricspecs(0).metricname(), "ballast-asr-worker");
  EXPECT_EQ(spec->metricspecs(0).targetsize(), 1);
  EXPECT_EQ(spec->metricspecs(0).targetsizefloat(), 1.0);
}

TEST(KedaScaler, MetricsServeTheRecommendationUnderTheAskedName) {
  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref("asr-worker");
  request.set_metricname("s0-ballast-asr-worker");
  auto metrics = BuildKedaMetrics(MakeSnapshot(7), request);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->metricvalues_size(), 1);
  EXPECT_EQ(metrics->metricvalues(0).metricname(), "s0-ballast-asr-worker");
  EXPECT_EQ(metrics->metricvalues(0).metricvalue(), 7);
  EXPECT_EQ(metrics->metricvalues(0).metricvaluefloat(), 7.0);

  request.clear_metricname();
  metrics = BuildKedaMetrics(MakeSnapshot(7), request);
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_EQ(metrics->metricvalues(0).metricname(), "ballast-asr-worker");
}
#pragma GCC diagnostic pop

TEST(KedaScaler, ActiveIffTheRecommendationIsAboveZero) {
  EXPECT_EQ(KedaIsActive(MakeSnapshot(1), Ref("asr-worker")).value(), true);
  EXPECT_EQ(KedaIsActive(MakeSnapshot(0), Ref("asr-worker")).value(), false);
}

TEST(KedaScaler, MissingTargetKeyIsInvalidArgumentListingTargets) {
  auto active = KedaIsActive(MakeSnapshot(1), Ref(""));
  EXPECT_EQ(active.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(active.status().message(),
            "scalerMetadata has no 'target' key (targets: asr-worker, "
            "tts-api)");
}

TEST(KedaScaler, UnknownTargetIsNotFoundListingTargets) {
  auto spec = BuildKedaMetricSpec(MakeSnapshot(1), Ref("asr-wroker"));
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(spec.status().message(), HasSubstr("'asr-wroker'"));
  EXPECT_THAT(spec.status().message(),
              HasSubstr("(targets: asr-worker, tts-api)"));
}

TEST(KedaScaler, NoRecommendationYetIsUnavailableButTheSpecIsServed) {
  auto active = KedaIsActive(MakeSnapshot(1), Ref("tts-api"));
  EXPECT_EQ(active.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(active.status().message(), HasSubstr("tts-api"));
  EXPECT_TRUE(BuildKedaMetricSpec(MakeSnapshot(1), Ref("tts-api")).ok());
}

TEST(KedaScaler, NothingPublishedYetIsUnavailable) {
  const store::Snapshot empty;
  EXPECT_EQ(BuildKedaMetricSpec(empty, Ref("asr-worker")).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(KedaScaler, FindTargetReturnsTheState) {
  const store::Snapshot snapshot = MakeSnapshot(4);
  auto target = FindKedaTarget(snapshot, Ref("asr-worker"));
  ASSERT_TRUE(target.ok());
  EXPECT_EQ((*target)->spec->name, "asr-worker");
}

}  // namespace
}  // namespace ballast::server
