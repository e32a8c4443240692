#include "ballast/server/ballast_api.h"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "ballast/config/config.h"
#include "grpc_internal.h"
#include "grpc_services.h"

namespace ballast::server {
namespace {

constexpr char kService[] = "ballast.v1.Ballast/";

std::string Method(absl::string_view name) {
  return absl::StrCat(kService, name);
}

void SetTimestamp(absl::Time time, google::protobuf::Timestamp* out) {
  const absl::Duration since_epoch = time - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(since_epoch);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));
}

}  // namespace

ballast::v1::Recommendation PastToProto(absl::string_view target,
                                        const store::PastRecommendation& past) {
  ballast::v1::Recommendation out;
  out.set_target(std::string(target));
  SetTimestamp(past.time, out.mutable_time());
  out.set_current_replicas(past.current_replicas);
  out.set_desired_replicas(past.desired);
  out.set_replicas(past.replicas);
  out.set_limited_by(std::string(engine::LimitName(past.limited_by)));
  out.set_burst(past.burst);
  return out;
}

ballast::v1::Recommendation RecommendationToProto(
    absl::string_view target, const engine::Recommendation& recommendation,
    const std::vector<store::InputValue>* values) {
  ballast::v1::Recommendation out =
      PastToProto(target, store::PastRecommendation::Of(recommendation));
  for (size_t i = 0; i < recommendation.inputs.size(); ++i) {
    const engine::InputExplanation& in = recommendation.inputs[i];
    ballast::v1::InputExplanation* input = out.add_inputs();
    input->set_name(in.name);
    if (in.raw.has_value()) input->set_raw(*in.raw);
    if (in.smoothed.has_value()) input->set_smoothed(*in.smoothed);
    if (in.proposal.has_value()) input->set_proposal(*in.proposal);
    if (in.untolerated_proposal.has_value()) {
      input->set_untolerated_proposal(*in.untolerated_proposal);
    }
    input->set_within_tolerance(in.within_tolerance);
    input->set_fallback(in.fallback);
    if (in.predicted.has_value()) input->set_predicted(*in.predicted);
    input->set_trend(in.trend);
    if (in.throughput.has_value()) input->set_throughput(*in.throughput);
    input->set_drain(in.drain);
    if (in.active.has_value()) input->set_active(*in.active);
    input->set_consecutive_failures(in.consecutive_failures);
    input->set_error(in.error);
    if (values == nullptr || i >= values->size()) continue;
    const store::InputValue& value = (*values)[i];
    if (value.value.has_value()) {
      input->set_last_value(*value.value);
      SetTimestamp(value.sampled_at, input->mutable_last_value_time());
    }
  }
  return out;
}

ballast::v1::ListTargetsResponse BuildListTargets(
    const store::Snapshot& snapshot) {
  ballast::v1::ListTargetsResponse response;
  for (const auto& [name, state] : snapshot.targets) {
    ballast::v1::Target* target = response.add_targets();
    target->set_name(name);
    target->set_min_replicas(state.spec->min_replicas);
    target->set_max_replicas(state.spec->max_replicas);
    for (const InputSpec& input : state.spec->inputs) {
      target->add_inputs(input.name);
    }
    if (state.latest) {
      *target->mutable_latest() = RecommendationToProto(name, *state.latest);
      target->mutable_latest()->clear_inputs();
    }
  }
  return response;
}

absl::StatusOr<ballast::v1::GetRecommendationResponse> BuildGetRecommendation(
    const store::Snapshot& snapshot,
    const ballast::v1::GetRecommendationRequest& request) {
  if (request.history() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("history must be >= 0, got ", request.history()));
  }
  absl::StatusOr<const engine::Recommendation*> latest =
      LookupRecommendation(snapshot, request.target());
  if (!latest.ok()) return latest.status();
  const store::TargetState& state = *snapshot.Find(request.target());
  ballast::v1::GetRecommendationResponse response;
  *response.mutable_recommendation() =
      RecommendationToProto(request.target(), **latest, &state.inputs);
  const size_t history = request.history() == 0
                             ? size_t{kDefaultHistory}
                             : static_cast<size_t>(request.history());
  const std::vector<store::PastRecommendation> recent =
      state.recent.OldestFirst();
  const size_t first = recent.size() > history ? recent.size() - history : 0;
  for (size_t i = first; i < recent.size(); ++i) {
    *response.add_recent() = PastToProto(request.target(), recent[i]);
  }
  response.set_computed_by(snapshot.computed_by);
  response.mutable_computed_at()->set_seconds(
      absl::ToUnixSeconds(snapshot.time));
  response.mutable_computed_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(
          snapshot.time -
          absl::FromUnixSeconds(absl::ToUnixSeconds(snapshot.time)))));
  return response;
}

