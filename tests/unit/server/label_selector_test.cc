#include "ballast/server/label_selector.h"

#include <optional>
#include <set>
#include <string>

#include "ballast/net/http_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;
using Op = LabelRequirement::Op;

struct ParseCase {
  const char* text;
  const char* canonical;  // LabelSelector::ToString of the parse
};

TEST(LabelSelector, ParsesEveryForm) {
  const ParseCase cases[] = {
      {"", ""},
      {"   ", ""},
      {"target=asr", "target=asr"},
      {"target==asr", "target=asr"},
      {"target!=asr", "target!=asr"},
      {"target in (asr,tts)", "target in (asr,tts)"},
      {"target notin (asr,tts)", "target notin (asr,tts)"},
      {"target", "target"},
      {"!target", "!target"},
      {" target = asr ", "target=asr"},
      {"target in(asr , tts )", "target in (asr,tts)"},
      {"! target", "!target"},
      {"target=", "target="},
      {"a=1,b!=2,c in (x),d notin (y,z),e,!f",
       "a=1,b!=2,c in (x),d notin (y,z),e,!f"},
      {"example.com/tier=gold", "example.com/tier=gold"},
      {"in=notin", "in=notin"},  // keywords are plain words as key or value
      {"k in (a,)", "k in (a,)"},
  };
  for (const ParseCase& c : cases) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(c.text);
    ASSERT_TRUE(s.ok()) << "\"" << c.text << "\": " << s.status();
    EXPECT_EQ(s->ToString(), c.canonical) << c.text;
  }
}

TEST(LabelSelector, ParsesRequirementsInOrder) {
  absl::StatusOr<LabelSelector> s =
      LabelSelector::Parse("target in (a, b),!canary");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->requirements().size(), 2u);
  EXPECT_EQ(s->requirements()[0].key, "target");
  EXPECT_EQ(s->requirements()[0].op, Op::kIn);
  EXPECT_THAT(s->requirements()[0].values, ::testing::ElementsAre("a", "b"));
  EXPECT_EQ(s->requirements()[1].key, "canary");
  EXPECT_EQ(s->requirements()[1].op, Op::kDoesNotExist);
}

struct MatchCase {
  const char* selector;
  Labels labels;
  bool want;
};

TEST(LabelSelector, Matches) {
  const Labels asr = {{"target", "asr"}};
  const Labels none;
  const MatchCase cases[] = {
      {"", asr, true},
      {"", none, true},
      {"target=asr", asr, true},
      {"target=tts", asr, false},
      {"target==asr", asr, true},
      {"target=asr", none, false},
      {"target!=tts", asr, true},
      {"target!=asr", asr, false},
      {"target!=asr", none, true},  // != matches an absent label
      {"target in (tts,asr)", asr, true},
      {"target in (tts)", asr, false},
      {"target in (tts)", none, false},
      {"target notin (tts)", asr, true},
      {"target notin (asr,tts)", asr, false},
      {"target notin (asr)", none, true},
      {"target", asr, true},
      {"target", none, false},
      {"!target", asr, false},
      {"!target", none, true},
      {"target=asr,input", asr, false},
      {"target=asr,!input", asr, true},
  };
  for (const MatchCase& c : cases) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector << ": " << s.status();
    EXPECT_EQ(s->Matches(c.labels), c.want) << c.selector;
  }
}

