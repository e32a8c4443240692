#include "ballast/sim/convert.h"

#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "ballast/sim/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::sim {
namespace {

using ::testing::HasSubstr;

constexpr absl::string_view kWorldCup =
    "period,count\n"
    "1998-04-30 21:30:00,120\n"
    "1998-04-30 21:31:00,60\n"
    "1998-04-30 21:32:00,3\n";

TEST(ConvertWorldCup98, TurnsCountsPerMinuteIntoScaledRequestsPerSecond) {
  std::ostringstream out;
  absl::StatusOr<int64_t> rows =
      ConvertWorldCup98(kWorldCup, "wc.csv", {.scale = 2}, out);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(*rows, 3);
  EXPECT_EQ(out.str(),
            "time,rps\n"
            "1998-04-30T21:30:00Z,4\n"
            "1998-04-30T21:31:00Z,2\n"
            "1998-04-30T21:32:00Z,0.1\n");
}

TEST(ConvertWorldCup98, KeepsRowsFromInclusiveToExclusive) {
  std::ostringstream out;
  WorldCupOptions options;
  options.range = {ParseTraceTime("1998-04-30T21:31:00Z"),
                   ParseTraceTime("1998-04-30T21:32:00Z")};
  ASSERT_TRUE(ConvertWorldCup98(kWorldCup, "wc.csv", options, out).ok());
  EXPECT_EQ(out.str(), "time,rps\n1998-04-30T21:31:00Z,1\n");
}

TEST(ConvertWorldCup98, RejectsBadInputWithTheLine) {
  std::ostringstream out;
  EXPECT_THAT(ConvertWorldCup98("period,count\n1998-04-30 21:30:00,-1\n",
                                "wc.csv", {}, out)
                  .status()
                  .message(),
              HasSubstr("wc.csv:2: column 'count'"));
  EXPECT_THAT(ConvertWorldCup98("period,hits\n1998-04-30 21:30:00,1\n",
                                "wc.csv", {}, out)
                  .status()
                  .message(),
              HasSubstr("no column 'count'"));
  WorldCupOptions empty;
  empty.range.from = 2e9;
  EXPECT_THAT(
      ConvertWorldCup98(kWorldCup, "wc.csv", empty, out).status().message(),
      HasSubstr("no rows in the selected time range"));
  EXPECT_TRUE(out.str().empty());
}

constexpr absl::string_view kAzure =
    "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    "2023-11-16 10:00:00.5000000,1000,10\n"
    "2023-11-16 10:00:02.2500000,0,0\n"
    "2023-11-16 10:00:02.7500000,2000,100\n";

TEST(ConvertAzureLlm, BucketsArrivalsWithTheirWorkIncludingEmptyBuckets) {
  std::ostringstream out;
  absl::StatusOr<int64_t> rows = ConvertAzureLlm(kAzure, "az.csv", {}, out);
  ASSERT_TRUE(rows.ok()) << rows.status();
  // Work: 0.5 + 1000 x 0.0005 + 10 x 0.02 = 1.2; 0.5; 0.5 + 1 + 2 = 3.5.
  // Each row holds the arrivals since the previous one.
  EXPECT_EQ(out.str(),
            "time,arrivals,work_seconds\n"
            "2023-11-16T10:00:00Z,0,0\n"
            "2023-11-16T10:00:01Z,1,1.2\n"
            "2023-11-16T10:00:02Z,0,0\n"
            "2023-11-16T10:00:03Z,2,4\n");
  EXPECT_EQ(*rows, 4);
}

TEST(ConvertAzureLlm, HonoursBucketSizeAndCostModel) {
  std::ostringstream out;
  AzureLlmOptions options;
  options.bucket_seconds = 2.5;
  options.base_seconds = 1;
  options.seconds_per_context_token = 0;
  options.seconds_per_generated_token = 0.1;
  ASSERT_TRUE(ConvertAzureLlm(kAzure, "az.csv", options, out).ok());
  EXPECT_EQ(out.str(),
            "time,arrivals,work_seconds\n"
            "2023-11-16T10:00:00Z,0,0\n"
            "2023-11-16T10:00:02.5Z,2,3\n"
            "2023-11-16T10:00:05Z,1,11\n");
}

TEST(ConvertAzureLlm, RejectsAnEmptyTokenCellWithTheLine) {
  std::ostringstream out;
  EXPECT_THAT(
      ConvertAzureLlm("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                      "2023-11-16 10:00:00,5,\n",
                      "az.csv", {}, out)
          .status()
          .message(),
      HasSubstr("az.csv:2: column 'GeneratedTokens': empty or negative"));
}

// Every bucket is written, empty ones too, so a timestamp years off (a typo
// in the year) would write gigabytes: past kMaxAzureLlmBuckets buckets the
// conversion is refused, naming the first request past the limit. Nothing
// is written then.
TEST(ConvertAzureLlm, RefusesASpanOfMoreThanTheBucketLimitNamingTheLine) {
  struct Case {
    std::string name;
    std::string csv;
    AzureLlmOptions options;
    std::optional<int64_t> want_rows;  // nullopt: refused with want_error
    std::string want_error;
  };
  const std::string header = "TIMESTAMP,ContextTokens,GeneratedTokens\n";
  AzureLlmOptions minutes;
  minutes.bucket_seconds = 60;
  AzureLlmOptions far_to;
  far_to.range.to = ParseTraceTime("2053-11-16T10:00:00Z");
  const std::vector<Case> cases = {
      {"TypoInTheYear",
       header + "2023-11-16 10:00:00,1,1\n2023-11-16 10:00:01,1,1\n" +
           "2053-11-16 10:00:02,1,1\n",
       {},
       std::nullopt,
       "az.csv:4: TIMESTAMP 2053-11-16T10:00:02Z is 946771202 s after the "
       "start 2023-11-16T10:00:00Z (line 2): more than 1000000 buckets of 1 "
       "s from the start"},
      {"SecondsSinceEpochOneAndAHundredYearsLater",
       header + "0,1,1\n3153600000,1,1\n",
       {},
       std::nullopt,
       "az.csv:3: TIMESTAMP 2069-12-07T00:00:00Z is 3153600000 s after the "
       "start 1970-01-01T00:00:00Z (line 2)"},
      {"HugeNumberAsTime",
       header + "0,1,1\n1e300,1,1\n",
       {},
       std::nullopt,
       "az.csv:3: TIMESTAMP 1e+300 is 1e+300 s after the start"},
      {"FarTo", header + "2023-11-16 10:00:00,1,1\n", far_to, std::nullopt,
       "--to 2053-11-16T10:00:00Z is 946771200 s after the start "
       "2023-11-16T10:00:00Z (line 2): more than 1000000 buckets"},
      // Exactly at the limit: buckets 0 .. 999999 (11.57 days at 1 s).
      {"LastBucketWithinTheLimit",
       header + "0,1,1\n999999.5,1,1\n",
       {},
       1'000'001,
       ""},
      {"FirstBucketPastTheLimit",
       header + "0,1,1\n1000000,1,1\n",
       {},
       std::nullopt,
       "az.csv:3: TIMESTAMP 1970-01-12T13:46:40Z is 1000000 s"},
      // Larger buckets make a longer span fit: a year in minutes.
      {"YearInMinutes", header + "0,1,1\n31536000,1,1\n", minutes, 525'602, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::ostringstream out;
    const absl::StatusOr<int64_t> rows =
        ConvertAzureLlm(c.csv, "az.csv", c.options, out);
    if (c.want_rows) {
      ASSERT_TRUE(rows.ok()) << rows.status();
      EXPECT_EQ(*rows, *c.want_rows);
    } else {
      ASSERT_FALSE(rows.ok());
      EXPECT_EQ(rows.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(rows.status().message(), HasSubstr(c.want_error));
      EXPECT_EQ(out.str(), "");
    }
  }
}

}  // namespace
}  // namespace ballast::sim
