// src/server/grpc_internal.h
//
// Building blocks shared by ballast's gRPC services (not a public header):
// target lookup errors, request metrics, the store fan-out that feeds the
// server streams, and PushStream, the write reactor every server stream is.
#ifndef BALLAST_SRC_SERVER_GRPC_INTERNAL_H_
#define BALLAST_SRC_SERVER_GRPC_INTERNAL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/server/status_map.h"
#include "ballast/store/recommendation_store.h"
#include "grpcpp/grpcpp.h"

namespace prometheus {
class Registry;
template <typename T>
class Family;
class Counter;
class Gauge;
class Histogram;
}  // namespace prometheus

namespace ballast::server {

// "a, b, c" (or "none"): the names of the snapshot's targets, for messages.
std::string TargetNames(const store::Snapshot& snapshot);

// The target `name` of `snapshot`: Unavailable before the first publish,
// NotFound (listing the targets) when it does not exist.
absl::StatusOr<const store::TargetState*> LookupTarget(
    const store::Snapshot& snapshot, absl::string_view name);

// As LookupTarget, and Unavailable when the target has not ticked yet.
absl::StatusOr<const engine::Recommendation*> LookupRecommendation(
    const store::Snapshot& snapshot, absl::string_view name);

// ballast_grpc_* metrics (see grpc_server.h). Thread-safe.
class GrpcMetrics {
 public:
  explicit GrpcMetrics(prometheus::Registry& registry);

