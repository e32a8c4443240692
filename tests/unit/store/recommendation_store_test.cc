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
  auto spec = std::make_shared<TargetSpec>();
  spec->name = name;
  t.spec = std::move(spec);
  engine::Recommendation r;
  r.replicas = replicas;
  t.latest = std::make_shared<const engine::Recommendation>(r);
  s.Add(std::move(t));
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

PastRecommendation Past(int seconds, int32_t replicas) {
  return {.time = absl::FromUnixSeconds(seconds), .replicas = replicas};
}

std::vector<int32_t> Replicas(const Recent& recent) {
  std::vector<int32_t> out;
  for (const PastRecommendation& p : recent.OldestFirst()) {
    out.push_back(p.replicas);
  }
  return out;
}

TEST(Recent, KeepsTheNewestUpToTheLimitOldestFirst) {
  Recent recent;
  EXPECT_TRUE(recent.empty());
  for (int i = 1; i <= 3; ++i) recent.Push(Past(i, i), 4);
  EXPECT_EQ(Replicas(recent), (std::vector<int32_t>{1, 2, 3}));
  for (int i = 4; i <= 50; ++i) recent.Push(Past(i, i), 4);
  EXPECT_EQ(recent.size(), 4u);
  EXPECT_EQ(Replicas(recent), (std::vector<int32_t>{47, 48, 49, 50}));
  EXPECT_EQ(recent.OldestFirst().front().time, absl::FromUnixSeconds(47));
}

// A copy held by an older snapshot keeps what it listed while the original
// moves on, however many pushes later.
TEST(Recent, CopiesAreSnapshots) {
  Recent recent;
  for (int i = 1; i <= 5; ++i) recent.Push(Past(i, i), 3);
  const Recent held = recent;
  EXPECT_EQ(held, recent);
  for (int i = 6; i <= 40; ++i) recent.Push(Past(i, i), 3);
  EXPECT_EQ(Replicas(held), (std::vector<int32_t>{3, 4, 5}));
  EXPECT_EQ(Replicas(recent), (std::vector<int32_t>{38, 39, 40}));
  EXPECT_FALSE(held == recent);
}

// Equal by value, not by identity; a limit of 0 keeps the latest.
TEST(Recent, ComparesByValue) {
  Recent a;
  Recent b;
  for (int i = 1; i <= 9; ++i) {
    a.Push(Past(i, i), 2);
    b.Push(Past(i, i), 5);
  }
  Recent c;
  c.Push(Past(8, 8), 2);
  c.Push(Past(9, 9), 2);
  EXPECT_EQ(a, c);
  EXPECT_FALSE(a == b);
  Recent one;
  one.Push(Past(1, 1), 0);
  one.Push(Past(2, 2), 0);
  EXPECT_EQ(Replicas(one), (std::vector<int32_t>{2}));
}

}  // namespace
}  // namespace ballast::store