absl::Status CheckWatchTargets(
    const store::Snapshot& snapshot,
    const ballast::v1::WatchRecommendationsRequest& request) {
  for (const std::string& name : request.targets()) {
    absl::StatusOr<const store::TargetState*> state =
        LookupTarget(snapshot, name);
    if (!state.ok()) return state.status();
  }
  return absl::OkStatus();
}

ballast::v1::CheckConfigResponse CheckConfigText(
    const ballast::v1::CheckConfigRequest& request) {
  config::ConfigErrors errors;
  const std::string file =
      request.file_name().empty() ? "<request>" : request.file_name();
  std::optional<config::Config> parsed =
      config::ParseConfig(request.yaml(), file, &errors);
  ballast::v1::CheckConfigResponse response;
  response.set_valid(parsed.has_value() && errors.empty());
  if (parsed.has_value()) {
    response.set_targets(static_cast<int32_t>(parsed->targets.size()));
  }
  for (const config::ConfigError& error : errors) {
    ballast::v1::ConfigError* out = response.add_errors();
    out->set_file(error.file);
    out->set_line(error.line);
    out->set_column(error.column);
    out->set_path(error.path);
    out->set_message(error.message);
  }
  return response;
}

namespace {

// Sends each watched target's latest recommendation at once, then every new
// one. Watching named targets ends with NOT_FOUND when one is unknown at
// start or removed by a reload; watching all follows the running config.
class WatchStream final : public PushStream<ballast::v1::Recommendation> {
 public:
  WatchStream(SnapshotFanout& fanout, GrpcMetrics& metrics,
              const ballast::v1::WatchRecommendationsRequest& request)
      : PushStream(fanout, metrics, Method("WatchRecommendations")),
        request_(request) {}

 private:
  void Step(const store::Snapshot& snapshot,
            std::deque<ballast::v1::Recommendation>* out,
            std::optional<absl::Status>* end) override {
    if (absl::Status status = CheckWatchTargets(snapshot, request_);
        !status.ok()) {
      *end = status;
      return;
    }
    const std::set<std::string> watched(request_.targets().begin(),
                                        request_.targets().end());
    for (const auto& [name, state] : snapshot.targets) {
      if (!watched.empty() && !watched.contains(name)) continue;
      if (!state.latest) continue;
      auto [it, inserted] = sent_.try_emplace(name, state.latest->time);
      if (!inserted && it->second == state.latest->time) continue;
      it->second = state.latest->time;
      out->push_back(RecommendationToProto(name, *state.latest, &state.inputs));
    }
  }

  const ballast::v1::WatchRecommendationsRequest request_;
  std::map<std::string, absl::Time> sent_;  // time of the last one sent
};

}  // namespace

grpc::ServerUnaryReactor* BallastApiService::ListTargets(
    grpc::CallbackServerContext* context,
    const ballast::v1::ListTargetsRequest* /*request*/,
    ballast::v1::ListTargetsResponse* response) {
  return AnswerUnary(context, metrics_, Method("ListTargets"), [&] {
    *response = BuildListTargets(*fanout_.store().Current());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* BallastApiService::GetRecommendation(
    grpc::CallbackServerContext* context,
    const ballast::v1::GetRecommendationRequest* request,
    ballast::v1::GetRecommendationResponse* response) {
  return AnswerUnary(context, metrics_, Method("GetRecommendation"), [&] {
    absl::StatusOr<ballast::v1::GetRecommendationResponse> r =
        BuildGetRecommendation(*fanout_.store().Current(), *request);
    if (!r.ok()) return r.status();
    *response = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::ServerWriteReactor<ballast::v1::Recommendation>*
BallastApiService::WatchRecommendations(
    grpc::CallbackServerContext* /*context*/,
    const ballast::v1::WatchRecommendationsRequest* request) {
  return std::make_shared<WatchStream>(fanout_, metrics_, *request)->Begin();
}

grpc::ServerUnaryReactor* BallastApiService::CheckConfig(
    grpc::CallbackServerContext* context,
    const ballast::v1::CheckConfigRequest* request,
    ballast::v1::CheckConfigResponse* response) {
  return AnswerUnary(context, metrics_, Method("CheckConfig"), [&] {
    *response = CheckConfigText(*request);
    return absl::OkStatus();
  });
}

}  // namespace ballast::server
