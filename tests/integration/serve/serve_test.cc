// `ballast serve` as a process: real redis-server, the real binary, its
// /metrics; config reloads (good and bad), a Redis outage, SIGTERM.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "ballast/net/redis_client.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"
#include "integration/common/redis_commands.h"
#include "integration/common/serve_process.h"
#include "integration/common/test_pki.h"
#include "integration/common/tls_client.h"

namespace ballast::testing {
namespace {

constexpr char kRecommended[] =
    R"(ballast_recommended_replicas{target="asr-worker"})";
constexpr char kBacklog[] =
    R"(ballast_input_value{input="backlog",target="asr-worker"})";
constexpr char kBacklogAge[] =
    R"(ballast_input_age_seconds{input="backlog",target="asr-worker"})";

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    Push(12);
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    telemetry_port_ = *port;
    port = FreePort();
    ASSERT_TRUE(port.ok());
    grpc_port_ = *port;
    config_path_ = dir_.path() + "/ballast.yaml";
    WriteConfig(3);
    absl::Status started =
        StartServe(ballast_, {.config_path = config_path_,
                              .log_path = log_path(),
                              .telemetry_port = telemetry_port_});
    ASSERT_TRUE(started.ok()) << started;
  }

  void Push(int messages) {
    ASSERT_TRUE(PushMessages(redis_.port(), "asr", messages).ok());
  }

  void WriteConfig(int average_value, const std::string& extra = "") {
    std::ofstream(config_path_) << absl::StrReplaceAll(
        R"(sources:
  redis: {main: {address: "127.0.0.1:REDIS", timeoutMs: 300, connectTimeoutMs: 300}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
SERVER_EXTRA  grpc: {listen: "127.0.0.1:GRPC"}
targets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: backlog, celery: {source: main, queues: [asr]}, averageValue: AVG}
EXTRA)",
        {{"REDIS", absl::StrCat(redis_.port())},
         {"TELEMETRY", absl::StrCat(telemetry_port_)},
         {"SERVER_EXTRA", server_extra_},
         {"GRPC", absl::StrCat(grpc_port_)},
         {"AVG", absl::StrCat(average_value)},
         {"EXTRA", extra}});
  }

  std::string Metrics() { return MetricsOf(telemetry_port_); }

  // Waits until `series` reads `want` (or `pred` holds), up to 15 s.
  bool Eventually(const std::string& series,
                  const std::function<bool(double)>& pred) {
    return EventuallySample(telemetry_port_, series, pred);
  }
  bool EventuallyEq(const std::string& series, double want) {
    return Eventually(series, [want](double v) { return v == want; });
  }

  // KEDA's GetMetrics for asr-worker, as KEDA calls it.
  absl::StatusOr<double> KedaMetric() {
    auto stub = externalscaler::ExternalScaler::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                            grpc::InsecureChannelCredentials()));
    externalscaler::GetMetricsRequest request;
    (*request.mutable_scaledobjectref()->mutable_scalermetadata())["target"] =
        "asr-worker";
    request.set_metricname("s0-ballast-asr-worker");
    externalscaler::GetMetricsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(5));
    const grpc::Status s = stub->GetMetrics(&context, request, &response);
    if (!s.ok()) return absl::UnavailableError(s.error_message());
    if (response.metricvalues_size() != 1) {
      return absl::InternalError("expected one metric value");
    }
    // Older KEDA releases read only the deprecated integer field.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    EXPECT_EQ(
        response.metricvalues(0).metricvalue(),
        static_cast<int64_t>(response.metricvalues(0).metricvaluefloat()));
#pragma GCC diagnostic pop
    return response.metricvalues(0).metricvaluefloat();
  }

  std::string log_path() const { return dir_.path() + "/ballast.log"; }
  std::string Log() const { return ReadFile(log_path()); }

  TempDir dir_;
  RedisServer redis_;
  int telemetry_port_ = 0;
  std::string server_extra_;  // more keys of `server`, indented by two
  int grpc_port_ = 0;
  std::string config_path_;
  ChildProcess ballast_;
};

