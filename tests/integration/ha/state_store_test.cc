// The state store against a real redis-server: one atomic, fenced write per
// tick; a claim fences older terms off before the new leader reads; a
// refused write changes nothing; removed targets are deleted.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "ballast/state/redis_state_store.h"
#include "boost/asio/io_context.hpp"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/redis_commands.h"

namespace ballast::testing {
namespace {

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    store_ = std::make_unique<state::RedisStateStore>(
        io_, RedisAt(redis_.port()), "t:");
  }

  // Runs the io_context until `done` was set.
  template <typename T>
  T Await(std::optional<T>& done) {
    io_.restart();
    while (!done) io_.run_one_for(std::chrono::seconds(5));
    return *std::move(done);
  }

  absl::Status Write(uint64_t term, const std::string& writer,
                     std::vector<std::pair<std::string, std::string>> put,
                     std::vector<std::string> remove = {}) {
    std::optional<absl::Status> done;
    store_->Write(term,
                  {.term = term,
                   .writer = writer,
                   .written_at = absl::FromUnixSeconds(1000 + term)},
                  std::move(put), std::move(remove),
                  [&](absl::Status s) { done = s; });
    return Await(done);
  }

  absl::Status Claim(uint64_t term) {
    std::optional<absl::Status> done;
    store_->Claim(term, [&](absl::Status s) { done = s; });
    return Await(done);
  }

  absl::StatusOr<state::StoredState> ReadAll() {
    std::optional<absl::StatusOr<state::StoredState>> done;
    store_->ReadAll(
        [&](absl::StatusOr<state::StoredState> s) { done = std::move(s); });
    return Await(done);
  }

  RedisServer redis_;
  boost::asio::io_context io_;
  std::unique_ptr<state::RedisStateStore> store_;
};

TEST_F(StateStoreTest, AnEmptyStoreReadsAsNothing) {
  absl::StatusOr<state::StoredState> s = ReadAll();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->fence, 0u);
  EXPECT_EQ(s->last_write.term, 0u);
  EXPECT_TRUE(s->records.empty());
}

TEST_F(StateStoreTest, WritesReadBackWithTheirWriter) {
  ASSERT_TRUE(
      Write(3, "a", {{"x", std::string("\0\1bytes", 7)}, {"y", "2"}}).ok());
  absl::StatusOr<state::StoredState> s = ReadAll();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->fence, 3u);
  EXPECT_EQ(s->last_write.term, 3u);
  EXPECT_EQ(s->last_write.writer, "a");
  EXPECT_EQ(s->last_write.written_at, absl::FromUnixSeconds(1003));
  ASSERT_EQ(s->records.size(), 2u);
  EXPECT_EQ(s->records.at("x"), std::string("\0\1bytes", 7));
  EXPECT_EQ(s->records.at("y"), "2");
}

TEST_F(StateStoreTest, AnOlderTermIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Write(5, "new", {{"x", "new"}}).ok());
  absl::Status old = Write(4, "old", {{"x", "old"}, {"z", "old"}}, {"x"});
  EXPECT_TRUE(absl::IsFailedPrecondition(old)) << old;
  EXPECT_NE(old.message().find("fenced: term 4 < 5"), std::string::npos) << old;
  absl::StatusOr<state::StoredState> s = ReadAll();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->records.at("x"), "new");
  EXPECT_FALSE(s->records.contains("z"));
  EXPECT_EQ(s->last_write.writer, "new");
  // The same term again, and a newer one, are accepted.
  EXPECT_TRUE(Write(5, "new", {{"x", "again"}}).ok());
  EXPECT_TRUE(Write(6, "newer", {{"x", "newer"}}).ok());
  EXPECT_EQ(ReadAll()->fence, 6u);
}

TEST_F(StateStoreTest, AClaimFencesOlderTermsBeforeAnyWrite) {
  ASSERT_TRUE(Write(1, "a", {{"x", "a"}}).ok());
  ASSERT_TRUE(Claim(2).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(Write(1, "a", {{"x", "late"}})));
  EXPECT_EQ(ReadAll()->records.at("x"), "a");
  EXPECT_TRUE(absl::IsFailedPrecondition(Claim(1)));
  EXPECT_TRUE(Claim(2).ok());  // idempotent
  EXPECT_EQ(ReadAll()->fence, 2u);
}

TEST_F(StateStoreTest, RemovedTargetsAreDeletedInTheSameWrite) {
  ASSERT_TRUE(Write(1, "a", {{"x", "1"}, {"gone", "1"}}).ok());
  ASSERT_TRUE(Write(1, "a", {{"x", "2"}}, {"gone"}).ok());
  absl::StatusOr<state::StoredState> s = ReadAll();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->records.size(), 1u);
  EXPECT_EQ(s->records.at("x"), "2");
}

TEST_F(StateStoreTest, ADownStoreIsAnErrorNotAnEmptyState) {
  redis_.Kill();
  absl::StatusOr<state::StoredState> s = ReadAll();
  EXPECT_TRUE(absl::IsUnavailable(s.status()) ||
              absl::IsDeadlineExceeded(s.status()))
      << s.status();
  absl::Status w = Write(1, "a", {{"x", "1"}});
  EXPECT_FALSE(w.ok());
  EXPECT_FALSE(absl::IsFailedPrecondition(w)) << w;
}

TEST_F(StateStoreTest, AWrongTypeUnderTheKeysIsAnError) {
  ASSERT_TRUE(RunRedis(redis_.port(), {{"SET", "t:records", "x"}}).ok());
  absl::StatusOr<state::StoredState> s = ReadAll();
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
}

}  // namespace
}  // namespace ballast::testing
