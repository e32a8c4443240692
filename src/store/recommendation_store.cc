#include "ballast/store/recommendation_store.h"

#include <utility>

namespace ballast::store {

const InputValue* TargetState::FindInput(std::string_view name) const {
  for (const InputValue& input : inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
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
