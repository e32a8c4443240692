#include "ballast/store/recommendation_store.h"

#include <algorithm>
#include <utility>

namespace ballast::store {

PastRecommendation PastRecommendation::Of(const engine::Recommendation& r) {
  return {.time = r.time,
          .current_replicas = r.current_replicas,
          .desired = r.desired,
          .replicas = r.replicas,
          .limited_by = r.limited_by,
          .burst = r.burst};
}

void Recent::Push(const PastRecommendation& past, size_t limit) {
  limit = std::max<size_t>(limit, 1);
  const size_t keep = std::min(size_, limit - 1);
  std::shared_ptr<PastRecommendation[]> items =
      std::make_shared_for_overwrite<PastRecommendation[]>(keep + 1);
  if (keep > 0) {
    std::copy(items_.get() + (size_ - keep), items_.get() + size_, items.get());
  }
  items[keep] = past;
  items_ = std::move(items);
  size_ = keep + 1;
}

std::vector<PastRecommendation> Recent::OldestFirst() const {
  return std::vector<PastRecommendation>(items_.get(), items_.get() + size_);
}

bool operator==(const Recent& a, const Recent& b) {
  return a.size_ == b.size_ &&
         (a.items_ == b.items_ ||
          std::equal(a.items_.get(), a.items_.get() + a.size_, b.items_.get()));
}

const InputValue* TargetState::FindInput(std::string_view name) const {
  for (const InputValue& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

bool Snapshot::Add(TargetState state) {
  std::string name = state.spec->name;
  auto [it, added] = targets.emplace(std::move(name), std::move(state));
  return added;
}

const TargetState* Snapshot::Find(std::string_view name) const {
  auto it = targets.find(name);
  return it == targets.end() ? nullptr : &it->second;
}

RecommendationStore::RecommendationStore()
    : current_(std::make_shared<const Snapshot>()) {}

std::shared_ptr<const Snapshot> RecommendationStore::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

void RecommendationStore::Publish(Snapshot snapshot) {
  absl::MutexLock publish_lock(&publish_mu_);
  std::vector<Listener> listeners;
  {
    // Publishers are serialized (publish_mu_): current_ stays this one.
    absl::MutexLock lock(&mu_);
    snapshot.generation = current_->generation + 1;
  }
  auto published = std::make_shared<const Snapshot>(std::move(snapshot));
  std::shared_ptr<const Snapshot> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(current_, published);
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  // Freed (when no reader holds it) outside the lock: at 10,000 targets
  // that takes milliseconds that every Current() would otherwise wait for.
  previous.reset();
  for (const Listener& listener : listeners) listener(published);
}

uint64_t RecommendationStore::Subscribe(Listener listener) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_listener_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void RecommendationStore::Unsubscribe(uint64_t id) {
  // Waiting for a Publish in progress guarantees that the listener is not
  // called once Unsubscribe has returned.
  absl::MutexLock publish_lock(&publish_mu_);
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

}  // namespace ballast::store
