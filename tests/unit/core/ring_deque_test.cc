#include "ballast/core/ring_deque.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::core {
namespace {

using ::testing::ElementsAre;

template <typename T>
std::vector<T> Items(const RingDeque<T>& q) {
  return std::vector<T>(q.begin(), q.end());
}

TEST(RingDeque, EmptyOwnsNothingAndMovingLeavesNothing) {
  RingDeque<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.capacity(), 0u);
  q.push_back(1);
  RingDeque<int> moved = std::move(q);
  EXPECT_EQ(q.capacity(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(q.empty());       // NOLINT(bugprone-use-after-move)
  EXPECT_THAT(Items(moved), ElementsAre(1));
}

TEST(RingDeque, SlidingWindowReusesItsBuffer) {
  RingDeque<int> q;
  for (int i = 0; i < 6; ++i) q.push_back(i);
  const size_t capacity = q.capacity();
  for (int i = 6; i < 1000; ++i) {
    q.pop_front();
    q.push_back(i);
  }
  EXPECT_EQ(q.capacity(), capacity);
  EXPECT_THAT(Items(q), ElementsAre(994, 995, 996, 997, 998, 999));
  EXPECT_EQ(q.front(), 994);
  EXPECT_EQ(q.back(), 999);
  EXPECT_EQ(q[2], 996);
}

TEST(RingDeque, GrowsAcrossTheWrapInOrder) {
  RingDeque<std::string> q{"a", "b", "c"};
  q.pop_front();
  q.pop_front();
  for (char c = 'd'; c <= 'k'; ++c) q.emplace_back(1, c);  // wraps, grows
  EXPECT_THAT(Items(q),
              ElementsAre("c", "d", "e", "f", "g", "h", "i", "j", "k"));
  EXPECT_EQ(q.capacity(), 16u);
}

TEST(RingDeque, IteratorsAreRandomAccess) {
  RingDeque<int> q{5, 3, 9, 1};
  q.pop_front();
  q.push_back(7);  // 3 9 1 7
  EXPECT_EQ(*std::max_element(q.begin(), q.end()), 9);
  EXPECT_EQ(q.end() - q.begin(), 4);
  EXPECT_EQ(q.begin()[3], 7);
  EXPECT_THAT(std::vector<int>(q.rbegin(), q.rend()), ElementsAre(7, 1, 9, 3));
  std::sort(q.begin(), q.end());
  EXPECT_THAT(Items(q), ElementsAre(1, 3, 7, 9));
  const RingDeque<int>& c = q;
  RingDeque<int>::const_iterator it = q.begin();  // iterator -> const
  EXPECT_EQ(it, c.begin());
}

TEST(RingDeque, CopiesCompareAndClearReleases) {
  RingDeque<int> a{1, 2, 3};
  RingDeque<int> b = a;
  EXPECT_EQ(a, b);
  b.pop_back();
  EXPECT_FALSE(a == b);
  b.push_back(3);
  EXPECT_EQ(a, b);
  b.clear();
  b.shrink_to_fit();
  EXPECT_EQ(b.capacity(), 0u);
  a = b;
  EXPECT_TRUE(a.empty());
}

// Every element is destroyed exactly once, across growth, pops and clear.
TEST(RingDeque, DestroysWhatItHolds) {
  auto counter = std::make_shared<int>(0);
  {
    RingDeque<std::shared_ptr<int>> q;
    for (int i = 0; i < 20; ++i) q.push_back(counter);
    for (int i = 0; i < 5; ++i) q.pop_front();
    q.pop_back();
    EXPECT_EQ(counter.use_count(), 1 + 14);
  }
  EXPECT_EQ(counter.use_count(), 1);
}

// Random pushes and pops against std::deque.
TEST(RingDeque, BehavesAsStdDeque) {
  std::mt19937 rng(7);
  RingDeque<int> q;
  std::deque<int> model;
  for (int step = 0; step < 20000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5 || model.empty()) {
      q.push_back(step);
      model.push_back(step);
    } else if (op < 8) {
      q.pop_front();
      model.pop_front();
    } else if (op < 9) {
      q.pop_back();
      model.pop_back();
    } else if (rng() % 100 == 0) {
      q.clear();
      model.clear();
    }
    ASSERT_EQ(q.size(), model.size());
    if (!model.empty()) {
      ASSERT_EQ(q.front(), model.front());
      ASSERT_EQ(q.back(), model.back());
    }
  }
  EXPECT_TRUE(std::equal(q.begin(), q.end(), model.begin(), model.end()));
}

}  // namespace
}  // namespace ballast::core
