#include "ballast/sim/trace.h"

#include <cmath>

#include "ballast/sim/format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::sim {
namespace {

using ::testing::HasSubstr;

TEST(ParseTraceTime, ReadsPlainSeconds) {
  EXPECT_EQ(ParseTraceTime("0"), 0.0);
  EXPECT_EQ(ParseTraceTime(" 15.5 "), 15.5);
}

TEST(ParseTraceTime, ReadsRfc3339InUtcAndWithOffset) {
  EXPECT_EQ(ParseTraceTime("2023-11-16T18:15:46Z"), 1700158546.0);
  EXPECT_EQ(ParseTraceTime("2023-11-16T19:15:46+01:00"), 1700158546.0);
  EXPECT_EQ(ParseTraceTime("2023-11-16T18:15:46.25z"), 1700158546.25);
  EXPECT_EQ(ParseTraceTime("1970-01-01T00:00:00Z"), 0.0);
}

TEST(ParseTraceTime, ReadsTheRawTracesSpaceSeparatedFormAsUtc) {
  EXPECT_EQ(ParseTraceTime("1998-04-30 21:30:00"), 893971800.0);
  EXPECT_NEAR(*ParseTraceTime("2023-11-16 18:15:46.6805900"), 1700158546.68059,
              1e-6);
}

TEST(ParseTraceTime, RejectsNonTimes) {
  EXPECT_EQ(ParseTraceTime(""), std::nullopt);
  EXPECT_EQ(ParseTraceTime("yesterday"), std::nullopt);
  EXPECT_EQ(ParseTraceTime("2023-02-30T00:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseTraceTime("2023-11-16T24:00:00Z"), std::nullopt);
  EXPECT_EQ(ParseTraceTime("2023-11-16T18:15:46Q"), std::nullopt);
  EXPECT_EQ(ParseTraceTime("nan"), std::nullopt);
}

TEST(FormatRfc3339, PrintsAFractionOnlyWhenThereIsOne) {
  EXPECT_EQ(FormatRfc3339(893971800), "1998-04-30T21:30:00Z");
  EXPECT_EQ(FormatRfc3339(1700158546.68), "2023-11-16T18:15:46.68Z");
}

TEST(FormatNumber, PrintsShortDecimals) {
  EXPECT_EQ(FormatNumber(15), "15");
  EXPECT_EQ(FormatNumber(0.5), "0.5");
  EXPECT_EQ(FormatNumber(229426.0 / 60), "3823.766667");
  EXPECT_EQ(FormatNumber(-0.0), "0");
}

TEST(ParseTrace, ReadsColumnsTimesAndValues) {
  absl::StatusOr<Trace> t =
      ParseTrace("time,rps,latency\n0,10,0.5\n15,12.5,0.7\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->columns, ::testing::ElementsAre("rps", "latency"));
  EXPECT_THAT(t->times, ::testing::ElementsAre(0, 15));
  EXPECT_THAT(t->values[1], ::testing::ElementsAre(0.5, 0.7));
  EXPECT_THAT(t->lines, ::testing::ElementsAre(2, 3));
  EXPECT_EQ(t->ColumnIndex("latency"), 1u);
  EXPECT_EQ(t->ColumnIndex("nope"), std::nullopt);
}

TEST(ParseTrace, ReadsRfc3339TimesCrlfAndAMissingFinalNewline) {
  absl::StatusOr<Trace> t = ParseTrace(
      "time,rps\r\n2023-11-16T18:15:46Z,1\r\n2023-11-16 18:16:46,2", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->times, ::testing::ElementsAre(1700158546, 1700158606));
  EXPECT_THAT(t->values[0], ::testing::ElementsAre(1, 2));
}

TEST(ParseTrace, EmptyCellIsMissingSample) {
  absl::StatusOr<Trace> t = ParseTrace("time,a,b\n0,,1\n1, ,\n", "t.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(std::isnan(t->values[0][0]));
  EXPECT_TRUE(std::isnan(t->values[0][1]));
  EXPECT_EQ(t->values[1][0], 1);
  EXPECT_TRUE(std::isnan(t->values[1][1]));
}

TEST(ParseTrace, BadCellNamesFileLineAndColumn) {
  absl::StatusOr<Trace> t = ParseTrace("time,rps\n0,1\n15,abc\n", "t.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "t.csv:3: column 'rps': not a number");
}

TEST(ParseTrace, UnsortedRowsAreAnErrorWithTheLine) {
  absl::StatusOr<Trace> t =
      ParseTrace("time,rps\n\n0,1\n30,1\n15,1\n", "t.csv");
  ASSERT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("t.csv:5: time goes backwards"));
}

TEST(ParseTrace, RejectsBadHeadersCellCountsAndTimes) {
  EXPECT_THAT(ParseTrace("when,rps\n0,1\n", "t.csv").status().message(),
              HasSubstr("t.csv:1: the first column of the header must be "
                        "'time'"));
  EXPECT_THAT(ParseTrace("time,a,a\n0,1,1\n", "t.csv").status().message(),
              HasSubstr("duplicate name 'a'"));
  EXPECT_THAT(ParseTrace("time,a\n0,1,2\n", "t.csv").status().message(),
              HasSubstr("t.csv:2: 3 cells, expected 2"));
  EXPECT_THAT(ParseTrace("time,a\nnoon,1\n", "t.csv").status().message(),
              HasSubstr("t.csv:2: column 'time'"));
  EXPECT_THAT(ParseTrace("time,a\n", "t.csv").status().message(),
              HasSubstr("no data rows"));
  EXPECT_THAT(ParseTrace("", "t.csv").status().message(),
              HasSubstr("empty trace"));
}

TEST(Trace, RowAtOrBeforeFindsTheLatestRowNotAfterT) {
  absl::StatusOr<Trace> t = ParseTrace("time,a\n10,1\n20,2\n20,3\n", "t.csv");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->RowAtOrBefore(9.9), std::nullopt);
  EXPECT_EQ(t->RowAtOrBefore(10), 0u);
  EXPECT_EQ(t->RowAtOrBefore(19), 0u);
  EXPECT_EQ(t->RowAtOrBefore(20), 2u);
  EXPECT_EQ(t->RowAtOrBefore(1000), 2u);
}

TEST(LoadTraceFile, MissingFileIsNotFound) {
  EXPECT_EQ(LoadTraceFile("/nonexistent/trace.csv").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(LoadTraceFile, ReadsTheShippedTestTrace) {
  absl::StatusOr<Trace> t =
      LoadTraceFile(BALLAST_SOURCE_DIR "/tests/testdata/traces/rps_small.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->columns, std::vector<std::string>{"rps"});
  EXPECT_EQ(t->rows(), 9u);
}

}  // namespace
}  // namespace ballast::sim

namespace ballast::sim {
namespace {

TEST(LoadTraceFile, BadCellInAFileNamesThePathAndLine) {
  const std::string path =
      BALLAST_SOURCE_DIR "/tests/testdata/traces/bad_cell.csv";
  EXPECT_EQ(LoadTraceFile(path).status().message(),
            path + ":6: column 'rps': not a number");
}

TEST(LoadTraceFile, ReadsTheShippedJobTrace) {
  absl::StatusOr<Trace> t =
      LoadTraceFile(BALLAST_SOURCE_DIR "/tests/testdata/traces/jobs_small.csv");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_THAT(t->columns, ::testing::ElementsAre("arrivals", "work_seconds"));
  EXPECT_THAT(t->values[0], ::testing::ElementsAre(4, 0, 0));
}

}  // namespace
}  // namespace ballast::sim
