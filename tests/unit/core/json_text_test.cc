#include "ballast/core/json_text.h"

#include <string>

#include "gtest/gtest.h"

namespace ballast {
namespace {

TEST(JsonQuote, EscapesQuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(JsonQuote(""), R"("")");
  EXPECT_EQ(JsonQuote("plain"), R"("plain")");
  EXPECT_EQ(JsonQuote(R"(say "hi" \ bye)"), R"("say \"hi\" \\ bye")");
  EXPECT_EQ(JsonQuote("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(JsonQuote(std::string("\x06\x16", 2)), R"("\u0006\u0016")");
}

TEST(JsonQuote, PassesUtf8Through) { EXPECT_EQ(JsonQuote("ünï"), "\"ünï\""); }

}  // namespace
}  // namespace ballast