  void RecordUnary(absl::string_view method, absl::StatusCode code,
                   absl::Duration elapsed);
  void StreamOpened(absl::string_view method);
  void StreamClosed(absl::string_view method, absl::StatusCode code);

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Gauge>& streams_;
};

// Runs `handler` (which returns an absl::Status and fills the response) and
// finishes the call with its status, recording it in `metrics`. For handlers
// that compute from a snapshot and never wait.
template <typename Handler>
grpc::ServerUnaryReactor* AnswerUnary(grpc::CallbackServerContext* context,
                                      GrpcMetrics& metrics,
                                      absl::string_view method,
                                      Handler&& handler) {
  const absl::Time start = absl::Now();
  const absl::Status status = std::forward<Handler>(handler)();
  metrics.RecordUnary(method, status.code(), absl::Now() - start);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

// Something a new snapshot must be delivered to: an open server stream.
class SnapshotSink {
 public:
  virtual ~SnapshotSink() = default;
  // Called on the publishing thread; must not block.
  virtual void OnSnapshot(std::shared_ptr<const store::Snapshot> snapshot) = 0;
  // Ends the stream with `status` once the messages queued are sent.
  virtual void Close(const absl::Status& status) = 0;
};

// One store subscription for all the server's streams. Sinks are added and
// removed without ever waiting for a publish in progress (a stream may end
// on the publishing thread itself), so a sink may get one more snapshot
// after its Remove; sinks ignore snapshots once done.
class SnapshotFanout {
 public:
  explicit SnapshotFanout(store::RecommendationStore& store);
  ~SnapshotFanout();  // unsubscribes (waits for a publish in progress)
  SnapshotFanout(const SnapshotFanout&) = delete;
  SnapshotFanout& operator=(const SnapshotFanout&) = delete;

  store::RecommendationStore& store() { return store_; }

  uint64_t Add(std::shared_ptr<SnapshotSink> sink);
  void Remove(uint64_t id);
  // Closes every sink; later Adds are closed at once.
  void CloseAll(const absl::Status& status);
  // Also called with each snapshot (health status).
  void SetObserver(std::function<void(const store::Snapshot&)> observer);

 private:
  void Deliver(const std::shared_ptr<const store::Snapshot>& snapshot);

  store::RecommendationStore& store_;
  absl::Mutex mu_;
  std::map<uint64_t, std::shared_ptr<SnapshotSink>> sinks_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);
  std::function<void(const store::Snapshot&)> observer_ ABSL_GUARDED_BY(mu_);
  uint64_t subscription_ = 0;
};

// A server-streaming call driven by snapshots: each snapshot (the current one
// at start, then each published one, in order) goes to Step, which appends
// the messages to send and may end the stream. Messages are written one at a
// time in order; StartWrite and Finish are never called under the lock (gRPC
// may run OnDone inline in Finish). A client more than kMaxQueued messages
// behind is ended with RESOURCE_EXHAUSTED.
//
// Lifetime: owned by a shared_ptr to itself from Begin until OnDone, and by
// the fan-out while registered.
template <typename Response>
class PushStream : public grpc::ServerWriteReactor<Response>,
                   public SnapshotSink,
                   public std::enable_shared_from_this<PushStream<Response>> {
 public:
  static constexpr size_t kMaxQueued = 256;

  PushStream(SnapshotFanout& fanout, GrpcMetrics& metrics,
             absl::string_view method)
      : fanout_(fanout), metrics_(metrics), method_(method) {}

  // Starts the stream; returns the reactor for the handler to return.
  grpc::ServerWriteReactor<Response>* Begin() {
    self_ = this->shared_from_this();
    metrics_.StreamOpened(method_);
    id_ = fanout_.Add(self_);
    OnSnapshot(fanout_.store().Current());
    return this;
  }

  void OnSnapshot(std::shared_ptr<const store::Snapshot> snapshot) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      // Generation 0 is the empty store before the first tick: wait for it.
      if (final_.has_value() || snapshot->generation == 0 ||
          snapshot->generation < next_generation_) {
        return;
      }
      next_generation_ = snapshot->generation + 1;
      std::optional<absl::Status> end;
      Step(*snapshot, &queue_, &end);
      if (queue_.size() > kMaxQueued) {
        end = absl::ResourceExhaustedError(
            "the client reads too slowly; stream ended");
        cancelled_ = true;
      }
      if (end.has_value()) final_ = ToGrpcStatus(*end);
      action = NextAction();
    }
    Perform(action);
  }

  void Close(const absl::Status& status) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      if (!final_.has_value()) final_ = ToGrpcStatus(status);
      action = NextAction();
    }
    Perform(action);
  }

 protected:
  // Appends the messages `snapshot` calls for to `out`; sets `end` to end
  // the stream (after `out` is sent). Called under the stream's lock, one
  // snapshot at a time, generations increasing, never before the store's
  // first publish.
  virtual void Step(const store::Snapshot& snapshot, std::deque<Response>* out,
                    std::optional<absl::Status>* end) = 0;

 private:
  struct Action {
    const Response* write = nullptr;
    std::optional<grpc::Status> finish;
  };

  Action NextAction() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_) return {};
    if (!queue_.empty() && !cancelled_) {
      writing_ = true;
      return {.write = &queue_.front()};
    }
    if (final_.has_value()) {
      finished_ = true;
      code_ = static_cast<absl::StatusCode>(final_->error_code());
      return {.finish = *final_};
    }
    return {};
  }

  void Perform(const Action& action) {
    if (action.write != nullptr) this->StartWrite(action.write);
    if (action.finish.has_value()) this->Finish(*action.finish);
  }

  void OnWriteDone(bool ok) override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      queue_.pop_front();
      if (!ok) {
        cancelled_ = true;
        if (!final_.has_value()) {
          final_ = grpc::Status(grpc::StatusCode::CANCELLED, "write failed");
        }
      }
      action = NextAction();
    }
    Perform(action);
  }

  void OnCancel() override {
    Action action;
    {
      absl::MutexLock lock(&mu_);
      cancelled_ = true;
      if (!final_.has_value()) {
        final_ = grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
      }
      action = NextAction();
    }
    Perform(action);
  }

  void OnDone() override {
    fanout_.Remove(id_);
    absl::StatusCode code;
    {
      absl::MutexLock lock(&mu_);
      code = code_;
    }
    metrics_.StreamClosed(method_, code);
    // May destroy this (the fan-out may still hold a reference while it
    // delivers a snapshot; that delivery finds final_ set and returns).
    std::shared_ptr<SnapshotSink> self = std::move(self_);
  }

  SnapshotFanout& fanout_;
  GrpcMetrics& metrics_;
  const std::string method_;
  std::shared_ptr<SnapshotSink> self_;
  uint64_t id_ = 0;

  absl::Mutex mu_;
  std::deque<Response> queue_ ABSL_GUARDED_BY(mu_);  // front: being written
  uint64_t next_generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;  // drop unsent messages
  bool finished_ ABSL_GUARDED_BY(mu_) = false;   // Finish called
  std::optional<grpc::Status> final_ ABSL_GUARDED_BY(mu_);
  absl::StatusCode code_ ABSL_GUARDED_BY(mu_) = absl::StatusCode::kUnknown;
};

}  // namespace ballast::server

#endif  // BALLAST_SRC_SERVER_GRPC_INTERNAL_H_
