#include "ballast/core/json.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace ballast {
namespace {

TEST(ParseJson, ReadsNestedDocument) {
  absl::StatusOr<rapidjson::Document> doc =
      ParseJson(R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}} )");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const rapidjson::Value* a = JsonFind(*doc, "a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->IsArray());
  ASSERT_EQ(a->Size(), 5u);
  EXPECT_EQ((*a)[0].GetDouble(), 1);
  EXPECT_EQ((*a)[1].GetDouble(), -2500);
  EXPECT_TRUE((*a)[2].GetBool());
  EXPECT_FALSE((*a)[3].GetBool());
  EXPECT_TRUE((*a)[4].IsNull());
  EXPECT_EQ(JsonText(*JsonFind(*JsonFind(*doc, "b"), "c")), "d");
  EXPECT_EQ(JsonFind(*doc, "missing"), nullptr);
  EXPECT_EQ(JsonFind(*a, "x"), nullptr);  // not an object
  EXPECT_EQ(JsonTypeName(*a), "array");
  EXPECT_EQ(JsonTypeName((*a)[2]), "boolean");
  EXPECT_EQ(JsonTypeName((*a)[1]), "number");
}

TEST(ParseJson, DecodesEscapesAndSurrogatePairs) {
  absl::StatusOr<rapidjson::Document> doc =
      ParseJson(R"("q\"\\\/\b\f\n\r\t \u00e9 \u20AC \ud83d\ude00")");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(JsonText(*doc),
            "q\"\\/\b\f\n\r\t \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(ParseJson, KeepsDuplicateKeysAndFindsTheFirst) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(R"({"k": 1, "k": 2})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->MemberCount(), 2u);
  EXPECT_EQ(JsonFind(*doc, "k")->GetDouble(), 1);
}

TEST(ParseJson, AcceptsEmptyContainersAndNumberForms) {
  for (const char* text :
       {"[]", "{}", "0", "-0", "0.5", "1E+2", "1e-2", "[[]]", "\"\""}) {
    EXPECT_TRUE(ParseJson(text).ok()) << text;
  }
}

TEST(ParseJson, RejectsWhatRfc8259Rejects) {
  for (const char* text : {"",
                           " ",
                           "[1,]",
                           "{\"a\":1,}",
                           "01",
                           "1.",
                           ".5",
                           "-",
                           "1e",
                           "+1",
                           "NaN",
                           "Infinity",
                           "'a'",
                           "[1 2]",
                           "{\"a\" 1}",
                           "{1:2}",
                           "tru",
                           "nul",
                           "\"\\x\"",
                           "\"\\u12\"",
                           "\"\\ud800\"",
                           "\"\\udc00\"",
                           "\"a\tb\"",
                           "\"unterminated",
                           "[1] x",
                           "// c\n1",
                           "1e999"}) {
    absl::StatusOr<rapidjson::Document> doc = ParseJson(text);
    EXPECT_FALSE(doc.ok()) << text;
    if (!doc.ok()) {
      EXPECT_EQ(doc.status().code(), absl::StatusCode::kDataLoss) << text;
    }
  }
}

TEST(ParseJson, ErrorsNameTheOffset) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(R"({"a": [1, 2} )");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message(),
            "invalid JSON at byte 11: expected ',' or ']'");
  doc = ParseJson(R"({"status":"succ)");
  ASSERT_FALSE(doc.ok());
  EXPECT_NE(doc.status().message().find("unexpected end of input"),
            std::string::npos)
      << doc.status();
}

TEST(ParseJson, LimitsNesting) {
  EXPECT_TRUE(ParseJson(std::string(100, '[') + std::string(100, ']')).ok());
  absl::StatusOr<rapidjson::Document> deep =
      ParseJson(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested too deeply"),
            std::string::npos);
}

// RapidJSON stops at a NUL byte; a document is the whole text.
TEST(ParseJson, RejectsDataAfterANulByte) {
  absl::StatusOr<rapidjson::Document> doc =
      ParseJson(std::string("{\"a\":1}\0x", 9));
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message(),
            "invalid JSON at byte 7: unexpected data after the value");
}

TEST(ParseJson, ReadsNumbersToFullPrecision) {
  absl::StatusOr<rapidjson::Document> doc =
      ParseJson("[1700000000.123, 0.1, 18446744073709551615]");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)[0].GetDouble(), 1700000000.123);
  EXPECT_EQ((*doc)[1].GetDouble(), 0.1);
  EXPECT_EQ((*doc)[2].GetDouble(), 18446744073709551615.0);
}

// Only a "\\udc00" escape is a lone surrogate; raw bytes pass through (as
// the writer writes them), and so does an escaped backslash before "udc00".
TEST(ParseJson, LoneLowSurrogateIsAnEscapeOnly) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(R"(["a", "\udc00"])");
  ASSERT_FALSE(doc.ok());
  EXPECT_EQ(doc.status().message(),
            "invalid JSON at byte 7: lone low surrogate");
  doc = ParseJson(R"("\\udc00 \ud83d\ude00")");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(JsonText(*doc), "\\udc00 \xF0\x9F\x98\x80");
  doc = ParseJson("\"\xED\xB0\x80\"");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(JsonText(*doc), "\xED\xB0\x80");
}

TEST(ParseJson, ZeroWithAnyExponentIsZero) {
  for (const char* text : {"0e-55", "0.000e-400", "-0e5", "0E+308"}) {
    absl::StatusOr<rapidjson::Document> doc = ParseJson(text);
    ASSERT_TRUE(doc.ok()) << text << ": " << doc.status();
    EXPECT_EQ(doc->GetDouble(), 0) << text;
  }
}

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("plain"), R"("plain")");
  EXPECT_EQ(JsonQuote(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(JsonQuote("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(JsonQuote(std::string("\x06\x16", 2)), R"("\u0006\u0016")");
  EXPECT_EQ(JsonQuote(std::string("a\0b", 3)), R"("a\u0000b")");
}

TEST(JsonQuote, PassesUtf8Through) { EXPECT_EQ(JsonQuote("ünï"), "\"ünï\""); }

TEST(JsonWriter, WritesCompactAndPrettyDocuments) {
  JsonWriter w;
  w.StartObject().Key("k").String("v").Key("n").Int(-3).Key("a").StartArray();
  w.Bool(true).Null().RawNumber("0.25").EndArray().EndObject();
  EXPECT_EQ(w.Take(), R"({"k":"v","n":-3,"a":[true,null,0.25]})");
  PrettyJsonWriter p;
  p.StartObject().Key("a").Int(1).Key("b").StartObject().EndObject();
  p.Key("c").StartObject().Key("d").String("e").EndObject().EndObject();
  EXPECT_EQ(
      p.Take(),
      "{\n  \"a\": 1,\n  \"b\": {},\n  \"c\": {\n    \"d\": \"e\"\n  }\n}");
}

}  // namespace
}  // namespace ballast
