// `ballast trace convert` and `ballast simulate` through the real binary, on
// slices of the shipped public traces and the demo config.
#include <filesystem>
#include <string>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"

namespace ballast::testing {
namespace {

const std::string kSource = BALLAST_SOURCE_DIR;

class SimulateCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("ballast-cli-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SimulateCli, ConvertsOneDayOfWorldCupToRequestsPerSecond) {
  const CliRun run =
      Ballast(dir_, "trace convert --format worldcup98 --in " + kSource +
                        "/bench/traces/worldcup98/requests_per_minute.csv"
                        " --from 1998-06-30T00:00:00Z --to 1998-07-01T00:00:00Z"
                        " --out day.csv");
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const std::string csv = ReadFile(dir_ / "day.csv");
  std::vector<std::string> lines = absl::StrSplit(csv, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + 1440u);  // header + one row a minute
  EXPECT_EQ(lines[0], "time,rps");
  EXPECT_TRUE(lines[1].starts_with("1998-06-30T00:00:00Z,")) << lines[1];
}

TEST_F(SimulateCli, WritesTheThreeOutputsAndComparesWithHpa) {
  ASSERT_EQ(Ballast(dir_, "trace convert --format worldcup98 --in " + kSource +
                              "/bench/traces/worldcup98/requests_per_minute.csv"
                              " --from 1998-06-30T00:00:00Z"
                              " --to 1998-07-01T00:00:00Z --out day.csv")
                .exit_code,
            0);
  const CliRun run =
      Ballast(dir_,
              "simulate --config " + kSource +
                  "/config/demo.yaml --trace day.csv --out out --baseline hpa",
              true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // One target covered (tts-api): outputs straight in out/.
  for (const char* f : {"timeline.csv", "summary.json", "timeline.svg",
                        "baseline-hpa/summary.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "out" / f)) << f;
  }
  const std::string timeline = ReadFile(dir_ / "out/timeline.csv");
  EXPECT_TRUE(timeline.starts_with(
      "time,rps,proposal_rps,desired,recommendation,replicas,limited_by\n"))
      << timeline.substr(0, 200);
  // From the first row (00:00) to the last (23:59) at one tick every 15 s.
  EXPECT_EQ(std::count(timeline.begin(), timeline.end(), '\n'),
            1 + (23 * 3600 + 59 * 60) / 15 + 1);
  const std::string summary = ReadFile(dir_ / "out/summary.json");
  for (const char* key : {"\"replica_seconds\"", "\"scale_events\"",
                          "\"slo_violation_seconds\"", "\"max_replicas\""}) {
    EXPECT_NE(summary.find(key), std::string::npos) << key;
  }
  EXPECT_NE(run.output.find("hpa"), std::string::npos) << run.output;
  const std::string svg = ReadFile(dir_ / "out/timeline.svg");
  EXPECT_TRUE(svg.starts_with("<svg") || svg.starts_with("<?xml"));
  EXPECT_NE(svg.find("tts-api"), std::string::npos);
}

TEST_F(SimulateCli, RunsTheQueueModelOnAzureArrivals) {
  ASSERT_EQ(Ballast(dir_, "trace convert --format azure-llm --in " + kSource +
                              "/bench/traces/azure-llm-2023/requests.csv"
                              " --out jobs.csv")
                .exit_code,
            0);
  const CliRun run =
      Ballast(dir_,
              "simulate --config " + kSource +
                  "/config/demo.yaml --trace jobs.csv --target asr-worker"
                  " --out out",
              true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  // Every request of the trace arrives in the queue.
  const std::string raw =
      ReadFile(kSource + "/bench/traces/azure-llm-2023/requests.csv");
  const std::vector<std::string> rows =
      absl::StrSplit(raw, '\n', absl::SkipEmpty());
  const std::string summary = ReadFile(dir_ / "out/summary.json");
  EXPECT_NE(
      summary.find("\"jobs_arrived\": " + std::to_string(rows.size() - 1)),
      std::string::npos)
      << summary;
  const std::string timeline = ReadFile(dir_ / "out/timeline.csv");
  EXPECT_TRUE(timeline.starts_with("time,backlog,wait_seconds,"))
      << timeline.substr(0, 200);
}

TEST_F(SimulateCli, UsageAndInputErrorsHaveDistinctExitCodes) {
  EXPECT_EQ(Ballast(dir_, "simulate --config").exit_code, 2);
  EXPECT_EQ(Ballast(dir_, "simulate --bogus 1").exit_code, 2);
  EXPECT_EQ(Ballast(dir_, "simulate --config " + kSource +
                              "/config/demo.yaml --trace missing.csv")
                .exit_code,
            1);
}

}  // namespace
}  // namespace ballast::testing
