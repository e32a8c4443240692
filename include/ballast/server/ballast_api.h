// ballast/server/ballast_api.h
//
// ballast's own gRPC API (`ballast.v1.Ballast`, proto/ballast/v1/ballast.proto)
// answered from a recommendation Snapshot. These are the pure functions
// behind the service; GrpcServer hosts the service itself.
//
//   ballast::v1::GetRecommendationRequest request;
//   request.set_target("asr-worker");
//   absl::StatusOr<ballast::v1::GetRecommendationResponse> r =
//       BuildGetRecommendation(*store.Current(), request);
//   // r->recommendation().replicas(), r->recommendation().inputs(0).raw()
//
// Target errors are those of every ballast server: NotFound for an unknown
// target (the message lists the targets that exist); Unavailable before
// ballast has published anything or before the target's first tick.
#ifndef BALLAST_SERVER_BALLAST_API_H_
#define BALLAST_SERVER_BALLAST_API_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ballast/engine/engine.h"
#include "ballast/store/recommendation_store.h"
#include "ballast/v1/ballast.pb.h"

namespace ballast::server {

// How many past recommendations GetRecommendation returns by default.
inline constexpr int kDefaultHistory = 10;

// `recommendation` of `target` as the API message. With `values` (one per
// input, as TargetState::inputs), each input also carries its last good value
// and when it was read.
ballast::v1::Recommendation RecommendationToProto(
    absl::string_view target, const engine::Recommendation& recommendation,
    const std::vector<store::InputValue>* values = nullptr);

// A past recommendation as the API message: the decision, no inputs.
ballast::v1::Recommendation PastToProto(absl::string_view target,
                                        const store::PastRecommendation& past);

// Every target of the snapshot, by name, with its latest recommendation (when
// it has one; without the per-input explanation).
ballast::v1::ListTargetsResponse BuildListTargets(
    const store::Snapshot& snapshot);

// The latest recommendation with its explanation and the last
// `request.history` recommendations (kDefaultHistory when 0; oldest first).
// InvalidArgument for a negative history.
absl::StatusOr<ballast::v1::GetRecommendationResponse> BuildGetRecommendation(
    const store::Snapshot& snapshot,
    const ballast::v1::GetRecommendationRequest& request);

// OK when every target the request names exists (an empty list watches all
// targets); NotFound naming the first unknown one otherwise.
absl::Status CheckWatchTargets(
    const store::Snapshot& snapshot,
    const ballast::v1::WatchRecommendationsRequest& request);

// Parses and validates the request's YAML as `ballast check-config` does;
// every error is returned.
ballast::v1::CheckConfigResponse CheckConfigText(
    const ballast::v1::CheckConfigRequest& request);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_BALLAST_API_H_
