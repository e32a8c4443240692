#include "ballast/source/celery_backlog.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Values of the `unacked` hash as kombu 5.2.4 (Debian's python3-celery
// 5.2.6) wrote them for a prefetching worker, copied from a real Redis.
constexpr char kUnackedToQueueA[] =
    R"json([{"body": "W1s2MF0sIHt9LCB7ImNhbGxiYWNrcyI6IG51bGwsICJlcnJiYWNrcyI6IG51bGwsICJjaGFpbiI6IG51bGwsICJjaG9yZCI6IG51bGx9XQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "ballast.sleep", "id": "315b7d7f-9814-46a9-8853-a9b3e205ed0c", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "315b7d7f-9814-46a9-8853-a9b3e205ed0c", "parent_id": null, "argsrepr": "[60]", "kwargsrepr": "{}", "origin": "gen11671@vm", "ignore_result": false}, "properties": {"correlation_id": "315b7d7f-9814-46a9-8853-a9b3e205ed0c", "reply_to": "c270e13a-7b83-3530-9d87-2d93dc8d5d6a", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "a"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "844820eb-3c90-49c6-9d1f-98b93da45aa3"}}, "", "a"])json";

// The queue is named `ünï"q`: json.dumps escapes non-ASCII and the quote.
constexpr char kUnackedToOddQueue[] =
    R"json([{"body": "W1s2MF0sIHt9LCB7ImNhbGxiYWNrcyI6IG51bGwsICJlcnJiYWNrcyI6IG51bGwsICJjaGFpbiI6IG51bGwsICJjaG9yZCI6IG51bGx9XQ==", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"lang": "py", "task": "ballast.sleep", "id": "e636b33b-2758-4ff4-a60e-44d8bbdb87ed", "shadow": null, "eta": null, "expires": null, "group": null, "group_index": null, "retries": 0, "timelimit": [null, null], "root_id": "e636b33b-2758-4ff4-a60e-44d8bbdb87ed", "parent_id": null, "argsrepr": "[60]", "kwargsrepr": "{}", "origin": "gen11856@vm", "ignore_result": false}, "properties": {"correlation_id": "e636b33b-2758-4ff4-a60e-44d8bbdb87ed", "reply_to": "f96da2b5-abb2-34af-9388-5a52ad1bbe3d", "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": "\u00fcn\u00ef\"q"}, "priority": 0, "body_encoding": "base64", "delivery_tag": "234d0a42-84a6-4f60-9ac7-13c99c2a996c"}}, "", "\u00fcn\u00ef\"q"])json";

// kombu's default separator; spelled once, since "\x06\x163" would be
// read as one hex escape.
const std::string kSep = "\x06\x16";

net::RedisReply Int(int64_t n) {
  return {.type = net::RedisReply::Type::kInteger, .integer = n};
}

net::RedisReply Err(std::string text) {
  return {.type = net::RedisReply::Type::kError, .str = std::move(text)};
}

TEST(CeleryBandKeys, DefaultsAreFourBandsWithControlSeparator) {
  EXPECT_THAT(BandKeys("celery", {}),
              ElementsAre("celery", "celery" + kSep + "3",
                          "celery" + kSep + "6", "celery" + kSep + "9"));
}

TEST(CeleryBandKeys, CustomSeparator) {
  EXPECT_THAT(BandKeys("q", {.separator = ":"}),
              ElementsAre("q", "q:3", "q:6", "q:9"));
}

TEST(CeleryBandKeys, TenPrioritySteps) {
  CeleryBrokerOptions options{.priority_steps = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
                              .separator = ":"};
  EXPECT_THAT(BandKeys("q", options),
              ElementsAre("q", "q:1", "q:2", "q:3", "q:4", "q:5", "q:6", "q:7",
                          "q:8", "q:9"));
}

TEST(CeleryBandKeys, GlobalKeyPrefixOnEveryKey) {
  CeleryBrokerOptions options{.separator = ":", .global_keyprefix = "app1/"};
  EXPECT_THAT(BandKeys("q", options),
              ElementsAre("app1/q", "app1/q:3", "app1/q:6", "app1/q:9"));
  EXPECT_EQ(UnackedKey(options), "app1/unacked");
  EXPECT_EQ(BindingKeyPattern(options), "app1/_kombu.binding.*");
}

TEST(CeleryBandKeys, BindingPatternEscapesGlobCharactersOfThePrefix) {
  EXPECT_EQ(BindingKeyPattern({.global_keyprefix = "a*[b]?"}),
            "a\\*\\[b\\]\\?_kombu.binding.*");
  EXPECT_EQ(BindingKeyPattern({}), "_kombu.binding.*");
}

TEST(CeleryBacklogCommands, AllBandsOfAllQueuesThenHlen) {
  const RedisCommands commands =
      BacklogCommands({"a", "b"}, {.priority_steps = {0, 5}, .separator = ":"});
  EXPECT_THAT(commands,
              ElementsAre(ElementsAre("LLEN", "a"), ElementsAre("LLEN", "a:5"),
                          ElementsAre("LLEN", "b"), ElementsAre("LLEN", "b:5"),
                          ElementsAre("HLEN", "unacked")));
}

TEST(CeleryParseBacklog, SumsBandsPerQueue) {
  const CeleryBrokerOptions options{.priority_steps = {0, 5}};
  absl::StatusOr<Backlog> backlog = ParseBacklog(
      {"a", "b"}, options, {Int(3), Int(4), Int(0), Int(7), Int(2)});
  ASSERT_TRUE(backlog.ok()) << backlog.status();
  EXPECT_EQ(*backlog->waiting.at("a"), 7);
  EXPECT_EQ(*backlog->waiting.at("b"), 7);
  EXPECT_EQ(*backlog->unacked, 2);
}

