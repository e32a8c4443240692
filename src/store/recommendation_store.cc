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
  if (chain_ >= 2 * limit - 1) {
    // A fresh chain of the newest limit - 1: the older nodes are released
    // once no snapshot holds the old chain.
    const std::vector<PastRecommendation> all = OldestFirst();
    const size_t keep = std::min(all.size(), limit - 1);
    std::shared_ptr<const Node> head;
    for (size_t i = all.size() - keep; i < all.size(); ++i) {
      head = std::make_shared<const Node>(Node{all[i], std::move(head)});
    }
    head_ = std::move(head);
    chain_ = size_ = keep;
  }
  head_ = std::make_shared<const Node>(Node{past, std::move(head_)});
  ++chain_;
  size_ = std::min(size_ + 1, limit);
}

std::vector<PastRecommendation> Recent::OldestFirst() const {
  std::vector<PastRecommendation> out(size_);
  const Node* node = head_.get();
  for (size_t i = size_; i-- > 0; node = node->older.get()) {
    out[i] = node->past;
  }
  return out;
}

bool operator==(const Recent& a, const Recent& b) {
  if (a.size_ != b.size_) return false;
  const Recent::Node* x = a.head_.get();
  const Recent::Node* y = b.head_.get();
  for (size_t i = 0; i < a.size_; ++i) {
    if (x == y) return true;  // the same nodes from here on
    if (!(x->past == y->past)) return false;
    x = x->older.get();
    y = y->older.get();
  }
  return true;
}

const InputValue* TargetState::FindInput(std::string_view name) const {
  for (const InputValue& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

bool Snapshot::Add(TargetState state) {
  std::string name = state.spec->name;
  return targets.try_emplace(std::move(name), std::move(state)).second;
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
  std::shared_ptr<const Snapshot> published;
  {
    absl::MutexLock lock(&mu_);
    snapshot.generation = current_->generation + 1;
    published = std::make_shared<const Snapshot>(std::move(snapshot));
    current_ = published;
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
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