TEST_F(ServeTest, RecommendsFromTheRealBacklog) {
  // 12 waiting / 3 per replica.
  EXPECT_TRUE(EventuallyEq(kRecommended, 4)) << Metrics() << Log();
  EXPECT_EQ(Sample(Metrics(), kBacklog), 12);
  EXPECT_EQ(Sample(Metrics(),
                   R"(ballast_limited_by{reason="none",target="asr-worker"})"),
            1);
  // KEDA gets the same recommendation over gRPC.
  absl::StatusOr<double> keda = KedaMetric();
  ASSERT_TRUE(keda.ok()) << keda.status();
  EXPECT_EQ(*keda, 4);
}

TEST_F(ServeTest, AppliesAGoodReloadAndKeepsTheRunningConfigOnABadOne) {
  ASSERT_TRUE(EventuallyEq(kRecommended, 4)) << Log();
  WriteConfig(2);  // 12 / 2 = 6
  EXPECT_TRUE(EventuallyEq(kRecommended, 6)) << Log();
  EXPECT_TRUE(
      EventuallyEq(R"(ballast_config_reloads_total{result="success"})", 1));
  // Same `server` section: nothing to restart, so no warning.
  EXPECT_EQ(Log().find("server settings changed"), std::string::npos);

  // minReplicas above maxReplicas: rejected, counted, logged; 6 stays.
  WriteConfig(1, "    minReplicas: 30\n");
  EXPECT_TRUE(
      EventuallyEq(R"(ballast_config_reloads_total{result="failure"})", 1))
      << Log();
  EXPECT_NE(Log().find("config rejected; keeping the running one"),
            std::string::npos);
  EXPECT_NE(Log().find("targets[0].minReplicas"), std::string::npos) << Log();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(Sample(Metrics(), kRecommended), 6);

  // SIGHUP re-reads the same bad file: rejected again.
  ballast_.Signal(SIGHUP);
  EXPECT_TRUE(
      EventuallyEq(R"(ballast_config_reloads_total{result="failure"})", 2));
}

TEST_F(ServeTest, HoldsTheLastValueThroughARedisOutageAndRecovers) {
  ASSERT_TRUE(EventuallyEq(kRecommended, 4)) << Log();
  redis_.Stop();
  // Failed reads are counted by kind; the held value and recommendation
  // stay; the input's age grows; missing data is what limits.
  EXPECT_TRUE(Eventually(
      R"(ballast_source_errors_total{error="unavailable",kind="redis",source="main"})",
      [](double v) { return v >= 2; }))
      << Metrics() << Log();
  EXPECT_TRUE(Eventually(kBacklogAge, [](double v) { return v >= 2; }));
  const std::string m = Metrics();
  EXPECT_EQ(Sample(m, kBacklog), 12);
  EXPECT_EQ(Sample(m, kRecommended), 4);
  EXPECT_EQ(
      Sample(m,
             R"(ballast_limited_by{reason="missingData",target="asr-worker"})"),
      1);
  EXPECT_NE(Log().find("input read failed; holding its last value"),
            std::string::npos);
  // KEDA keeps getting the held recommendation, never a zero.
  absl::StatusOr<double> keda = KedaMetric();
  ASSERT_TRUE(keda.ok()) << keda.status();
  EXPECT_EQ(*keda, 4);

  // Back on the same port, empty, then 5 new messages: read again.
  ASSERT_TRUE(redis_.Start().ok());
  Push(5);
  EXPECT_TRUE(EventuallyEq(kBacklog, 5)) << Log();
  EXPECT_TRUE(Eventually(kBacklogAge, [](double v) { return v < 2; }));
}

