// ballast/server/keda_scaler.h
//
// KEDA's external scaler (gRPC `externalscaler.ExternalScaler`, see
// shared/protocols/keda-external-scaler.md) answered from a recommendation
// Snapshot. These are the pure functions behind the service; GrpcServer
// hosts the service itself.
//
//   externalscaler::ScaledObjectRef ref;
//   (*ref.mutable_scalermetadata())["target"] = "asr-worker";
//   absl::StatusOr<externalscaler::GetMetricSpecResponse> spec =
//       BuildKedaMetricSpec(*store.Current(), ref);
//   // spec->metricspecs(0): {metricName "ballast-asr-worker", targetSize 1}
//
// A ScaledObject picks its ballast target with the trigger metadata key
// `target`; ballast serves the recommendation R as the metric value with a
// target size of 1, so KEDA's HPA computes ceil(R / 1) = R replicas.
//
// Errors (every function): InvalidArgument when the metadata has no `target`
// key; NotFound for a target the running config does not have (the message
// lists the targets that exist); Unavailable before ballast has published
// anything, and (for the functions that need a value) before the target's
// first tick. BuildKedaMetricSpec needs no value: a spec only depends on the
// target existing.
#ifndef BALLAST_SERVER_KEDA_SCALER_H_
#define BALLAST_SERVER_KEDA_SCALER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ballast/store/recommendation_store.h"
#include "externalscaler/externalscaler.pb.h"

namespace ballast::server {

// The trigger metadata key that names the ballast target.
inline constexpr char kKedaTargetKey[] = "target";

// The metric name served for `target`: "ballast-<target>". KEDA prefixes it
// with "s<trigger index>-" in the HPA it builds and asks GetMetrics with that
// name; GetMetrics answers with whatever name it was asked.
std::string KedaMetricName(absl::string_view target);

// The target named by ref.scalerMetadata["target"]; never null on success.
// The pointer lives as long as `snapshot`.
absl::StatusOr<const store::TargetState*> FindKedaTarget(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref);

// One MetricSpec {KedaMetricName(target), targetSize 1, targetSizeFloat 1}.
absl::StatusOr<externalscaler::GetMetricSpecResponse> BuildKedaMetricSpec(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref);

// One MetricValue {request.metricName (or KedaMetricName when empty), R, R}
// with R the target's latest recommendation.
absl::StatusOr<externalscaler::GetMetricsResponse> BuildKedaMetrics(
    const store::Snapshot& snapshot,
    const externalscaler::GetMetricsRequest& request);

// Whether the target's latest recommendation is above zero.
absl::StatusOr<bool> KedaIsActive(const store::Snapshot& snapshot,
                                  const externalscaler::ScaledObjectRef& ref);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_KEDA_SCALER_H_
