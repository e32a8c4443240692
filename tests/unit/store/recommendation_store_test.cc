// RecommendationStore: generations, the snapshot readers hold, listeners and
// Unsubscribe's promise; the threaded cases are what the TSan step runs.
#include "ballast/store/recommendation_store.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace ballast::store {
namespace {

Snapshot WithTarget(const std::string& name, int32_t replicas) {
  Snapshot s;
  TargetState t;
  t.spec.name = name;
  engine::Recommendation r;
  r.replicas = replicas;
  t.latest = r;
  s.targets.emplace(name, std::move(t));
  return s;
}

TEST(RecommendationStoreTest, StartsEmptyAndNumbersEachPublish) {
  RecommendationStore store;
  std::shared_ptr<const Snapshot> empty = store.Current();
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->generation, 0u);
  EXPECT_TRUE(empty->targets.empty());
  EXPECT_EQ(empty->Find("asr"), nullptr);

  Snapshot first = WithTarget("asr", 3);
  first.generation = 41;  // ignored: the store numbers snapshots itself
  store.Publish(std::move(first));
  store.Publish(WithTarget("asr", 5));
  std::shared_ptr<const Snapshot> now = store.Current();
  EXPECT_EQ(now->generation, 2u);
  ASSERT_NE(now->Find("asr"), nullptr);
  EXPECT_EQ(now->Find("asr")->latest->replicas, 5);
  // A reader's snapshot does not change under it.
  EXPECT_EQ(empty->generation, 0u);
  EXPECT_TRUE(empty->targets.empty());
}

TEST(RecommendationStoreTest, ListenersSeeEveryPublishInOrderUntilRemoved) {
  RecommendationStore store;
  std::vector<uint64_t> seen;
  const uint64_t id = store.Subscribe([&](std::shared_ptr<const Snapshot> s) {
    seen.push_back(s->generation);
  });
  store.Publish(WithTarget("tts", 1));
  store.Publish(WithTarget("tts", 2));
  store.Unsubscribe(id);
  store.Publish(WithTarget("tts", 3));
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(store.Current()->generation, 3u);
}

// One publisher, several readers and a subscriber that comes and goes: every
// reader sees generations that never go back, each snapshot whole (its
// target's replicas are its generation), and no listener runs after its
// Unsubscribe returned.
TEST(RecommendationStoreTest, ConcurrentReadersSeeWholeSnapshotsInOrder) {
  RecommendationStore store;
  constexpr int kPublishes = 2000;
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> backwards{0};

  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done.load()) {
        std::shared_ptr<const Snapshot> s = store.Current();
        if (s->generation < last) ++backwards;
        last = s->generation;
        if (const TargetState* t = s->Find("asr");
            t != nullptr &&
            static_cast<uint64_t>(t->latest->replicas) != s->generation) {
          ++torn;
        }
      }
    });
  }
  std::atomic<int> late_calls{0};
  std::thread subscriber([&] {
    while (!done.load()) {
      auto removed = std::make_shared<std::atomic<bool>>(false);
      const uint64_t id = store.Subscribe(
          [removed, &late_calls](std::shared_ptr<const Snapshot>) {
            if (removed->load()) ++late_calls;
          });
      std::this_thread::yield();
      store.Unsubscribe(id);
      removed->store(true);
    }
  });

  for (int g = 1; g <= kPublishes; ++g) store.Publish(WithTarget("asr", g));
  done = true;
  for (std::thread& t : readers) t.join();
  subscriber.join();

  EXPECT_EQ(store.Current()->generation, static_cast<uint64_t>(kPublishes));
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  EXPECT_EQ(late_calls.load(), 0);
}

}  // namespace
}  // namespace ballast::store
