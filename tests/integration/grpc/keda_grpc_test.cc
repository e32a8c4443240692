// KEDA's external scaler over a real gRPC connection, with a client
// generated from proto/externalscaler/externalscaler.proto.
#include <string>

#include "gmock/gmock.h"
#include "grpc_fixture.h"
#include "gtest/gtest.h"

namespace ballast::testing {
namespace {

using ::testing::HasSubstr;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
TEST_F(GrpcServerTest, KedaUnaryCallsServeTheEngineRecommendation) {
  ticker_.Tick({{"asr-worker", 45}, {"batch", 0}});
  const int32_t r = ticker_.Latest("asr-worker").replicas;
  ASSERT_EQ(r, 5);  // ceil(45 / 10)

  externalscaler::GetMetricSpecResponse spec;
  ASSERT_TRUE(
      keda_->GetMetricSpec(Context().get(), Ref("asr-worker"), &spec).ok());
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).metricname(), "ballast-asr-worker");
  EXPECT_EQ(spec.metricspecs(0).targetsize(), 1);
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 1.0);

  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref("asr-worker");
  request.set_metricname("s0-ballast-asr-worker");
  externalscaler::GetMetricsResponse metrics;
  ASSERT_TRUE(keda_->GetMetrics(Context().get(), request, &metrics).ok());
  ASSERT_EQ(metrics.metricvalues_size(), 1);
  EXPECT_EQ(metrics.metricvalues(0).metricname(), "s0-ballast-asr-worker");
  EXPECT_EQ(metrics.metricvalues(0).metricvalue(), r);
  EXPECT_EQ(metrics.metricvalues(0).metricvaluefloat(), r);

  externalscaler::IsActiveResponse active;
  ASSERT_TRUE(
      keda_->IsActive(Context().get(), Ref("asr-worker"), &active).ok());
  EXPECT_TRUE(active.result());
  ASSERT_EQ(ticker_.Latest("batch").replicas, 0);
  ASSERT_TRUE(keda_->IsActive(Context().get(), Ref("batch"), &active).ok());
  EXPECT_FALSE(active.result());

  // The next tick's recommendation is served at once.
  ticker_.Tick({{"asr-worker", 91}});
  ASSERT_TRUE(keda_->GetMetrics(Context().get(), request, &metrics).ok());
  EXPECT_EQ(metrics.metricvalues(0).metricvalue(),
            ticker_.Latest("asr-worker").replicas);
}
#pragma GCC diagnostic pop

TEST_F(GrpcServerTest, KedaErrorsNameTheProblem) {
  externalscaler::IsActiveResponse active;
  // Nothing published yet.
  grpc::Status status =
      keda_->IsActive(Context().get(), Ref("asr-worker"), &active);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);

  ticker_.Tick({{"asr-worker", 10}});  // batch has not ticked
  status = keda_->IsActive(Context().get(), Ref(""), &active);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "scalerMetadata has no 'target' key (targets: asr-worker, batch)");

  status = keda_->IsActive(Context().get(), Ref("asr"), &active);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("'asr'"));
  EXPECT_THAT(status.error_message(), HasSubstr("targets: asr-worker, batch"));

  externalscaler::GetMetricsRequest request;
  *request.mutable_scaledobjectref() = Ref("batch");
  externalscaler::GetMetricsResponse metrics;
  status = keda_->GetMetrics(Context().get(), request, &metrics);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(status.error_message(),
              HasSubstr("'batch' has no recommendation yet"));
}

TEST_F(GrpcServerTest, StreamIsActivePushesOnChangeOnly) {
  ticker_.Tick({{"asr-worker", 10}, {"batch", 25}});
  auto context = Context();
  auto reader = keda_->StreamIsActive(context.get(), Ref("batch"));
  externalscaler::IsActiveResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_TRUE(message.result());  // at once

  // Same activity (3 then 4 replicas): nothing is pushed; then inactive.
  ticker_.Tick({{"batch", 25}});
  ticker_.Tick({{"batch", 38}});
  ticker_.Tick({{"batch", 0}});
  ASSERT_EQ(ticker_.Latest("batch").replicas, 0);
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_FALSE(message.result());

  // A reload that keeps the target keeps the stream.
  ticker_.RemoveTarget("asr-worker");
  ticker_.Tick({{"batch", 0}});
  ticker_.Tick({{"batch", 5}});
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_TRUE(message.result());

  // A reload that removes it ends the stream with NOT_FOUND.
  ticker_.RemoveTarget("batch");
  ticker_.Tick({});
  EXPECT_FALSE(reader->Read(&message));
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("'batch'"));
}

TEST_F(GrpcServerTest, StreamIsActiveStartErrors) {
  ticker_.Tick({{"asr-worker", 10}});
  externalscaler::IsActiveResponse message;
  auto context = Context();
  auto reader = keda_->StreamIsActive(context.get(), Ref("nope"));
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);

  auto context2 = Context();
  reader = keda_->StreamIsActive(context2.get(), Ref(""));
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // A target that has not ticked yet: the first push waits for its tick.
  auto context3 = Context();
  reader = keda_->StreamIsActive(context3.get(), Ref("batch"));
  ticker_.Tick({{"batch", 0}});
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_FALSE(message.result());
}

TEST_F(GrpcServerTest, StreamMetricSpecSendsTheSpecAtOnceAndEndsOnRemoval) {
  ticker_.Tick({{"asr-worker", 10}, {"batch", 10}});
  auto context = Context();
  auto reader = keda_->StreamMetricSpec(context.get(), Ref("asr-worker"));
  externalscaler::GetMetricSpecResponse spec;
  ASSERT_TRUE(reader->Read(&spec));
  ASSERT_EQ(spec.metricspecs_size(), 1);
  EXPECT_EQ(spec.metricspecs(0).metricname(), "ballast-asr-worker");
  EXPECT_EQ(spec.metricspecs(0).targetsizefloat(), 1.0);

  // Load changes do not change the spec: nothing more until the removal.
  ticker_.Tick({{"asr-worker", 200}});
  ticker_.Tick({{"asr-worker", 20}});
  ticker_.RemoveTarget("asr-worker");
  ticker_.Tick({{"batch", 10}});
  EXPECT_FALSE(reader->Read(&spec));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace ballast::testing
