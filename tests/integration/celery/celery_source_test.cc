// CeleryRedisSource against a real redis-server filled by real Celery
// (Debian's python3-celery through celery_app.py): exact backlogs over every
// priority band, what a real worker holds, custom transport options, queue
// discovery, and faults.
#include <signal.h>

#include <boost/asio/io_context.hpp>

#include "absl/strings/str_cat.h"
#include "ballast/source/celery_backlog.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/celery/celery_env.h"
#include "integration/common/process.h"

namespace ballast::testing {
namespace {

using source::CeleryBrokerOptions;
using source::CeleryInputSpec;
using source::CeleryRedisSourceOptions;
using ::testing::HasSubstr;

const std::vector<std::string> kAllPriorities = {"0", "1", "2", "3", "4",
                                                 "5", "6", "7", "8", "9"};

class CeleryRedisSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(FindBinary("redis-server").ok());
    ASSERT_TRUE(CheckCelery().ok()) << CheckCelery();
    ASSERT_TRUE(redis_.Start().ok());
  }

  CeleryRedisSourceOptions Options(CeleryBrokerOptions broker = {}) const {
    return {.redis = Loopback(redis_.port()), .broker = std::move(broker)};
  }

  // Polls once; fails the test if the poll does not complete.
  CeleryPollResult Poll(CeleryRedisSource& source) {
    std::optional<CeleryPollResult> r = PollOnce(io_, source);
    EXPECT_TRUE(r.has_value()) << "poll did not complete";
    return r ? *std::move(r) : CeleryPollResult{};
  }

  // Polls until HLEN unacked is `unacked` (a worker has prefetched), for
  // up to 30 s; returns the last poll.
  CeleryPollResult PollUntilUnacked(CeleryRedisSource& source,
                                    ChildProcess& worker, int64_t unacked) {
    CeleryPollResult r;
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    do {
      r = Poll(source);
      if (r.unacked.ok() && *r.unacked == unacked) break;
      EXPECT_FALSE(worker.Exited()) << "the worker died: see its log";
      absl::SleepFor(absl::Milliseconds(100));
    } while (absl::Now() < deadline);
    EXPECT_TRUE(r.unacked.ok()) << r.unacked.status();
    return r;
  }

  boost::asio::io_context io_;
  RedisServer redis_;
};

// Expects `value` to be exactly `expected`.
void ExpectValue(const absl::StatusOr<double>& value, double expected) {
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, expected);
}

TEST_F(CeleryRedisSourceTest, CountsEveryPriorityBandOfTwoQueues) {
  // a: 10 tasks of each priority 0..9; b: 7 with assorted priorities.
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 10, kAllPriorities).ok());
  ASSERT_TRUE(
      SendTasks(redis_.port(), "b", 1, {"none", "0", "2", "4", "6", "8", "9"})
          .ok());

  CeleryRedisSource source(io_, Options(),
                           {{.queues = {"a"}},
                            {.queues = {"b"}},
                            {.queues = {"a", "b"}},
                            {.queues = {"a"}, .include_reserved = true}});
  CeleryPollResult r = Poll(source);
  ASSERT_EQ(r.inputs.size(), 4u);
  ExpectValue(r.inputs[0], 100);
  ExpectValue(r.inputs[1], 7);
  ExpectValue(r.inputs[2], 107);
  ExpectValue(r.inputs[3], 100);  // no worker: nothing reserved
  EXPECT_EQ(*r.waiting.at("a"), 100);
  EXPECT_EQ(*r.waiting.at("b"), 7);
  EXPECT_EQ(*r.unacked, 0);

  // What a plain LLEN of the queue's key would say (the undercount).
  absl::StatusOr<std::vector<net::RedisReply>> naive =
      Redis(redis_.port(), {{"LLEN", "a"}});
  ASSERT_TRUE(naive.ok());
  EXPECT_EQ((*naive)[0].integer, 10 * 3);  // priorities 0, 1, 2 only
}

