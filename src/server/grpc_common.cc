#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "grpc_internal.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::server {

std::string TargetNames(const store::Snapshot& snapshot) {
  if (snapshot.targets.empty()) return "none";
  std::vector<absl::string_view> names;
  for (const auto& [name, state] : snapshot.targets) names.push_back(name);
  return absl::StrJoin(names, ", ");
}

absl::StatusOr<const store::TargetState*> LookupTarget(
    const store::Snapshot& snapshot, absl::string_view name) {
  if (snapshot.generation == 0) {
    return absl::UnavailableError(
        "ballast has not published any recommendation yet");
  }
  const store::TargetState* state =
      snapshot.Find(std::string_view(name.data(), name.size()));
  if (state == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        "no target '", name, "' (targets: ", TargetNames(snapshot), ")"));
  }
  return state;
}

absl::StatusOr<const engine::Recommendation*> LookupRecommendation(
    const store::Snapshot& snapshot, absl::string_view name) {
  absl::StatusOr<const store::TargetState*> state =
      LookupTarget(snapshot, name);
  if (!state.ok()) return state.status();
  if (!(*state)->latest) {
    return absl::UnavailableError(
        absl::StrCat("target '", name,
                     "' has no recommendation yet (its first poll has not "
                     "completed)"));
  }
  return (*state)->latest.get();
}

namespace {

std::string CodeName(absl::StatusCode code) {
  return absl::StatusCodeToString(code);
}

}  // namespace

GrpcMetrics::GrpcMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("ballast_grpc_requests_total")
                    .Help("gRPC calls finished, by method and status code")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("ballast_grpc_request_duration_seconds")
                    .Help("Time to answer a unary gRPC call, by method")
                    .Register(registry)),
      streams_(prometheus::BuildGauge()
                   .Name("ballast_grpc_streams_open")
                   .Help("gRPC server streams open now, by method")
                   .Register(registry)) {}

void GrpcMetrics::RecordUnary(absl::string_view method, absl::StatusCode code,
                              absl::Duration elapsed) {
  requests_.Add({{"method", std::string(method)}, {"code", CodeName(code)}})
      .Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1};
  duration_.Add({{"method", std::string(method)}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(elapsed));
}

void GrpcMetrics::StreamOpened(absl::string_view method) {
  streams_.Add({{"method", std::string(method)}}).Increment();
}

void GrpcMetrics::StreamClosed(absl::string_view method,
                               absl::StatusCode code) {
  streams_.Add({{"method", std::string(method)}}).Decrement();
  requests_.Add({{"method", std::string(method)}, {"code", CodeName(code)}})
      .Increment();
}

SnapshotFanout::SnapshotFanout(store::RecommendationStore& store)
    : store_(store) {
  subscription_ = store_.Subscribe(
      [this](const std::shared_ptr<const store::Snapshot>& snapshot) {
        Deliver(snapshot);
      });
}

SnapshotFanout::~SnapshotFanout() { store_.Unsubscribe(subscription_); }

uint64_t SnapshotFanout::Add(std::shared_ptr<SnapshotSink> sink) {
  std::optional<absl::Status> closed;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    closed = closed_;
    if (!closed.has_value()) {
      id = next_id_++;
      sinks_.emplace(id, sink);
    }
  }
  if (closed.has_value()) sink->Close(*closed);
  return id;
}

void SnapshotFanout::Remove(uint64_t id) {
  absl::MutexLock lock(&mu_);
  sinks_.erase(id);
}

void SnapshotFanout::CloseAll(const absl::Status& status) {
  std::map<uint64_t, std::shared_ptr<SnapshotSink>> sinks;
  {
    absl::MutexLock lock(&mu_);
    closed_ = status;
    sinks = sinks_;
  }
  for (const auto& [id, sink] : sinks) sink->Close(status);
}

void SnapshotFanout::SetObserver(
    std::function<void(const store::Snapshot&)> observer) {
  absl::MutexLock lock(&mu_);
  observer_ = std::move(observer);
}

void SnapshotFanout::Deliver(
    const std::shared_ptr<const store::Snapshot>& snapshot) {
  std::map<uint64_t, std::shared_ptr<SnapshotSink>> sinks;
  std::function<void(const store::Snapshot&)> observer;
  {
    absl::MutexLock lock(&mu_);
    sinks = sinks_;
    observer = observer_;
  }
  if (observer) observer(*snapshot);
  for (const auto& [id, sink] : sinks) sink->OnSnapshot(snapshot);
}

}  // namespace ballast::server
