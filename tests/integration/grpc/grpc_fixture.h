// tests/integration/grpc/grpc_fixture.h
//
// A GrpcServer on a free loopback port serving a RecommendationStore that the
// test fills with real engine::Tick results ("reloads" included), and
// clients generated from our protos.
//
//   TEST_F(GrpcServerTest, Something) {
//     ticker_.Tick({{"asr-worker", 45}});  // publishes a snapshot
//     ... keda_->GetMetrics(...) ...       // == ticker_.Latest("asr-worker")
//   }
#ifndef BALLAST_TESTS_INTEGRATION_GRPC_GRPC_FIXTURE_H_
#define BALLAST_TESTS_INTEGRATION_GRPC_GRPC_FIXTURE_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "ballast/engine/engine.h"
#include "ballast/server/grpc_server.h"
#include "ballast/store/recommendation_store.h"
#include "ballast/v1/ballast.grpc.pb.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace ballast::testing {

// Targets with one averageValue input of 10 per replica and no scale-down
// window, so each tick's recommendation follows its load.
inline TargetSpec QueueSpec(const std::string& name, int32_t min_replicas) {
  TargetSpec spec;
  spec.name = name;
  spec.min_replicas = min_replicas;
  spec.max_replicas = 20;
  spec.inputs.push_back({.name = "backlog",
                         .target_type = TargetType::kAverageValue,
                         .target = 10});
  Behavior behavior = Behavior::Defaults();
  behavior.scale_down.stabilization_window_seconds = 0;
  spec.behavior = behavior;
  return spec;
}

// Runs the engine on given loads and publishes each tick's snapshot, as the
// daemon's poll loop does.
class Ticker {
 public:
  explicit Ticker(store::RecommendationStore& store) : store_(store) {}

  void AddTarget(TargetSpec spec) {
    std::string name = spec.name;
    targets_[name].spec = std::move(spec);
  }
  // A config reload without `name`.
  void RemoveTarget(const std::string& name) {
    targets_.erase(name);
    ++config_generation_;
  }

  // One tick 15 s after the previous: every target whose name is in `loads`
  // ticks with that backlog; the others keep their state.
  void Tick(const std::map<std::string, double>& loads) {
    now_ += absl::Seconds(15);
    store::Snapshot snapshot;
    snapshot.config_generation = config_generation_;
    snapshot.time = now_;
    for (auto& [name, target] : targets_) {
      auto load = loads.find(name);
      if (load != loads.end()) {
        engine::TickResult r = engine::Tick(
            target.spec, std::move(target.history),
            {.now = now_,
             .inputs = {engine::InputReading::Value(load->second)}});
        target.history = std::move(r.history);
        if (target.state.latest &&
            target.state.latest->replicas != r.recommendation.replicas) {
          ++target.state.replicas_version;
        }
        target.state.recent.Push(
            store::PastRecommendation::Of(r.recommendation), 20);
        target.state.latest =
            std::make_shared<const engine::Recommendation>(r.recommendation);
        target.state.inputs = {{.name = "backlog",
                                .value = load->second,
                                .sampled_at = now_ - absl::Seconds(1)}};
      }
      target.state.spec = std::make_shared<const TargetSpec>(target.spec);
      if (target.state.inputs.empty())
        target.state.inputs.push_back({.name = "backlog"});
      snapshot.targets[name] = target.state;
    }
    store_.Publish(std::move(snapshot));
  }

  const engine::Recommendation& Latest(const std::string& name) {
    return *targets_.at(name).state.latest;
  }

 private:
  struct Target {
    TargetSpec spec;
    engine::TargetHistory history;
    store::TargetState state;
  };
  store::RecommendationStore& store_;
  std::map<std::string, Target> targets_;
  absl::Time now_ = absl::FromUnixSeconds(1700000000);
  uint64_t config_generation_ = 1;
};

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ticker_.AddTarget(QueueSpec("asr-worker", 1));
    ticker_.AddTarget(QueueSpec("batch", 0));
    StartServer({.listen = "127.0.0.1:0"});
  }

  void StartServer(const config::GrpcServerConfig& config) {
    auto server = server::GrpcServer::Start(config, store_, registry_);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    address_ = "127.0.0.1:" + std::to_string(server_->port());
    channel_ =
        grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    keda_ = externalscaler::ExternalScaler::NewStub(channel_);
    api_ = ballast::v1::Ballast::NewStub(channel_);
  }

  // A context that gives up after 20 s, so a missing push fails the test
  // instead of hanging it.
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::seconds(20));
    return context;
  }

  static externalscaler::ScaledObjectRef Ref(const std::string& target) {
    externalscaler::ScaledObjectRef ref;
    ref.set_name("worker");
    ref.set_namespace_("default");
    (*ref.mutable_scalermetadata())["scalerAddress"] = "ballast:9090";
    if (!target.empty()) (*ref.mutable_scalermetadata())["target"] = target;
    return ref;
  }

  store::RecommendationStore store_;
  prometheus::Registry registry_;
  Ticker ticker_{store_};
  std::unique_ptr<server::GrpcServer> server_;
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> keda_;
  std::unique_ptr<ballast::v1::Ballast::Stub> api_;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_GRPC_GRPC_FIXTURE_H_