TEST_F(ServeTest, SigtermUnderLoadStopsCleanlyWithinSeconds) {
  ASSERT_TRUE(EventuallyEq(kRecommended, 4)) << Log();
  // Two clients scrape /metrics without pause while the daemon stops: every
  // answer that arrives is a whole 200, the rest are refused connections.
  std::atomic<bool> done{false};
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 2; ++i) {
    clients.emplace_back([&] {
      while (!done) {
        absl::StatusOr<HttpReply> r = HttpGet(telemetry_port_, "/metrics");
        if (r.ok() && r->status == 200 &&
            r->body.find("ballast_build_info") != std::string::npos) {
          ++ok;
        } else if (r.ok()) {
          ++bad;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const absl::Time start = absl::Now();
  ballast_.Signal(SIGTERM);
  while (!ballast_.Exited() && absl::Now() - start < absl::Seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const absl::Duration took = absl::Now() - start;
  done = true;
  for (std::thread& t : clients) t.join();
  const int status = ballast_.Stop();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << Log();
  EXPECT_LT(took, absl::Seconds(5));
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(bad.load(), 0);
  EXPECT_NE(Log().find(R"(msg="stopped")"), std::string::npos) << Log();
}

// The daemon behind HTTPS, as the aggregation layer reaches it: a client
// certificate made with the openssl CLI (integration/common/test_pki.h),
// the tests' TLS client.
class ServeExternalMetricsTest : public ServeTest {
 protected:
  void SetUp() override {
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    https_port_ = *port;
    tls_ = pki_dir_.path();
    ASSERT_TRUE(MakeServingPki(tls_).ok());
    server_extra_ = absl::StrReplaceAll(
        R"(  externalMetrics:
    listen: "127.0.0.1:PORT"
    tlsCertFile: DIR/server.crt
    tlsKeyFile: DIR/server.key
    requestheaderClientCAFile: DIR/proxy-ca.crt
    requestheaderAllowedNames: [front-proxy-client]
)",
        {{"PORT", absl::StrCat(https_port_)}, {"DIR", tls_}});
    ServeTest::SetUp();
  }

  // GET over HTTPS (integration/common/tls_client.h); with the front-proxy
  // certificate unless `anonymous`. Returns "CODE BODY".
  std::string HttpsGet(const std::string& path, bool anonymous = false) {
    ClientTls tls{.ca_file = tls_ + "/ca.crt"};
    if (!anonymous) {
      tls.client = KeyPair{tls_ + "/proxy.crt", tls_ + "/proxy.key"};
    }
    absl::StatusOr<HttpReply> reply = Get(https_port_, &tls, path);
    if (!reply.ok()) return reply.status().ToString();
    return absl::StrCat(reply->status, " ", reply->body);
  }

  TempDir pki_dir_;
  std::string tls_;
  int https_port_ = 0;
};

constexpr char kInputPath[] =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/ballast_input"
    "?labelSelector=target%3Dasr-worker%2Cinput%3Dbacklog";
constexpr char kReplicasPath[] =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/speech/"
    "ballast_recommended_replicas?labelSelector=target%3Dasr-worker";

TEST_F(ServeExternalMetricsTest, ServesHeldValuesWithTheirTimeThroughAnOutage) {
  ASSERT_TRUE(EventuallyEq(kRecommended, 4)) << Log();
  auto timestamp = [](const std::string& body) {
    const size_t at = body.find(R"("timestamp":")");
    return at == std::string::npos ? std::string() : body.substr(at, 36);
  };
  const std::string before = HttpsGet(kInputPath);
  ASSERT_TRUE(absl::StartsWith(before, "200 ")) << before;
  EXPECT_TRUE(absl::StrContains(before, R"("value":"12")")) << before;
  EXPECT_TRUE(absl::StrContains(HttpsGet(kReplicasPath), R"("value":"4")"));
  // Without the front-proxy certificate: 401, as a Kubernetes Status.
  const std::string anonymous = HttpsGet(kReplicasPath, /*anonymous=*/true);
  EXPECT_TRUE(absl::StartsWith(anonymous, "401 ")) << anonymous;
  EXPECT_TRUE(absl::StrContains(anonymous, R"("kind":"Status")"));

  ASSERT_FALSE(timestamp(before).empty()) << before;

  // The held value is served through the outage. That its time is the
  // read's (moving with each good poll, still while Redis is down) is the
  // control loop's part (tests/unit/control/control_loop_test.cc, Outage...)
  // and the API's (tests/unit/server/external_metrics_api_test.cc).
  redis_.Stop();
  ASSERT_TRUE(Eventually(kBacklogAge, [](double v) { return v >= 3; }));
  const std::string during = HttpsGet(kInputPath);
  EXPECT_TRUE(absl::StartsWith(during, "200 ")) << during;
  EXPECT_TRUE(absl::StrContains(during, R"("value":"12")")) << during;
  ASSERT_FALSE(timestamp(during).empty()) << during;
  EXPECT_TRUE(absl::StrContains(HttpsGet(kReplicasPath), R"("value":"4")"));
}

}  // namespace
}  // namespace ballast::testing
