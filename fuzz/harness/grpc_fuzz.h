// What keda_fuzz and ballast_api_fuzz share: a store the input drives, the
// services called as gRPC calls them (no server, no network), and the checks
// every gRPC answer must pass.
//
// The store: a model of the running targets (asr: 7 replicas, 12 past
// recommendations, two inputs; tts: configured, no tick yet; idle: 0
// replicas) that the input's events change (a reload removing or adding a
// target, a tick), each change published as the daemon publishes a
// snapshot. Unary methods run through grpc::testing::DefaultReactorTestPeer
// (the DefaultReactor finishes into it); server streams are bound to a
// Writer standing for gRPC's call object, which takes each message, acks it
// (OnWriteDone) and ends with the client cancelling if the stream has not
// finished by itself, then OnDone, as gRPC does.
#ifndef BALLAST_FUZZ_HARNESS_GRPC_FUZZ_H_
#define BALLAST_FUZZ_HARNESS_GRPC_FUZZ_H_

#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ballast/store/recommendation_store.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/test/default_reactor_test_peer.h"
#include "prometheus/registry.h"
#include "server/grpc_internal.h"
#include "server/grpc_services.h"

namespace ballast_fuzz {

using namespace ballast;  // NOLINT: a harness

// Aborts with a message (libFuzzer reports the abort as a crash).
#define GRPC_FUZZ_CHECK(cond)                                              \
  do {                                                                     \
    if (!(cond)) {                                                         \
      std::fprintf(stderr, "oracle failed: %s (%s:%d)\n", #cond, __FILE__, \
                   __LINE__);                                              \
      std::abort();                                                        \
    }                                                                      \
  } while (0)

inline const char* const kNames[] = {"asr", "tts", "idle", "new-target"};

inline engine::Recommendation Rec(absl::Time time, int32_t replicas,
                                  bool with_inputs) {
  engine::Recommendation r;
  r.time = time;
  r.current_replicas = 3;
  r.desired = replicas;
  r.replicas = replicas;
  if (with_inputs) {
    engine::InputExplanation in;
    in.name = "backlog";
    in.raw = 42.5;
    in.smoothed = 40;
    in.proposal = replicas;
    in.untolerated_proposal = replicas;
    r.inputs.push_back(in);
    engine::InputExplanation failed;
    failed.name = "latency";
    failed.consecutive_failures = 2;
    failed.error = "connection refused";
    r.inputs.push_back(failed);
  }
  return r;
}

inline store::TargetState NewTarget(const std::string& name) {
  store::TargetState t;
  auto spec = std::make_shared<TargetSpec>();
  spec->name = name;
  spec->min_replicas = 0;
  spec->max_replicas = 300;
  spec->inputs.push_back({.name = "backlog"});
  spec->inputs.push_back({.name = "latency"});
  t.spec = std::move(spec);
  t.inputs.push_back({.name = "backlog",
                      .value = 42.5,
                      .sampled_at = absl::FromUnixSeconds(1790000000)});
  t.inputs.push_back({.name = "latency", .error = "connection refused"});
  return t;
}

// The store and the targets the daemon would have published into it.
class World {
 public:
  static constexpr size_t kRecent = 30;  // the daemon's default history

  World() {
    store::TargetState asr = NewTarget("asr");
    for (int i = 0; i < 12; ++i) {
      Tick(asr, 5 + i % 3, /*advance=*/true);
    }
    // The latest (with its explanation) as the newest past decision.
    asr.latest =
        std::make_shared<const engine::Recommendation>(Rec(now_, 7, true));
    asr.recent.Push(store::PastRecommendation::Of(*asr.latest), kRecent);
    model_.emplace("asr", std::move(asr));
    model_.emplace("tts", NewTarget("tts"));
    store::TargetState idle = NewTarget("idle");
    Tick(idle, 0, true);
    model_.emplace("idle", std::move(idle));
  }

  // Consumes up to 8 events (2 bytes each, from the end of the input) and
  // publishes after each, then calls `after_each(last)` (a stream's client
  // reads).
  template <typename F>
  void PublishEvents(FuzzedDataProvider& in, F&& after_each) {
    const int events = in.ConsumeIntegralInRange(0, 8);
    for (int i = 0; i < events; ++i) {
      const uint8_t op = in.ConsumeIntegral<uint8_t>();
      const uint8_t value = in.ConsumeIntegral<uint8_t>();
      const std::string name = kNames[(op >> 2) % 4];
      switch (op & 3) {
        case 0:  // a reload without the target
          model_.erase(name);
          break;
        case 1:  // a reload that (re)configures it: no tick yet
          model_.insert_or_assign(name, NewTarget(name));
          break;
        case 2:    // a tick
        case 3: {  // a tick at the same time (a stream must not resend it)
          auto it = model_.find(name);
          if (it == model_.end())
            it = model_.emplace(name, NewTarget(name)).first;
          Tick(it->second, value, (op & 3) == 2);
          break;
        }
      }
      Publish();
      after_each(i + 1 == events);
    }
  }
  void PublishEvents(FuzzedDataProvider& in) {
    PublishEvents(in, [](bool) {});
  }

  void Publish() {
    store::Snapshot s;
    s.targets.insert(model_.begin(), model_.end());
    s.time = now_;
    history_.push_back(std::make_shared<const store::Snapshot>(s));
    store_.Publish(std::move(s));
    GRPC_FUZZ_CHECK(store_.Current()->generation == history_.size());
  }

