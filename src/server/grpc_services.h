// src/server/grpc_services.h
//
// The callback services GrpcServer hosts (not a public header). Each answers
// from the fan-out's store and records its calls in GrpcMetrics.
#ifndef BALLAST_SRC_SERVER_GRPC_SERVICES_H_
#define BALLAST_SRC_SERVER_GRPC_SERVICES_H_

#include "ballast/v1/ballast.grpc.pb.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpc_internal.h"

namespace ballast::server {

class KedaScalerService final
    : public externalscaler::ExternalScaler::CallbackService {
 public:
  KedaScalerService(SnapshotFanout& fanout, GrpcMetrics& metrics)
      : fanout_(fanout), metrics_(metrics) {}

  grpc::ServerUnaryReactor* IsActive(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request,
      externalscaler::IsActiveResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::IsActiveResponse>* StreamIsActive(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request) override;
  grpc::ServerUnaryReactor* GetMetricSpec(
      grpc::CallbackServerContext* context,
      const externalscaler::ScaledObjectRef* request,
      externalscaler::GetMetricSpecResponse* response) override;
  grpc::ServerUnaryReactor* GetMetrics(
      grpc::CallbackServerContext* context,
      const externalscaler::GetMetricsRequest* request,
      externalscaler::GetMetricsResponse* response) override;
  grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>*
  StreamMetricSpec(grpc::CallbackServerContext* context,
                   const externalscaler::ScaledObjectRef* request) override;

 private:
  SnapshotFanout& fanout_;
  GrpcMetrics& metrics_;
};

class BallastApiService final : public ballast::v1::Ballast::CallbackService {
 public:
  BallastApiService(SnapshotFanout& fanout, GrpcMetrics& metrics)
      : fanout_(fanout), metrics_(metrics) {}

  grpc::ServerUnaryReactor* ListTargets(
      grpc::CallbackServerContext* context,
      const ballast::v1::ListTargetsRequest* request,
      ballast::v1::ListTargetsResponse* response) override;
  grpc::ServerUnaryReactor* GetRecommendation(
      grpc::CallbackServerContext* context,
      const ballast::v1::GetRecommendationRequest* request,
      ballast::v1::GetRecommendationResponse* response) override;
  grpc::ServerWriteReactor<ballast::v1::Recommendation>* WatchRecommendations(
      grpc::CallbackServerContext* context,
      const ballast::v1::WatchRecommendationsRequest* request) override;
  grpc::ServerUnaryReactor* CheckConfig(
      grpc::CallbackServerContext* context,
      const ballast::v1::CheckConfigRequest* request,
      ballast::v1::CheckConfigResponse* response) override;

 private:
  SnapshotFanout& fanout_;
  GrpcMetrics& metrics_;
};

}  // namespace ballast::server

#endif  // BALLAST_SRC_SERVER_GRPC_SERVICES_H_