TEST_F(CeleryRedisSourceTest, IncludeReservedCountsWhatARealWorkerHolds) {
  constexpr int kTasks = 20;
  constexpr int kPrefetch = 4;  // concurrency 1 x prefetch multiplier 4
  ASSERT_TRUE(SendTasks(redis_.port(), "a", kTasks, {"0"}).ok());
  ASSERT_TRUE(SendTasks(redis_.port(), "b", 5, {"5"}).ok());

  // The tasks sleep 60 s with acks_late: none finishes during the test, so
  // the tasks not yet done are all of them.
  ChildProcess worker;
  TempDir logs;
  ASSERT_TRUE(StartWorker(worker, redis_.port(), "a", kPrefetch,
                          logs.path() + "/worker.log")
                  .ok());

  CeleryRedisSource source(io_, Options(),
                           {{.queues = {"a"}, .include_reserved = true},
                            {.queues = {"a"}},
                            {.queues = {"b"}, .include_reserved = true},
                            {.queues = {"*"}}});
  CeleryPollResult r = PollUntilUnacked(source, worker, kPrefetch);
  ASSERT_EQ(*r.unacked, kPrefetch) << "the worker did not prefetch in time";

  ExpectValue(r.inputs[0], kTasks);              // waiting + unacked
  ExpectValue(r.inputs[1], kTasks - kPrefetch);  // what LLEN alone sees
  ExpectValue(r.inputs[2], 5);                   // nothing of b is held
  // "*": every task queue; the worker's pidbox binding is not one.
  ExpectValue(r.inputs[3], kTasks - kPrefetch + 5);

  net::RedisClient scanner(io_, Loopback(redis_.port()));
  std::optional<absl::StatusOr<source::ReservedSplit>> split =
      Await<absl::StatusOr<source::ReservedSplit>>(io_, [&](auto done) {
        source::ScanReservedSplit(scanner, {}, std::move(done));
      });
  ASSERT_TRUE(split.has_value() && split->ok());
  EXPECT_EQ(**split, (source::ReservedSplit{{"a", kPrefetch}}));

  worker.Signal(SIGKILL);  // a warm shutdown would wait for the 60 s task
  worker.Stop();
}

TEST_F(CeleryRedisSourceTest, ReservedSplitAcrossTwoQueuesOfOneWorker) {
  constexpr int kPrefetch = 6;
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 10, {"0"}).ok());
  ASSERT_TRUE(SendTasks(redis_.port(), "b", 10, {"0"}).ok());
  ChildProcess worker;
  TempDir logs;
  ASSERT_TRUE(StartWorker(worker, redis_.port(), "a,b", kPrefetch,
                          logs.path() + "/worker.log")
                  .ok());
  CeleryRedisSourceOptions options = Options();
  options.reserved_interval = absl::ZeroDuration();  // a fresh split per poll
  CeleryRedisSource source(io_, options,
                           {{.queues = {"a"}, .include_reserved = true},
                            {.queues = {"b"}, .include_reserved = true},
                            {.queues = {"a", "b"}, .include_reserved = true}});
  CeleryPollResult r = PollUntilUnacked(source, worker, kPrefetch);
  ASSERT_EQ(*r.unacked, kPrefetch) << "the worker did not prefetch in time";
  r = Poll(source);  // the worker is steady now: split and HLEN agree

  ASSERT_TRUE(r.inputs[0].ok() && r.inputs[1].ok()) << r.inputs[0].status();
  EXPECT_EQ(*r.inputs[0] + *r.inputs[1], 20);  // none is done
  ExpectValue(r.inputs[2], 20);
  // Each queue's share is what it has waiting plus what the worker holds of
  // it (the split of the unacked hash by routing key).
  EXPECT_EQ(
      *r.inputs[0] - *r.waiting.at("a") + *r.inputs[1] - *r.waiting.at("b"),
      kPrefetch);
  worker.Signal(SIGKILL);
  worker.Stop();
}

TEST_F(CeleryRedisSourceTest, SetInputsTakesEffectAtTheNextPoll) {
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 2, {"0"}).ok());
  ASSERT_TRUE(SendTasks(redis_.port(), "b", 3, {"0"}).ok());
  CeleryRedisSource source(io_, Options(), {{.queues = {"a"}}});
  ExpectValue(Poll(source).inputs[0], 2);
  source.SetInputs({{.queues = {"b"}}, {.queues = {"a", "b"}}});
  CeleryPollResult r = Poll(source);
  ASSERT_EQ(r.inputs.size(), 2u);
  ExpectValue(r.inputs[0], 3);
  ExpectValue(r.inputs[1], 5);
}

TEST_F(CeleryRedisSourceTest, CustomSeparatorStepsAndKeyPrefix) {
  const std::string transport =
      R"({"sep": ":", "priority_steps": [0,1,2,3,4,5,6,7,8,9],)"
      R"( "global_keyprefix": "app1/"})";
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 3, kAllPriorities, transport).ok());
  absl::StatusOr<std::vector<net::RedisReply>> keys =
      Redis(redis_.port(), {{"LLEN", "app1/a:7"}, {"EXISTS", "a"}});
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ((*keys)[0].integer, 3);  // the key scheme is what we think
  EXPECT_EQ((*keys)[1].integer, 0);

  const CeleryBrokerOptions broker{
      .priority_steps = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
      .separator = ":",
      .global_keyprefix = "app1/"};
  CeleryRedisSource source(
      io_, Options(broker),
      {{.queues = {"a"}, .include_reserved = true}, {.queues = {"*"}}});
  CeleryPollResult r = Poll(source);
  ExpectValue(r.inputs[0], 30);
  ExpectValue(r.inputs[1], 30);  // discovered through app1/_kombu.binding.a

  // With Celery's defaults the same broker looks empty: the options matter.
  CeleryRedisSource defaults(io_, Options(), {{.queues = {"a"}}});
  ExpectValue(Poll(defaults).inputs[0], 0);
}