TEST(CeleryParseBacklog, WrongTypeIsAnErrorNamingTheKeyNeverZero) {
  const CeleryBrokerOptions options{.priority_steps = {0, 5}};
  absl::StatusOr<Backlog> backlog = ParseBacklog(
      {"a", "b"}, options,
      {Int(3),
       Err("WRONGTYPE Operation against a key holding the wrong kind of value"),
       Int(1), Int(1), Err("NOPERM no permissions")});
  ASSERT_TRUE(backlog.ok()) << backlog.status();
  const absl::StatusOr<int64_t>& a = backlog->waiting.at("a");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(a.status().message(), HasSubstr("queue 'a'"));
  EXPECT_THAT(a.status().message(), HasSubstr("\"a\\x06\\x165\""));
  EXPECT_THAT(a.status().message(), HasSubstr("WRONGTYPE"));
  EXPECT_EQ(*backlog->waiting.at("b"), 2);
  EXPECT_EQ(backlog->unacked.status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CeleryParseBacklog, WrongReplyCountIsInternal) {
  EXPECT_EQ(ParseBacklog({"a"}, {}, {Int(1)}).status().code(),
            absl::StatusCode::kInternal);
}

TEST(CeleryUnackedRoutingKey, RealKombuPayload) {
  EXPECT_EQ(*UnackedRoutingKey(kUnackedToQueueA), "a");
}

TEST(CeleryUnackedRoutingKey, RealKombuPayloadWithEscapes) {
  EXPECT_EQ(*UnackedRoutingKey(kUnackedToOddQueue), "\xC3\xBCn\xC3\xAF\"q");
}

TEST(CeleryUnackedRoutingKey, EscapedBackslashBeforeTheClosingQuote) {
  EXPECT_EQ(*UnackedRoutingKey(R"([{"a": "]"}, "x", "q\\"])"), "q\\");
  EXPECT_EQ(*UnackedRoutingKey(R"([{}, "", "\"\\\""])"), "\"\\\"");
  EXPECT_EQ(*UnackedRoutingKey(R"( [{} ,"" , "q"] )"), "q");
  EXPECT_EQ(*UnackedRoutingKey(R"([{}, "", "\ud83d\ude00"])"),
            "\xF0\x9F\x98\x80");
}

TEST(CeleryUnackedRoutingKey, RejectsWhatIsNotAKombuArray) {
  for (const char* bad : {"", "{}", "[1, 2, 3]", "[{}, \"\", null]", "\"q\"]",
                          "[\"q\"]", "[{}, \"\", \"\\x\"]"}) {
    EXPECT_EQ(UnackedRoutingKey(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(CeleryBindingMember, ParsesKombuMembers) {
  absl::StatusOr<CeleryBinding> b =
      ParseBindingMember("a" + kSep + kSep + "a", {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->routing_key, "a");
  EXPECT_EQ(b->pattern, "");
  EXPECT_EQ(b->queue, "a");

  b = ParseBindingMember(kSep + kSep + "celery@vm.celery.pidbox", {});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->routing_key, "");
  EXPECT_EQ(b->queue, "celery@vm.celery.pidbox");

  b = ParseBindingMember("rk:pat:q", {.separator = ":"});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->routing_key, "rk");
  EXPECT_EQ(b->pattern, "pat");
  EXPECT_EQ(b->queue, "q");
}

TEST(CeleryBindingMember, RejectsMalformedMembers) {
  EXPECT_FALSE(ParseBindingMember("a", {}).ok());
  EXPECT_FALSE(ParseBindingMember("a" + kSep + "b", {}).ok());
  EXPECT_FALSE(ParseBindingMember("a" + kSep + "b" + kSep, {}).ok());
  EXPECT_FALSE(ParseBindingMember("a:b:c:d", {.separator = ":"}).ok());
}

TEST(CeleryBindingMember, ControlAndEventExchanges) {
  EXPECT_TRUE(IsControlExchange("celery.pidbox"));
  EXPECT_TRUE(IsControlExchange("reply.celery.pidbox"));
  EXPECT_TRUE(IsControlExchange("celeryev"));
  EXPECT_FALSE(IsControlExchange("celery"));
  EXPECT_FALSE(IsControlExchange("a"));
}

TEST(CeleryEstimateReserved, FreshHlenWhenTheSplitIsAllMine) {
  // The split saw 4 of queue a; now 9 are unacked: all of a's.
  EXPECT_EQ(EstimateReserved(9, {{"a", 4}}, {"a", "b"}), 9);
  EXPECT_EQ(EstimateReserved(9, {{"a", 4}, {"b", 1}}, {"a", "b"}), 9);
}

TEST(CeleryEstimateReserved, ProportionalToTheSplitOtherwise) {
  const ReservedSplit split = {{"a", 3}, {"b", 1}, {"", 4}};  // "": unparsable
  EXPECT_EQ(EstimateReserved(8, split, {"a"}), 3);
  EXPECT_EQ(EstimateReserved(8, split, {"b"}), 1);
  EXPECT_EQ(EstimateReserved(16, split, {"a"}), 6);
  EXPECT_EQ(EstimateReserved(16, split, {"a", "b"}), 8);
  EXPECT_EQ(EstimateReserved(16, split, {"c"}), 0);
}

TEST(CeleryEstimateReserved, ZeroWhenNothingIsUnackedOrKnown) {
  EXPECT_EQ(EstimateReserved(0, {{"a", 4}}, {"a"}), 0);
  EXPECT_EQ(EstimateReserved(5, {}, {"a"}), 0);
}

}  // namespace
}  // namespace ballast::source
