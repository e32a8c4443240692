// tests/integration/common/store_targets.h
//
// Store contents for the tests and fuzz harnesses of the servers that read
// the store. Header-only and free of gtest, so that fuzz/ can use it too.
//
//   PublishTargets(store, {MetricTarget("asr", 7, 1.5),
//                          MetricTarget("tts", std::nullopt, 2)});
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_STORE_TARGETS_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_STORE_TARGETS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "ballast/store/recommendation_store.h"

namespace ballast::testing {

// A target as the store holds it: input "backlog" at `backlog`, sampled at
// 1790000000, and a recommendation of `replicas` made at 1790000015 (none
// when nullopt).
inline store::TargetState MetricTarget(const std::string& name,
                                       std::optional<int32_t> replicas,
                                       double backlog) {
  store::TargetState t;
  auto spec = std::make_shared<TargetSpec>();
  spec->name = name;
  t.spec = std::move(spec);
  t.inputs.push_back({.name = "backlog",
                      .value = backlog,
                      .sampled_at = absl::FromUnixSeconds(1790000000)});
  if (replicas) {
    engine::Recommendation r;
    r.time = absl::FromUnixSeconds(1790000015);
    r.replicas = *replicas;
    t.latest = std::make_shared<const engine::Recommendation>(r);
  }
  return t;
}

// Publishes a snapshot of `targets` to `store`.
inline void PublishTargets(store::RecommendationStore& store,
                           std::vector<store::TargetState> targets) {
  store::Snapshot s;
  for (auto& t : targets) s.Add(std::move(t));
  store.Publish(std::move(s));
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_STORE_TARGETS_H_
