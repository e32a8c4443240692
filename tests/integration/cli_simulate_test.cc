// `ballast trace convert` and `ballast simulate` through the real binary, on
// slices of the shipped public traces and the demo config.
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"

namespace ballast::testing {
namespace {

const std::string kSource = BALLAST_SOURCE_DIR;

size_t Occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1)) {
    ++n;
  }
  return n;
}

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

// Three days of the World Cup; ballast (config/demo.yaml), a second policy
// and the HPA baseline side by side, shown for hours 36 to 60.
TEST_F(SimulateCli, ComparesTwoPoliciesAndTheBaselineInAWindow) {
  ASSERT_EQ(Ballast(dir_, "trace convert --format worldcup98 --in " + kSource +
                              "/bench/traces/worldcup98/requests_per_minute.csv"
                              " --from 1998-06-29T00:00:00Z"
                              " --to 1998-07-02T00:00:00Z --out days.csv")
                .exit_code,
            0);
  {
    std::ofstream other(dir_ / "other.yaml");
    other << "server: {pollIntervalSeconds: 15}\n"
             "targets:\n"
             "  - name: eager\n"
             "    minReplicas: 4\n"
             "    maxReplicas: 100\n"
             "    inputs:\n"
             "      - {name: rps, averageValue: 40}\n";
  }
  const CliRun run = Ballast(dir_,
                             "simulate --config " + kSource +
                                 "/config/demo.yaml --trace days.csv --out out"
                                 " --target tts-api --compare other.yaml"
                                 " --compare-target eager --baseline hpa"
                                 " --from 36h --to 2d12h",
                             true);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  for (const char* f : {"compare/summary.json", "compare/timeline.svg",
                        "baseline-hpa/timeline.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "out" / f)) << f;
  }
  const std::string summary = ReadFile(dir_ / "out/summary.json");
  for (const char* key :
       {"\"compare\": {", "\"baseline_hpa\": {", "\"policy\": \"other.yaml\"",
        "\"target\": \"eager\"", "\"scale_ups\"", "\"scale_downs\"",
        "\"replica_hours\"", "\"slo_violation_seconds\"",
        "\"per_replica_load\": {", "\"rps\": {", "\"p50\"", "\"p99\"",
        "\"ratio_to_baseline\"", "\"window\": {", "\"from_seconds\": 129600",
        "\"to_seconds\": 216000"}) {
    EXPECT_NE(summary.find(key), std::string::npos) << key << "\n" << summary;
  }
  // One window block per policy; ratios for ballast and compare, whole run
  // and window.
  EXPECT_EQ(Occurrences(summary, "\"window\": {"), 3u);
  EXPECT_EQ(Occurrences(summary, "\"ratio_to_baseline\""), 4u);
  // The whole run is still 3 days: 17277 ticks (to 23:59 of day 3).
  EXPECT_NE(summary.find("\"ticks\": 17277,"), std::string::npos);

  // timeline.csv: the window's rows only, one per 15 s.
  const std::vector<std::string> rows = absl::StrSplit(
      ReadFile(dir_ / "out/timeline.csv"), '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 1u + 24u * 240u);
  EXPECT_TRUE(rows[1].starts_with("129600,")) << rows[1];
  EXPECT_TRUE(rows.back().starts_with("215985,")) << rows.back();

  // The picture: three policies' replicas, legends, the window's hours.
  const std::string svg = ReadFile(dir_ / "out/timeline.svg");
  EXPECT_EQ(Occurrences(svg, "class=\"replicas policy-"), 3u);
  EXPECT_EQ(Occurrences(svg, "<g class=\"legend\">"), 2u);
  EXPECT_NE(svg.find(">compare (other.yaml)<"), std::string::npos);
  EXPECT_NE(svg.find(">plain HPA<"), std::string::npos);
  EXPECT_NE(svg.find(">36h<"), std::string::npos);
  EXPECT_EQ(svg.find(">12h<"), std::string::npos);
  EXPECT_LT(svg.size(), 200'000u);

  // The table: the policies in columns with the ratio to the baseline, for
  // the whole run and the window.
  EXPECT_NE(run.output.find("compare    /hpa"), std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find("scale-ups"), std::string::npos);
  EXPECT_NE(run.output.find("rps/replica p99"), std::string::npos);
  EXPECT_NE(run.output.find("window: hours 36 to 60"), std::string::npos)
      << run.output;
}

TEST_F(SimulateCli, RejectsBadWindowsAndCompareTargets) {
  ASSERT_EQ(Ballast(dir_, "trace convert --format worldcup98 --in " + kSource +
                              "/bench/traces/worldcup98/requests_per_minute.csv"
                              " --from 1998-06-29T00:00:00Z"
                              " --to 1998-06-29T06:00:00Z --out t.csv")
                .exit_code,
            0);
  const std::string base =
      "simulate --config " + kSource + "/config/demo.yaml --trace t.csv ";
  EXPECT_EQ(Ballast(dir_, base + "--from 2h --to 1h").exit_code, 2);
  EXPECT_EQ(Ballast(dir_, base + "--from 7h").exit_code, 2);
  EXPECT_EQ(Ballast(dir_, base + "--from soon").exit_code, 2);
  EXPECT_EQ(Ballast(dir_, base + "--compare-target x").exit_code, 2);
  const CliRun run =
      Ballast(dir_, base + "--compare " + kSource +
                        "/config/demo.yaml"
                        " --compare-target nope --target tts-api");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_NE(run.output.find("no target 'nope'"), std::string::npos)
      << run.output;
  // An RFC 3339 --from is a time of the trace.
  EXPECT_EQ(
      Ballast(dir_, base + "--from 1998-06-29T01:00:00Z --out o").exit_code, 0);
  EXPECT_TRUE(ReadFile(dir_ / "o/timeline.csv").find("\n3600,") !=
              std::string::npos);
}

// Issue 18: --initial-replicas N starts the run as a restart with the
// fleet at N (overriding currentReplicas.static): the load is low from the
// start, and the first tick's seed holds N through the 60 s scale-down
// window before the count drops.
TEST_F(SimulateCli, InitialReplicasHoldThroughTheScaleDownWindow) {
  {
    std::ofstream config(dir_ / "c.yaml");
    config << "server: {pollIntervalSeconds: 15}\n"
              "targets:\n"
              "  - name: worker\n"
              "    minReplicas: 1\n"
              "    maxReplicas: 20\n"
              "    currentReplicas: {static: 4}\n"
              "    behavior:\n"
              "      scaleDown: {stabilizationWindowSeconds: 60}\n"
              "    inputs:\n"
              "      - {name: backlog, averageValue: 10}\n";
    std::ofstream trace(dir_ / "t.csv");
    trace << "time,backlog\n0,10\n120,10\n";
  }
  // time and recommendation,limited_by of each timeline row.
  const auto run = [&](const std::string& flags) {
    const CliRun r = Ballast(dir_,
                             "simulate --config c.yaml --trace t.csv --out out"
                             " --pod-startup-seconds 0" +
                                 flags);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::vector<std::string> rows = absl::StrSplit(
        ReadFile(dir_ / "out/timeline.csv"), '\n', absl::SkipEmpty());
    EXPECT_EQ(rows.at(0),
              "time,backlog,proposal_backlog,desired,recommendation,replicas,"
              "limited_by");
    std::vector<std::string> got;
    for (size_t i = 1; i < rows.size(); ++i) {
      const std::vector<std::string> cells = absl::StrSplit(rows[i], ',');
      got.push_back(cells.at(0) + " " + cells.at(4) + " " + cells.at(6));
    }
    return got;
  };
  EXPECT_EQ(
      run(" --initial-replicas 10"),
      (std::vector<std::string>{
          "0 10 scaleDownStabilization", "15 10 scaleDownStabilization",
          "30 10 scaleDownStabilization", "45 10 scaleDownStabilization",
          // The seed (t=0) is 60 s old: out; 100 % / 15 s allows 1.
          "60 1 none", "75 1 none", "90 1 none", "105 1 none", "120 1 none"}));
  // Without the flag the run starts at currentReplicas.static and holds it.
  const std::vector<std::string> from_static = run("");
  ASSERT_EQ(from_static.size(), 9u);
  EXPECT_EQ(from_static[0], "0 4 scaleDownStabilization");
  EXPECT_EQ(from_static[3], "45 4 scaleDownStabilization");
  EXPECT_EQ(from_static[4], "60 1 none");
  // The help says what N is.
  const CliRun help = Ballast(dir_, "simulate --help", true);
  EXPECT_NE(help.output.find("--initial-replicas"), std::string::npos);
  EXPECT_NE(help.output.find("restarted with the fleet at N"),
            std::string::npos)
      << help.output;
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
