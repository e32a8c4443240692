#include <string>

#include "ballast/server/ballast_api.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;

engine::Recommendation Rec(int64_t seconds, int32_t replicas,
                           engine::Limit limit = engine::Limit::kNone) {
  return {.time = absl::FromUnixSeconds(seconds),
          .current_replicas = 4,
          .desired = replicas + 1,
          .replicas = replicas,
          .limited_by = limit};
}

// "queue" has one input with a failed poll this tick and a held last value;
// 12 recommendations in its history.
store::Snapshot MakeSnapshot() {
  store::Snapshot snapshot;
  snapshot.generation = 1;
  store::TargetState t;
  auto spec = std::make_shared<TargetSpec>();
  spec->name = "queue";
  spec->min_replicas = 1;
  spec->max_replicas = 9;
  spec->inputs.push_back({.name = "backlog", .target = 30});
  t.spec = std::move(spec);
  t.inputs.push_back(
      {.name = "backlog",
       .value = 120,
       .sampled_at = absl::FromUnixSeconds(985) + absl::Milliseconds(250),
       .error = "redis: connection refused",
       .consecutive_failures = 1});
  for (int i = 0; i < 11; ++i) {
    t.recent.Push(store::PastRecommendation::Of(Rec(1000 + 15 * i, i)), 20);
  }
  engine::Recommendation latest =
      Rec(1165, 5, engine::Limit::kScaleDownStabilization);
  latest.inputs.push_back({.name = "backlog",
                           .smoothed = 118.5,
                           .proposal = 4,
                           .untolerated_proposal = 4,
                           .consecutive_failures = 1,
                           .error = "redis: connection refused"});
  t.recent.Push(store::PastRecommendation::Of(latest), 20);
  t.latest = std::make_shared<const engine::Recommendation>(latest);
  snapshot.Add(std::move(t));
  return snapshot;
}

TEST(BallastApi, ExplanationCarriesEachInputAndItsLastGoodValue) {
  ballast::v1::GetRecommendationRequest request;
  request.set_target("queue");
  auto r = BuildGetRecommendation(MakeSnapshot(), request);
  ASSERT_TRUE(r.ok()) << r.status();
  const ballast::v1::Recommendation& rec = r->recommendation();
  EXPECT_EQ(rec.target(), "queue");
  EXPECT_EQ(rec.time().seconds(), 1165);
  EXPECT_EQ(rec.replicas(), 5);
  EXPECT_EQ(rec.desired_replicas(), 6);
  EXPECT_EQ(rec.current_replicas(), 4);
  EXPECT_EQ(rec.limited_by(), "scaleDownStabilization");
  ASSERT_EQ(rec.inputs_size(), 1);
  const ballast::v1::InputExplanation& in = rec.inputs(0);
  EXPECT_FALSE(in.has_raw());
  EXPECT_EQ(in.smoothed(), 118.5);
  EXPECT_EQ(in.proposal(), 4);
  EXPECT_EQ(in.consecutive_failures(), 1);
  EXPECT_EQ(in.error(), "redis: connection refused");
  EXPECT_EQ(in.last_value(), 120);
  EXPECT_EQ(in.last_value_time().seconds(), 985);
  EXPECT_EQ(in.last_value_time().nanos(), 250000000);
}

TEST(BallastApi, RecentIsTheLastNOldestFirst) {
  ballast::v1::GetRecommendationRequest request;
  request.set_target("queue");
  auto r = BuildGetRecommendation(MakeSnapshot(), request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->recent_size(), kDefaultHistory);
  EXPECT_EQ(r->recent(0).replicas(), 2);
  EXPECT_EQ(r->recent(kDefaultHistory - 1).replicas(), 5);

  request.set_history(3);
  r = BuildGetRecommendation(MakeSnapshot(), request);
  ASSERT_EQ(r->recent_size(), 3);
  EXPECT_EQ(r->recent(0).time().seconds(), 1135);

  request.set_history(-1);
  EXPECT_EQ(BuildGetRecommendation(MakeSnapshot(), request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(BallastApi, UnknownTargetIsNotFound) {
  ballast::v1::GetRecommendationRequest request;
  request.set_target("nope");
  auto r = BuildGetRecommendation(MakeSnapshot(), request);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("(targets: queue)"));

  ballast::v1::WatchRecommendationsRequest watch;
  watch.add_targets("queue");
  EXPECT_TRUE(CheckWatchTargets(MakeSnapshot(), watch).ok());
  watch.add_targets("nope");
  EXPECT_EQ(CheckWatchTargets(MakeSnapshot(), watch).code(),
            absl::StatusCode::kNotFound);
}

TEST(BallastApi, ListTargetsGivesSpecAndLatest) {
  store::Snapshot snapshot = MakeSnapshot();
  auto idle = std::make_shared<TargetSpec>();
  idle->name = "idle";
  snapshot.Add({.spec = idle});
  ballast::v1::ListTargetsResponse list = BuildListTargets(snapshot);
  ASSERT_EQ(list.targets_size(), 2);
  EXPECT_EQ(list.targets(0).name(), "idle");
  EXPECT_FALSE(list.targets(0).has_latest());
  EXPECT_EQ(list.targets(1).name(), "queue");
  EXPECT_EQ(list.targets(1).max_replicas(), 9);
  EXPECT_EQ(list.targets(1).inputs(0), "backlog");
  EXPECT_EQ(list.targets(1).latest().replicas(), 5);
}

TEST(BallastApi, CheckConfigReturnsEveryError) {
  ballast::v1::CheckConfigRequest request;
  request.set_file_name("bad.yaml");
  request.set_yaml(
      "targets:\n"
      "  - name: a\n"
      "    minReplicas: 5\n"
      "    maxReplicas: 2\n"
      "    inputs: []\n"
      "    bogusKey: 1\n");
  ballast::v1::CheckConfigResponse response = CheckConfigText(request);
  EXPECT_FALSE(response.valid());
  ASSERT_GE(response.errors_size(), 2);
  EXPECT_EQ(response.errors(0).file(), "bad.yaml");
  EXPECT_GT(response.errors(0).line(), 0);

  request.set_yaml(
      "targets:\n"
      "  - name: a\n"
      "    minReplicas: 1\n"
      "    maxReplicas: 3\n"
      "    inputs:\n"
      "      - name: backlog\n"
      "        averageValue: 10\n");
  response = CheckConfigText(request);
  EXPECT_TRUE(response.valid()) << response.DebugString();
  EXPECT_EQ(response.targets(), 1);
}

}  // namespace
}  // namespace ballast::server
