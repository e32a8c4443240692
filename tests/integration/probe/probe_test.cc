// `ballast probe` end to end: the real binary against a real redis-server
// and a real prometheus on free loopback ports.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "ballast/net/redis_client.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"

namespace ballast::testing {
namespace {

class ProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    ASSERT_TRUE(prometheus_.Start({}, absl::Seconds(1), true).ok())
        << prometheus_.Log();
    // Queue "asr": 3 messages in band 0 and 2 in band 9 (kombu's default
    // separator); one message held unacked by a worker.
    net::RedisOptions options;
    options.port = redis_.port();
    ASSERT_TRUE(
        net::RunPipelineSync(options, {{"LPUSH", "asr", "m1", "m2", "m3"},
                                       {"LPUSH",
                                        "asr\x06\x16"
                                        "9",
                                        "m4", "m5"},
                                       {"HSET", "unacked", "tag1",
                                        R"([{"body": "x"}, "", "asr"])"}})
            .ok());
  }

  std::string WriteConfig() {
    const std::string path = dir_.path() + "/probe.yaml";
    std::ofstream(path) << absl::StrReplaceAll(
        R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS"}}
  prometheus: {main: {url: "http://127.0.0.1:PROM", timeoutMs: 3000}}
targets:
  - name: asr-worker
    maxReplicas: 40
    currentReplicas: {prometheus: {source: main, query: 'vector(4)'}}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr], includeReserved: true}, averageValue: 5}
      - {name: waiting, celery: {source: main, queues: [asr]}, averageValue: 5}
      - {name: p95, prometheus: {source: main, query: 'vector(1.5)'}, value: 2}
      - {name: nothing, prometheus: {source: main, query: 'absent_metric_xyz'}, value: 2}
)",
        {{"REDIS", std::to_string(redis_.port())},
         {"PROM", std::to_string(prometheus_.port())}});
    return path;
  }

  TempDir dir_;
  RedisServer redis_;
  PrometheusServer prometheus_;
};

TEST_F(ProbeTest, PrintsEveryReadingAsJsonAndFailsOnTheEmptyQuery) {
  const CliRun run =
      Ballast(dir_.path(), "probe --output json --config " + WriteConfig(),
              /*keep_stdout=*/true);
  EXPECT_EQ(run.exit_code, 1) << run.output;
  EXPECT_EQ(
      run.output,
      R"({"targets":[{"name":"asr-worker","currentReplicas":4,"currentReplicasError":null,"inputs":[)"
      R"({"name":"backlog","value":6,"error":null},)"
      R"({"name":"waiting","value":5,"error":null},)"
      R"({"name":"p95","value":1.5,"error":null},)"
      R"({"name":"nothing","value":null,"error":"query \"absent_metric_xyz\": query returned no data (empty vector); set emptyAs if an absent series means a value such as 0"}]}]})"
      "\n");
}

TEST_F(ProbeTest, ReportsAStoppedRedisAsAnErrorNotAZero) {
  const std::string config = WriteConfig();
  redis_.Stop();
  const CliRun run = Ballast(dir_.path(), "probe --config " + config, true);
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.output.find(absl::StrCat("redis 127.0.0.1:", redis_.port(),
                                         ": connect: Connection refused")),
            std::string::npos)
      << run.output;
  // The table shows "-" for the value, never 0; the other source still reads.
  auto line_of = [&](absl::string_view input) {
    for (absl::string_view line : absl::StrSplit(run.output, '\n')) {
      std::vector<absl::string_view> words =
          absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (words.size() >= 3 && words[1] == input) return words;
    }
    return std::vector<absl::string_view>{};
  };
  ASSERT_GE(line_of("backlog").size(), 4u) << run.output;
  EXPECT_EQ(line_of("backlog")[2], "-");
  EXPECT_EQ(line_of("backlog")[3], "redis");
  ASSERT_GE(line_of("p95").size(), 3u) << run.output;
  EXPECT_EQ(line_of("p95")[2], "1.5");
}

TEST_F(ProbeTest, BadFlagsAreUsageErrors) {
  EXPECT_EQ(Ballast(dir_.path(), "probe").exit_code, 2);
  EXPECT_EQ(Ballast(dir_.path(), "probe --config x --output yaml").exit_code,
            2);
  EXPECT_EQ(Ballast(dir_.path(), "probe --config missing.yaml").exit_code, 1);
}

}  // namespace
}  // namespace ballast::testing
