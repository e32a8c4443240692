// ballast's own gRPC API (server::BallastApiService, src/server/ballast_api.cc)
// on arbitrary requests: ListTargets, GetRecommendation with any target name
// and history, WatchRecommendations with any list of targets, CheckConfig
// with any YAML and file name, against a store the input also drives (see
// grpc_fuzz.h). Unary methods run through their DefaultReactor; the watch is
// bound to a writer while the input's snapshots are published.
//
// Oracles: ListTargets lists the store's targets in order with their bounds,
// inputs and latest replicas (no per-input explanation). GetRecommendation is
// OK exactly when history >= 0 and the target exists with a recommendation
// (else InvalidArgument, Unavailable or NotFound naming the target, with an
// empty response); an OK answer is the store's latest (replicas, time, one
// explanation per input, the last good value of the inputs that have one)
// and the last min(history or 10, kept) recommendations, oldest first. A
// watch sends each watched target's recommendation once per new time, in
// order, and ends NOT_FOUND (naming it) when a named target is or becomes
// unknown (CANCELLED when the client ends it; a prefix of them when it goes
// away with a write out). CheckConfig is always OK;
// valid exactly when it reports no error, with the counts of
// config::ParseConfig and the file name in every error.
//
// Input (FuzzedDataProvider; integers from the end): mode byte (bits 0-1:
// ListTargets, GetRecommendation, WatchRecommendations, CheckConfig; bit 3:
// the store starts empty; bit 4: the watch's client goes away with the last
// event's write out); GetRecommendation: history (int32, 4 bytes);
// WatchRecommendations: the number of targets (0-4); then (not CheckConfig)
// the events (a count 0-8, then 2 bytes each). From the front:
// GetRecommendation's target, the watch's targets, or CheckConfig's file name
// then its YAML (the rest of the input).
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/server/ballast_api.h"
#include "ballast/v1/ballast.pb.h"
#include "grpc_fuzz.h"

namespace {

using namespace ballast_fuzz;  // NOLINT: a harness
namespace v1 = ballast::v1;

int64_t Seconds(absl::Time t) { return absl::ToUnixSeconds(t); }

void CheckRecommendation(const v1::Recommendation& got,
                         const std::string& target,
                         const engine::Recommendation& want) {
  GRPC_FUZZ_CHECK(got.target() == target);
  GRPC_FUZZ_CHECK(got.replicas() == want.replicas);
  GRPC_FUZZ_CHECK(got.desired_replicas() == want.desired);
  GRPC_FUZZ_CHECK(got.current_replicas() == want.current_replicas);
  GRPC_FUZZ_CHECK(got.time().seconds() == Seconds(want.time));
  GRPC_FUZZ_CHECK(got.inputs_size() == static_cast<int>(want.inputs.size()));
}

// A past decision: the recommendation without its inputs.
void CheckPast(const v1::Recommendation& got, const std::string& target,
               const store::PastRecommendation& want) {
  GRPC_FUZZ_CHECK(got.target() == target);
  GRPC_FUZZ_CHECK(got.replicas() == want.replicas);
  GRPC_FUZZ_CHECK(got.desired_replicas() == want.desired);
  GRPC_FUZZ_CHECK(got.current_replicas() == want.current_replicas);
  GRPC_FUZZ_CHECK(got.time().seconds() == Seconds(want.time));
  GRPC_FUZZ_CHECK(got.inputs_size() == 0);
}

void ListTargets(World& world, server::BallastApiService& service) {
  v1::ListTargetsRequest request;
  v1::ListTargetsResponse r;
  grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
    return service.ListTargets(c, &request, &r);
  });
  GRPC_FUZZ_CHECK(s.ok());
  if (world.generation() == 0) {
    GRPC_FUZZ_CHECK(r.targets_size() == 0);
    return;
  }
  const store::Snapshot& now = *world.history().back();
  GRPC_FUZZ_CHECK(r.targets_size() == static_cast<int>(now.targets.size()));
  int i = 0;
  for (const auto& [name, state] : now.targets) {
    const v1::Target& t = r.targets(i++);
    GRPC_FUZZ_CHECK(t.name() == name);
    GRPC_FUZZ_CHECK(t.min_replicas() == state.spec->min_replicas);
    GRPC_FUZZ_CHECK(t.max_replicas() == state.spec->max_replicas);
    GRPC_FUZZ_CHECK(t.inputs_size() ==
                    static_cast<int>(state.spec->inputs.size()));
    GRPC_FUZZ_CHECK(t.has_latest() == (state.latest != nullptr));
    if (t.has_latest()) {
      GRPC_FUZZ_CHECK(t.latest().target() == name);
      GRPC_FUZZ_CHECK(t.latest().replicas() == state.latest->replicas);
      GRPC_FUZZ_CHECK(t.latest().inputs_size() == 0);
    }
  }
}

