#include "ballast/server/keda_scaler.h"

#include <deque>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "grpc_internal.h"
#include "grpc_services.h"

namespace ballast::server {
namespace {

constexpr char kService[] = "externalscaler.ExternalScaler/";

std::string Method(absl::string_view name) {
  return absl::StrCat(kService, name);
}

absl::StatusOr<std::string> TargetName(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref) {
  auto it = ref.scalermetadata().find(kKedaTargetKey);
  if (it == ref.scalermetadata().end() || it->second.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("scalerMetadata has no '", kKedaTargetKey,
                     "' key (targets: ", TargetNames(snapshot), ")"));
  }
  return it->second;
}

absl::StatusOr<int32_t> LatestReplicas(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref) {
  absl::StatusOr<std::string> name = TargetName(snapshot, ref);
  if (!name.ok()) return name.status();
  absl::StatusOr<const engine::Recommendation*> latest =
      LookupRecommendation(snapshot, *name);
  if (!latest.ok()) return latest.status();
  return (*latest)->replicas;
}

// The integer fields are deprecated in KEDA's proto but older KEDA releases
// read only them, so both are always filled.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void SetTargetSize(int64_t size, externalscaler::MetricSpec* spec) {
  spec->set_targetsize(size);
  spec->set_targetsizefloat(static_cast<double>(size));
}

void SetMetricValue(int64_t value, externalscaler::MetricValue* out) {
  out->set_metricvalue(value);
  out->set_metricvaluefloat(static_cast<double>(value));
}
#pragma GCC diagnostic pop

}  // namespace

std::string KedaMetricName(absl::string_view target) {
  return absl::StrCat("ballast-", target);
}

absl::StatusOr<const store::TargetState*> FindKedaTarget(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref) {
  absl::StatusOr<std::string> name = TargetName(snapshot, ref);
  if (!name.ok()) return name.status();
  return LookupTarget(snapshot, *name);
}

absl::StatusOr<externalscaler::GetMetricSpecResponse> BuildKedaMetricSpec(
    const store::Snapshot& snapshot,
    const externalscaler::ScaledObjectRef& ref) {
  absl::StatusOr<const store::TargetState*> target =
      FindKedaTarget(snapshot, ref);
  if (!target.ok()) return target.status();
  externalscaler::GetMetricSpecResponse response;
  externalscaler::MetricSpec* spec = response.add_metricspecs();
  spec->set_metricname(KedaMetricName((*target)->spec->name));
  SetTargetSize(1, spec);
  return response;
}

absl::StatusOr<externalscaler::GetMetricsResponse> BuildKedaMetrics(
    const store::Snapshot& snapshot,
    const externalscaler::GetMetricsRequest& request) {
  const externalscaler::ScaledObjectRef& ref = request.scaledobjectref();
  absl::StatusOr<int32_t> replicas = LatestReplicas(snapshot, ref);
  if (!replicas.ok()) return replicas.status();
  externalscaler::GetMetricsResponse response;
  externalscaler::MetricValue* value = response.add_metricvalues();
  value->set_metricname(
      request.metricname().empty()
          ? KedaMetricName(ref.scalermetadata().at(kKedaTargetKey))
          : request.metricname());
  SetMetricValue(*replicas, value);
  return response;
}

absl::StatusOr<bool> KedaIsActive(const store::Snapshot& snapshot,
                                  const externalscaler::ScaledObjectRef& ref) {
  absl::StatusOr<int32_t> replicas = LatestReplicas(snapshot, ref);
  if (!replicas.ok()) return replicas.status();
  return *replicas > 0;
}

