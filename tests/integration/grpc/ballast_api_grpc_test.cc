// ballast.v1 over a real gRPC connection.
#include <string>

#include "gmock/gmock.h"
#include "grpc_fixture.h"
#include "gtest/gtest.h"

namespace ballast::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(GrpcServerTest, ListAndGetRecommendationExplainTheEngine) {
  ticker_.Tick({{"asr-worker", 45}});
  ticker_.Tick({{"asr-worker", 200}, {"batch", 0}});
  const engine::Recommendation& latest = ticker_.Latest("asr-worker");

  ballast::v1::ListTargetsResponse list;
  ASSERT_TRUE(api_->ListTargets(Context().get(), {}, &list).ok());
  ASSERT_EQ(list.targets_size(), 2);
  EXPECT_EQ(list.targets(0).name(), "asr-worker");
  EXPECT_EQ(list.targets(0).latest().replicas(), latest.replicas);
  EXPECT_EQ(list.targets(1).min_replicas(), 0);

  ballast::v1::GetRecommendationRequest request;
  request.set_target("asr-worker");
  ballast::v1::GetRecommendationResponse response;
  ASSERT_TRUE(
      api_->GetRecommendation(Context().get(), request, &response).ok());
  const ballast::v1::Recommendation& r = response.recommendation();
  EXPECT_EQ(r.replicas(), latest.replicas);
  EXPECT_EQ(r.desired_replicas(), latest.desired);
  EXPECT_EQ(r.current_replicas(), latest.current_replicas);
  EXPECT_EQ(r.limited_by(), engine::LimitName(latest.limited_by));
  EXPECT_EQ(r.desired_replicas(), 20);  // ceil(200 / 10)
  EXPECT_LT(r.replicas(), 20);          // the scale-up policy holds it back
  ASSERT_EQ(r.inputs_size(), 1);
  EXPECT_EQ(r.inputs(0).name(), "backlog");
  EXPECT_EQ(r.inputs(0).raw(), 200);
  EXPECT_EQ(r.inputs(0).proposal(), 20);
  EXPECT_EQ(r.inputs(0).last_value(), 200);
  EXPECT_EQ(r.inputs(0).last_value_time().seconds(),
            absl::ToUnixSeconds(latest.time) - 1);
  ASSERT_EQ(response.recent_size(), 2);
  EXPECT_EQ(response.recent(0).replicas(), 5);
  EXPECT_EQ(response.recent(1).replicas(), latest.replicas);

  request.set_target("nope");
  const grpc::Status status =
      api_->GetRecommendation(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("targets: asr-worker, batch"));
}

TEST_F(GrpcServerTest, WatchSendsCurrentThenEveryTick) {
  ticker_.Tick({{"asr-worker", 45}, {"batch", 10}});
  ballast::v1::WatchRecommendationsRequest request;
  request.add_targets("asr-worker");
  auto context = Context();
  auto reader = api_->WatchRecommendations(context.get(), request);
  ballast::v1::Recommendation r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.target(), "asr-worker");
  EXPECT_EQ(r.replicas(), 5);

  ticker_.Tick({{"batch", 30}});       // not watched: nothing
  ticker_.Tick({{"asr-worker", 45}});  // same count, new tick: sent
  ticker_.Tick({{"asr-worker", 62}});
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.replicas(), 5);
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.replicas(), ticker_.Latest("asr-worker").replicas);
  EXPECT_EQ(r.replicas(), 7);
  EXPECT_EQ(r.inputs(0).raw(), 62);

  context->TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(GrpcServerTest, WatchAllAndUnknownTargets) {
  ticker_.Tick({{"asr-worker", 45}, {"batch", 10}});
  auto context = Context();
  auto reader = api_->WatchRecommendations(context.get(), {});
  ballast::v1::Recommendation r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.target(), "asr-worker");
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.target(), "batch");
  context->TryCancel();

  ballast::v1::WatchRecommendationsRequest request;
  request.add_targets("asr-worker");
  request.add_targets("nope");
  auto context2 = Context();
  auto reader2 = api_->WatchRecommendations(context2.get(), request);
  EXPECT_FALSE(reader2->Read(&r));
  const grpc::Status status = reader2->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("'nope'"));
}

TEST_F(GrpcServerTest, CheckConfigReturnsEveryError) {
  ballast::v1::CheckConfigRequest request;
  request.set_file_name("policy.yaml");
  request.set_yaml("targets:\n  - name: Bad_Name\n    minReplicas: -1\n");
  ballast::v1::CheckConfigResponse response;
  ASSERT_TRUE(api_->CheckConfig(Context().get(), request, &response).ok());
  EXPECT_FALSE(response.valid());
  ASSERT_GE(response.errors_size(), 2) << response.DebugString();
  for (const ballast::v1::ConfigError& e : response.errors()) {
    EXPECT_EQ(e.file(), "policy.yaml");
    EXPECT_FALSE(e.message().empty());
  }
}

}  // namespace
}  // namespace ballast::testing