void GetRecommendation(World& world, server::BallastApiService& service,
                       const v1::GetRecommendationRequest& request) {
  v1::GetRecommendationResponse r;
  grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
    return service.GetRecommendation(c, &request, &r);
  });
  const store::TargetState* state = world.Find(request.target());
  grpc::StatusCode want = grpc::StatusCode::OK;
  if (request.history() < 0) {
    want = grpc::StatusCode::INVALID_ARGUMENT;
  } else if (world.generation() == 0) {
    want = grpc::StatusCode::UNAVAILABLE;
  } else if (state == nullptr) {
    want = grpc::StatusCode::NOT_FOUND;
  } else if (!state->latest) {
    want = grpc::StatusCode::UNAVAILABLE;
  }
  GRPC_FUZZ_CHECK(s.error_code() == want);
  if (!s.ok()) {
    GRPC_FUZZ_CHECK(r.ByteSizeLong() == 0);
    if (want == grpc::StatusCode::NOT_FOUND) {
      GRPC_FUZZ_CHECK(absl::StrContains(
          s.error_message(), "no target '" + request.target() + "'"));
    }
    return;
  }
  // The store's value, not only the model's.
  GRPC_FUZZ_CHECK(
      world.store().Current()->Find(request.target())->latest->replicas ==
      state->latest->replicas);
  CheckRecommendation(r.recommendation(), request.target(), *state->latest);
  for (size_t i = 0; i < state->inputs.size() &&
                     i < static_cast<size_t>(r.recommendation().inputs_size());
       ++i) {
    const v1::InputExplanation& in = r.recommendation().inputs(i);
    GRPC_FUZZ_CHECK(in.has_last_value() == state->inputs[i].value.has_value());
    if (in.has_last_value()) {
      GRPC_FUZZ_CHECK(in.last_value() == *state->inputs[i].value);
      GRPC_FUZZ_CHECK(in.last_value_time().seconds() ==
                      Seconds(state->inputs[i].sampled_at));
    }
  }
  const size_t history =
      request.history() == 0 ? server::kDefaultHistory : request.history();
  const std::vector<store::PastRecommendation> recent =
      state->recent.OldestFirst();
  const size_t n = std::min(history, recent.size());
  GRPC_FUZZ_CHECK(r.recent_size() == static_cast<int>(n));
  for (size_t i = 0; i < n; ++i) {
    CheckPast(r.recent(i), request.target(), recent[recent.size() - n + i]);
  }
}