  store::RecommendationStore& store() { return store_; }
  uint64_t generation() const { return history_.size(); }
  // What was published, in order (the streams' oracles replay it).
  const std::vector<std::shared_ptr<const store::Snapshot>>& history() const {
    return history_;
  }
  // The target as last published; null if none.
  const store::TargetState* Find(const std::string& name) const {
    if (history_.empty()) return nullptr;
    return history_.back()->Find(name);
  }

 private:
  void Tick(store::TargetState& t, int32_t replicas, bool advance) {
    if (advance) now_ += absl::Seconds(15);
    t.latest = std::make_shared<const engine::Recommendation>(
        Rec(now_, replicas, true));
    t.recent.Push(store::PastRecommendation::Of(*t.latest), kRecent);
    ++t.replicas_version;
  }

  absl::Time now_ = absl::FromUnixSeconds(1790000000);
  std::map<std::string, store::TargetState> model_;
  std::vector<std::shared_ptr<const store::Snapshot>> history_;
  store::RecommendationStore store_;
};

// One registry for every call: the metrics families are made once, as in the
// server (their label sets are bounded: method x code).
inline server::GrpcMetrics& Metrics() {
  static prometheus::Registry* const registry = new prometheus::Registry;
  static server::GrpcMetrics* const metrics =
      new server::GrpcMetrics(*registry);
  return *metrics;
}

// A gRPC status a ballast handler may return: an error has a message and one
// of the codes the services document (NotFound, InvalidArgument,
// Unavailable; Cancelled for a stream the client ended).
inline void CheckError(const grpc::Status& s) {
  if (s.ok()) return;
  GRPC_FUZZ_CHECK(!s.error_message().empty());
  GRPC_FUZZ_CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND ||
                  s.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                  s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                  s.error_code() == grpc::StatusCode::CANCELLED);
}

// Runs a unary callback method the way gRPC does and returns its status.
template <typename Call>
grpc::Status RunUnary(Call&& call) {
  grpc::CallbackServerContext context;
  grpc::testing::DefaultReactorTestPeer peer(&context);
  grpc::ServerUnaryReactor* reactor = std::forward<Call>(call)(&context);
  GRPC_FUZZ_CHECK(reactor == peer.reactor());
  GRPC_FUZZ_CHECK(peer.test_status_set());  // answered at once
  grpc::Status status = peer.test_status();
  CheckError(status);
  return status;
}

// gRPC's side of a server stream: takes each message the reactor writes.
template <typename Response>
class Writer final : public grpc::ServerCallbackWriter<Response> {
 public:
  void Bind(grpc::ServerWriteReactor<Response>* reactor) {
    reactor_ = reactor;
    this->BindReactor(reactor);
  }

  void Finish(grpc::Status s) override {
    GRPC_FUZZ_CHECK(!status_.has_value());
    GRPC_FUZZ_CHECK(pending_ == nullptr);  // never while a write is out
    status_ = std::move(s);
  }
  void SendInitialMetadata() override {}
  void Write(const Response* msg, grpc::WriteOptions) override {
    GRPC_FUZZ_CHECK(pending_ == nullptr);  // one write at a time
    GRPC_FUZZ_CHECK(!status_.has_value());
    pending_ = msg;
  }
  void WriteAndFinish(const Response*, grpc::WriteOptions,
                      grpc::Status) override {
    GRPC_FUZZ_CHECK(false);  // PushStream never uses it
  }

  // Completes the write in flight (as gRPC's thread would); its OnWriteDone
  // may start the next.
  void Drain() {
    while (pending_ != nullptr) {
      sent_.push_back(*pending_);
      pending_ = nullptr;
      reactor_->OnWriteDone(true);
    }
  }

  // Ends the call: the client cancels if the stream is still open; then
  // OnDone, after which the reactor may be gone. With a write out, the
  // client may be gone before it completes: gRPC then calls OnCancel and
  // fails the write (OnWriteDone(false)); it and anything queued are lost.
  grpc::Status End(bool cancel_mid_write = false) {
    if (cancel_mid_write && pending_ != nullptr) {
      reactor_->OnCancel();
      GRPC_FUZZ_CHECK(!status_.has_value());  // not while the write is out
      pending_ = nullptr;
      lost_ = true;
      reactor_->OnWriteDone(false);
      GRPC_FUZZ_CHECK(pending_ == nullptr);  // nothing written after
      GRPC_FUZZ_CHECK(status_.has_value());
    }
    Drain();
    if (!status_.has_value()) {
      reactor_->OnCancel();
      Drain();
    }
    GRPC_FUZZ_CHECK(status_.has_value());
    CheckError(*status_);
    reactor_->OnDone();
    return *status_;
  }

  const std::vector<Response>& sent() const { return sent_; }
  // Whether a write was in flight when the client went away.
  bool lost() const { return lost_; }

 private:
  grpc::internal::ServerReactor* reactor() override { return reactor_; }
  void CallOnDone() override {}

  grpc::ServerWriteReactor<Response>* reactor_ = nullptr;
  const Response* pending_ = nullptr;
  std::optional<grpc::Status> status_;
  std::vector<Response> sent_;
  bool lost_ = false;
};

}  // namespace ballast_fuzz

#endif  // BALLAST_FUZZ_HARNESS_GRPC_FUZZ_H_
