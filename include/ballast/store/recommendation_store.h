// ballast/store/recommendation_store.h
//
// The recommendation store: the daemon's poll loop publishes an immutable
// Snapshot of every target after each tick; the servers (external metrics
// API, KEDA scaler, ballast.v1, /metrics) read the latest snapshot without
// ever waiting for a poll, and streams subscribe to be told of each new one.
//
//   RecommendationStore store;
//   Snapshot s;
//   s.Add({.spec = spec, .inputs = {...}, .latest = recommendation});
//   store.Publish(std::move(s));
//   std::shared_ptr<const Snapshot> now = store.Current();
//   const TargetState* t = now->Find("asr-worker");
//
//   auto id = store.Subscribe([](std::shared_ptr<const Snapshot> s) { ... });
//   store.Unsubscribe(id);
//
// Thread-safety: every method may be called from any thread. Listeners run
// on the publishing thread, after the snapshot is current; they must not
// block (hand the snapshot to a reactor or strand) and must not call
// Subscribe/Unsubscribe.
#ifndef BALLAST_STORE_RECOMMENDATION_STORE_H_
#define BALLAST_STORE_RECOMMENDATION_STORE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/core/target_spec.h"
#include "ballast/engine/engine.h"

namespace ballast::store {

// The latest good value of one input, held across failed polls so that
// servers can keep answering and say how old it is.
struct InputValue {
  std::string name;
  std::optional<double> value;  // last good reading; nullopt if none yet
  absl::Time sampled_at = absl::InfinitePast();  // when `value` was read
  std::string error;  // the latest poll's error; empty when it succeeded
  int32_t consecutive_failures = 0;

  bool operator==(const InputValue&) const = default;
};

// What `ballast explain` lists of a past recommendation: the decision
// without its per-input explanation (which only the latest keeps).
struct PastRecommendation {
  absl::Time time;
  int32_t current_replicas = 0;
  int32_t desired = 0;
  int32_t replicas = 0;
  engine::Limit limited_by = engine::Limit::kNone;
  bool burst = false;

  static PastRecommendation Of(const engine::Recommendation& r);
  bool operator==(const PastRecommendation&) const = default;
};

// A target's last few recommendations: an immutable array, oldest first,
// shared by every snapshot and record that holds it. Push makes the next
// array in one allocation (the newest `limit`, 40 bytes each); copying a
// Recent is one reference count. A snapshot still read keeps its array.
class Recent {
 public:
  // Adds `past` as the newest and keeps the newest `limit` (at least 1).
  void Push(const PastRecommendation& past, size_t limit);
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Oldest first.
  std::vector<PastRecommendation> OldestFirst() const;

  friend bool operator==(const Recent& a, const Recent& b);

 private:
  std::shared_ptr<const PastRecommendation[]> items_;  // size_ of them
  size_t size_ = 0;
};

// One target in a snapshot. What does not change from tick to tick is
// shared, not copied: the spec with the config that holds it, and each
// recommendation with every snapshot (and the control loop) that lists it.
// A snapshot of 10,000 targets costs one small node per target, not a copy
// of each one's spec and history.
struct TargetState {
  std::shared_ptr<const TargetSpec> spec;  // never null once published
  std::vector<InputValue> inputs;          // one per spec->inputs, same order
  // Null until the target's first tick.
  std::shared_ptr<const engine::Recommendation> latest;
  // The last few recommendations (latest included).
  Recent recent;
  // Increases whenever latest->replicas changes (for streams that push on
  // change only).
  uint64_t replicas_version = 0;

  const std::string& name() const { return spec->name; }
  const InputValue* FindInput(std::string_view name) const;
};

struct Snapshot {
  uint64_t generation = 0;         // increases with every Publish
  uint64_t config_generation = 0;  // increases with every applied reload
  // When the recommendations were computed (this replica's tick, or the
  // leader's write a follower read), and by which replica ("": this one).
  absl::Time time = absl::InfinitePast();
  std::string computed_by;
  std::map<std::string, TargetState, std::less<>> targets;  // by name

  // Adds `state` under its spec's name; false (and nothing added) if a
  // target of that name is already there.
  bool Add(TargetState state);
  const TargetState* Find(std::string_view name) const;
};

class RecommendationStore {
 public:
  using Listener = std::function<void(std::shared_ptr<const Snapshot>)>;

  RecommendationStore();

  // The latest snapshot; never null (an empty one before the first tick).
  std::shared_ptr<const Snapshot> Current() const;

  // Makes `snapshot` current (its generation is set to the previous one + 1)
  // and calls every listener with it.
  void Publish(Snapshot snapshot);

  // Registers `listener`; returns an id for Unsubscribe.
  uint64_t Subscribe(Listener listener);
  // Removes a listener. Waits for a Publish in progress, so the listener is
  // never called after this returns.
  void Unsubscribe(uint64_t id);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> current_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  uint64_t next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  absl::Mutex publish_mu_;  // serializes Publish so listeners see order
};

}  // namespace ballast::store

#endif  // BALLAST_STORE_RECOMMENDATION_STORE_H_