void Watch(World& world, FuzzedDataProvider& in, bool stall,
           const v1::WatchRecommendationsRequest& request) {
  server::SnapshotFanout fanout(world.store());
  server::BallastApiService service(fanout, Metrics());
  grpc::CallbackServerContext context;
  const size_t first = world.generation() == 0 ? 0 : world.generation() - 1;
  Writer<v1::Recommendation> writer;
  writer.Bind(service.WatchRecommendations(&context, &request));
  writer.Drain();
  // `stall`: the client reads nothing the last event brings and goes away
  // with a write out.
  world.PublishEvents(in, [&](bool last) {
    if (!stall || !last) writer.Drain();
  });
  const grpc::Status status = writer.End(stall);

  // (target, replicas, time) of each message due, and the end.
  using Sent = std::tuple<std::string, int32_t, int64_t>;
  std::vector<Sent> want;
  grpc::StatusCode end = grpc::StatusCode::CANCELLED;
  std::string missing;
  std::map<std::string, absl::Time> last;
  const std::vector<std::string> named(request.targets().begin(),
                                       request.targets().end());
  for (size_t i = first; i < world.history().size(); ++i) {
    const store::Snapshot& s = *world.history()[i];
    auto unknown = std::find_if(named.begin(), named.end(), [&](const auto& n) {
      return s.Find(n) == nullptr;
    });
    if (unknown != named.end()) {
      end = grpc::StatusCode::NOT_FOUND;
      missing = *unknown;
      break;
    }
    for (const auto& [name, state] : s.targets) {
      if (!named.empty() &&
          std::find(named.begin(), named.end(), name) == named.end()) {
        continue;
      }
      if (!(state.latest != nullptr)) continue;
      auto it = last.find(name);
      if (it != last.end() && it->second == state.latest->time) continue;
      last[name] = state.latest->time;
      want.emplace_back(name, state.latest->replicas,
                        Seconds(state.latest->time));
    }
  }
  GRPC_FUZZ_CHECK(status.error_code() == end);
  if (end == grpc::StatusCode::NOT_FOUND) {
    GRPC_FUZZ_CHECK(absl::StrContains(status.error_message(),
                                      "no target '" + missing + "'"));
  }
  // Everything due was sent, in order; a write lost to the client's going
  // away loses it and what was queued after it.
  GRPC_FUZZ_CHECK(writer.lost() ? writer.sent().size() < want.size()
                                : writer.sent().size() == want.size());
  for (size_t i = 0; i < writer.sent().size(); ++i) {
    const v1::Recommendation& got = writer.sent()[i];
    GRPC_FUZZ_CHECK(Sent(got.target(), got.replicas(), got.time().seconds()) ==
                    want[i]);
    GRPC_FUZZ_CHECK(got.inputs_size() == 2);  // with the explanation
  }
}

void CheckConfig(server::BallastApiService& service,
                 const v1::CheckConfigRequest& request) {
  v1::CheckConfigResponse r;
  grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
    return service.CheckConfig(c, &request, &r);
  });
  GRPC_FUZZ_CHECK(s.ok());
  GRPC_FUZZ_CHECK(r.valid() == (r.errors_size() == 0));
  config::ConfigErrors errors;
  std::optional<config::Config> parsed =
      config::ParseConfig(request.yaml(), "x.yaml", &errors);
  GRPC_FUZZ_CHECK(r.errors_size() == static_cast<int>(errors.size()));
  GRPC_FUZZ_CHECK(r.targets() ==
                  (parsed ? static_cast<int>(parsed->targets.size()) : 0));
  const std::string file =
      request.file_name().empty() ? "<request>" : request.file_name();
  for (const v1::ConfigError& e : r.errors()) {
    GRPC_FUZZ_CHECK(e.file() == file);
    GRPC_FUZZ_CHECK(!e.message().empty());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  World world;
  if ((mode & 8) == 0) world.Publish();
  switch (mode & 3) {
    case 0: {
      world.PublishEvents(in);
      server::SnapshotFanout fanout(world.store());
      server::BallastApiService service(fanout, Metrics());
      ListTargets(world, service);
      break;
    }
    case 1: {
      v1::GetRecommendationRequest request;
      request.set_history(in.ConsumeIntegral<int32_t>());
      request.set_target(in.ConsumeRandomLengthString(128));
      world.PublishEvents(in);
      server::SnapshotFanout fanout(world.store());
      server::BallastApiService service(fanout, Metrics());
      GetRecommendation(world, service, request);
      break;
    }
    case 2: {
      v1::WatchRecommendationsRequest request;
      const int n = in.ConsumeIntegralInRange(0, 4);
      for (int i = 0; i < n; ++i) {
        request.add_targets(in.ConsumeRandomLengthString(64));
      }
      Watch(world, in, (mode & 0x10) != 0, request);
      break;
    }
    default: {
      v1::CheckConfigRequest request;
      request.set_file_name(in.ConsumeRandomLengthString(64));
      request.set_yaml(in.ConsumeRemainingBytesAsString());
      server::SnapshotFanout fanout(world.store());
      server::BallastApiService service(fanout, Metrics());
      CheckConfig(service, request);
      break;
    }
  }
  return 0;
}