TEST_F(CeleryRedisSourceTest, DiscoversQueuesByPatternWithoutControlChannels) {
  ASSERT_TRUE(SendTasks(redis_.port(), "asr-en", 2, {"0", "9"}).ok());
  ASSERT_TRUE(SendTasks(redis_.port(), "asr-de", 1, {"0"}).ok());
  ASSERT_TRUE(SendTasks(redis_.port(), "tts", 5, {"0"}).ok());
  // Bindings as workers and event senders write them; their queues hold
  // messages but are not task queues.
  const std::string sep = "\x06\x16";
  ASSERT_TRUE(Redis(redis_.port(), {{"SADD", "_kombu.binding.celery.pidbox",
                                     sep + sep + "w1@host.celery.pidbox"},
                                    {"SADD", "_kombu.binding.celeryev",
                                     "worker.#" + sep + sep + "celeryev.abc"},
                                    {"LPUSH", "w1@host.celery.pidbox", "x"},
                                    {"LPUSH", "celeryev.abc", "x"}})
                  .ok());

  CeleryRedisSource source(
      io_, Options(),
      {{.queues = {"asr-*"}}, {.queues = {"*"}}, {.queues = {"nomatch-*"}}});
  CeleryPollResult r = Poll(source);
  ExpectValue(r.inputs[0], 5);
  ExpectValue(r.inputs[1], 10);
  ExpectValue(r.inputs[2], 0);
  EXPECT_EQ(r.waiting.size(), 3u);  // asr-de, asr-en, tts
}

TEST_F(CeleryRedisSourceTest, WrongTypedKeyIsAnErrorNamingTheKey) {
  ASSERT_TRUE(SendTasks(redis_.port(), "b", 2, {"0"}).ok());
  ASSERT_TRUE(Redis(redis_.port(), {{"SET", "a", "not a list"}}).ok());
  CeleryRedisSource source(io_, Options(),
                           {{.queues = {"a"}}, {.queues = {"b"}}});
  CeleryPollResult r = Poll(source);
  ASSERT_FALSE(r.inputs[0].ok());
  EXPECT_EQ(r.inputs[0].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.inputs[0].status().message(), HasSubstr("WRONGTYPE"));
  EXPECT_THAT(r.inputs[0].status().message(), HasSubstr("LLEN \"a\""));
  EXPECT_THAT(r.inputs[0].status().message(), HasSubstr(redis_.address()));
  ExpectValue(r.inputs[1], 2);  // the other queue is unaffected

  ASSERT_TRUE(
      Redis(redis_.port(), {{"DEL", "unacked"}, {"SET", "unacked", "oops"}})
          .ok());
  CeleryRedisSource reserved(io_, Options(),
                             {{.queues = {"b"}, .include_reserved = true}});
  r = Poll(reserved);
  ASSERT_FALSE(r.inputs[0].ok());
  EXPECT_THAT(r.inputs[0].status().message(), HasSubstr("HLEN \"unacked\""));
}

TEST_F(CeleryRedisSourceTest, RedisOutageIsAnErrorThenRecovers) {
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 4, {"0", "9"}).ok());
  CeleryRedisSourceOptions options = Options();
  options.redis.command_timeout = absl::Milliseconds(300);
  CeleryRedisSource source(io_, options,
                           {{.queues = {"a"}, .include_reserved = true}});
  ExpectValue(Poll(source).inputs[0], 8);

  redis_.Stop();
  for (int i = 0; i < 3; ++i) {  // connect refused, then backing off
    CeleryPollResult r = Poll(source);
    ASSERT_FALSE(r.inputs[0].ok()) << "a value during an outage";
    EXPECT_EQ(r.inputs[0].status().code(), absl::StatusCode::kUnavailable);
    EXPECT_THAT(r.inputs[0].status().message(), HasSubstr(redis_.address()));
  }

  ASSERT_TRUE(redis_.Start().ok());  // empty: the data was not saved
  ASSERT_TRUE(SendTasks(redis_.port(), "a", 3, {"3"}).ok());
  absl::StatusOr<double> value = absl::UnavailableError("not polled");
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!value.ok() && absl::Now() < deadline) {
    value = Poll(source).inputs[0];
    if (!value.ok()) absl::SleepFor(absl::Milliseconds(50));
  }
  ExpectValue(value, 3);
}

TEST_F(CeleryRedisSourceTest, OverlappingPollIsRefused) {
  CeleryRedisSource source(io_, Options(), {{.queues = {"a"}}});
  std::optional<CeleryPollResult> first;
  source.Poll([&](CeleryPollResult r) { first = std::move(r); });
  std::optional<CeleryPollResult> second = PollOnce(io_, source);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->inputs[0].status().code(), absl::StatusCode::kUnavailable);
  while (!first) io_.run_one();
  ExpectValue(first->inputs[0], 0);
}

}  // namespace
}  // namespace ballast::testing