namespace {

// Pushes the activity at once (once the target has a recommendation), then
// only when it changes. Survives reloads that keep the target; ends with
// NOT_FOUND when a reload removes it.
class IsActiveStream final
    : public PushStream<externalscaler::IsActiveResponse> {
 public:
  IsActiveStream(SnapshotFanout& fanout, GrpcMetrics& metrics,
                 const externalscaler::ScaledObjectRef& ref)
      : PushStream(fanout, metrics, Method("StreamIsActive")), ref_(ref) {}

 private:
  void Step(const store::Snapshot& snapshot,
            std::deque<externalscaler::IsActiveResponse>* out,
            std::optional<absl::Status>* end) override {
    absl::StatusOr<bool> active = KedaIsActive(snapshot, ref_);
    if (absl::IsUnavailable(active.status())) return;  // not ticked yet
    if (!active.ok()) {
      *end = active.status();
      return;
    }
    if (last_ == *active) return;
    last_ = *active;
    out->emplace_back().set_result(*active);
  }

  const externalscaler::ScaledObjectRef ref_;
  std::optional<bool> last_;
};

// Pushes the spec at once, then whenever it changes; ends with NOT_FOUND
// when a reload removes the target.
class MetricSpecStream final
    : public PushStream<externalscaler::GetMetricSpecResponse> {
 public:
  MetricSpecStream(SnapshotFanout& fanout, GrpcMetrics& metrics,
                   const externalscaler::ScaledObjectRef& ref)
      : PushStream(fanout, metrics, Method("StreamMetricSpec")), ref_(ref) {}

 private:
  void Step(const store::Snapshot& snapshot,
            std::deque<externalscaler::GetMetricSpecResponse>* out,
            std::optional<absl::Status>* end) override {
    absl::StatusOr<externalscaler::GetMetricSpecResponse> spec =
        BuildKedaMetricSpec(snapshot, ref_);
    if (!spec.ok()) {
      *end = spec.status();
      return;
    }
    std::string bytes = spec->SerializeAsString();
    if (bytes == last_) return;
    last_ = std::move(bytes);
    out->push_back(*std::move(spec));
  }

  const externalscaler::ScaledObjectRef ref_;
  std::string last_;
};

}  // namespace

grpc::ServerUnaryReactor* KedaScalerService::IsActive(
    grpc::CallbackServerContext* context,
    const externalscaler::ScaledObjectRef* request,
    externalscaler::IsActiveResponse* response) {
  return AnswerUnary(context, metrics_, Method("IsActive"), [&] {
    absl::StatusOr<bool> active =
        KedaIsActive(*fanout_.store().Current(), *request);
    if (active.ok()) response->set_result(*active);
    return active.status();
  });
}

grpc::ServerWriteReactor<externalscaler::IsActiveResponse>*
KedaScalerService::StreamIsActive(
    grpc::CallbackServerContext* /*context*/,
    const externalscaler::ScaledObjectRef* request) {
  return std::make_shared<IsActiveStream>(fanout_, metrics_, *request)->Begin();
}

grpc::ServerUnaryReactor* KedaScalerService::GetMetricSpec(
    grpc::CallbackServerContext* context,
    const externalscaler::ScaledObjectRef* request,
    externalscaler::GetMetricSpecResponse* response) {
  return AnswerUnary(context, metrics_, Method("GetMetricSpec"), [&] {
    absl::StatusOr<externalscaler::GetMetricSpecResponse> spec =
        BuildKedaMetricSpec(*fanout_.store().Current(), *request);
    if (!spec.ok()) return spec.status();
    *response = *std::move(spec);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* KedaScalerService::GetMetrics(
    grpc::CallbackServerContext* context,
    const externalscaler::GetMetricsRequest* request,
    externalscaler::GetMetricsResponse* response) {
  return AnswerUnary(context, metrics_, Method("GetMetrics"), [&] {
    absl::StatusOr<externalscaler::GetMetricsResponse> metrics =
        BuildKedaMetrics(*fanout_.store().Current(), *request);
    if (!metrics.ok()) return metrics.status();
    *response = *std::move(metrics);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<externalscaler::GetMetricSpecResponse>*
KedaScalerService::StreamMetricSpec(
    grpc::CallbackServerContext* /*context*/,
    const externalscaler::ScaledObjectRef* request) {
  return std::make_shared<MetricSpecStream>(fanout_, metrics_, *request)
      ->Begin();
}

}  // namespace ballast::server
