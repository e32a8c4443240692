#include <string>

#include "absl/status/status.h"
#include "ballast/source/json.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

TEST(ParseJson, ReadsNestedDocument) {
  absl::StatusOr<Json> doc =
      ParseJson(R"( {"a": [1, -2.5e3, true, false, null], "b": {"c": "d"}} )");
  ASSERT_TRUE(doc.ok()) << doc.status();
  const Json* a = doc->Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->IsArray());
  ASSERT_EQ(a->AsArray().size(), 5u);
  EXPECT_EQ(a->AsArray()[0].AsNumber(), 1);
  EXPECT_EQ(a->AsArray()[1].AsNumber(), -2500);
  EXPECT_TRUE(a->AsArray()[2].AsBool());
  EXPECT_FALSE(a->AsArray()[3].AsBool());
  EXPECT_TRUE(a->AsArray()[4].IsNull());
  EXPECT_EQ(doc->Find("b")->Find("c")->AsString(), "d");
  EXPECT_EQ(doc->Find("missing"), nullptr);
  EXPECT_EQ(a->Find("x"), nullptr);  // not an object
  EXPECT_EQ(a->TypeName(), "array");
}

TEST(ParseJson, DecodesEscapesAndSurrogatePairs) {
  absl::StatusOr<Json> doc =
      ParseJson(R"("q\"\\\/\b\f\n\r\t \u00e9 \u20AC \ud83d\ude00")");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->AsString(),
            "q\"\\/\b\f\n\r\t \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(ParseJson, KeepsDuplicateKeysAndFindsTheFirst) {
  absl::StatusOr<Json> doc = ParseJson(R"({"k": 1, "k": 2})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->AsObject().size(), 2u);
  EXPECT_EQ(doc->Find("k")->AsNumber(), 1);
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
    absl::StatusOr<Json> doc = ParseJson(text);
    EXPECT_FALSE(doc.ok()) << text;
    if (!doc.ok()) {
      EXPECT_EQ(doc.status().code(), absl::StatusCode::kDataLoss) << text;
    }
  }
}

TEST(ParseJson, ErrorsNameTheOffset) {
  absl::StatusOr<Json> doc = ParseJson(R"({"a": [1, 2} )");
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
  absl::StatusOr<Json> deep =
      ParseJson(std::string(100000, '[') + std::string(100000, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("nested too deeply"),
            std::string::npos);
}

}  // namespace
}  // namespace ballast::source