TEST(LabelSelector, RequiredValuesAreWhatEqualsAndInAllow) {
  using Values = std::set<std::string, std::less<>>;
  struct Case {
    const char* selector;
    std::optional<Values> want;
  };
  const Case cases[] = {
      {"", std::nullopt},
      {"target", std::nullopt},
      {"!target", std::nullopt},
      {"target!=asr", std::nullopt},
      {"target notin (asr,tts)", std::nullopt},
      {"input=backlog", std::nullopt},
      {"target=asr", Values{"asr"}},
      {"target==asr", Values{"asr"}},
      {"target=", Values{""}},
      {"target in (tts,asr,tts)", Values{"asr", "tts"}},
      {"target in (asr,tts),target=tts", Values{"tts"}},
      {"target=asr,target=tts", Values{}},
      {"target in (asr,tts),target in (tts,vad)", Values{"tts"}},
      {"target=asr,target!=asr", Values{"asr"}},  // necessary, not sufficient
      {"input=backlog,target=asr,!canary", Values{"asr"}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(c.selector);
    ASSERT_TRUE(s.ok()) << c.selector << ": " << s.status();
    EXPECT_EQ(s->RequiredValues("target"), c.want) << c.selector;
  }
}

// Whatever the selector, labels whose `target` is outside RequiredValues
// never match: the guarantee the external metrics API's lookup rests on.
TEST(LabelSelector, NothingOutsideRequiredValuesMatches) {
  const char* selectors[] = {
      "target=asr",
      "target in (asr,tts)",
      "target=asr,input=x",
      "target=asr,target=tts",
      "target in (asr,vad),target!=vad",
      "target in (asr),!input",
  };
  const char* values[] = {"asr", "tts", "vad", "", "as"};
  for (const char* text : selectors) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(text);
    ASSERT_TRUE(s.ok()) << text;
    const auto required = s->RequiredValues("target");
    ASSERT_TRUE(required.has_value()) << text;
    for (const char* v : values) {
      for (const Labels& labels :
           {Labels{{"target", v}}, Labels{{"target", v}, {"input", "x"}}}) {
        if (!required->contains(v)) {
          EXPECT_FALSE(s->Matches(labels)) << text << " on target " << v;
        }
      }
    }
  }
}

TEST(LabelSelector, AcceptsUrlDecodedQueryWithPlusAsSpace) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      net::ParseQuery(
          "labelSelector=target+in+%28asr%2Ctts%29%2C%21canary&x=1");
  ASSERT_TRUE(params.ok()) << params.status();
  ASSERT_EQ(params->size(), 2u);
  EXPECT_EQ((*params)[0].first, "labelSelector");
  EXPECT_EQ((*params)[0].second, "target in (asr,tts),!canary");
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse((*params)[0].second);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->Matches({{"target", "tts"}}));
  EXPECT_FALSE(s->Matches({{"target", "tts"}, {"canary", "1"}}));

  EXPECT_EQ(*net::DecodeQueryComponent("a%3Db+c%20d"), "a=b c d");
  EXPECT_EQ(*net::DecodePathSegment("a+b%2Fc"), "a+b/c");
  EXPECT_FALSE(net::DecodeQueryComponent("bad%2").ok());
  EXPECT_FALSE(net::DecodeQueryComponent("bad%zz").ok());
}

struct ErrorCase {
  const char* text;
  const char* message;  // a part of the error
};

TEST(LabelSelector, RejectsMalformedSelectorsNamingTheProblem) {
  const ErrorCase cases[] = {
      {"target in ()", "cannot be empty"},
      {"target in (a", "expected ',' or ')', found end of selector"},
      {"target in a", "expected '('"},
      {"target asr", "expected '=', '==', '!=', 'in', 'notin'"},
      {"=asr", "expected a label key or '!'"},
      {"target=asr,", "expected a label key or '!', found end of selector"},
      {",", "expected a label key"},
      {"target=a b", "expected ',' or end of selector, found 'b'"},
      {"!", "expected a label key, found end of selector"},
      {"!target=asr", "expected ',' or end of selector, found '='"},
      {"replicas>3", "operator '>' at position 8 is not supported"},
      {"target=(asr)", "expected a label value, found '('"},
      {"bad key!x=1", "found 'key' at position 4"},
      {"-target=asr", "invalid label key \"-target\""},
      {"target=-asr", "invalid label value \"-asr\""},
      {"UPPER.example.com/x=1", "invalid label key"},
      {"target="
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "invalid label value"},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<LabelSelector> s = LabelSelector::Parse(c.text);
    ASSERT_FALSE(s.ok()) << "\"" << c.text << "\" parsed as " << s->ToString();
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.status().message(), HasSubstr(c.message)) << c.text;
    EXPECT_THAT(s.status().message(), HasSubstr("invalid labelSelector"));
  }
}

}  // namespace
}  // namespace ballast::server
