// The external metrics API over real HTTPS on a free loopback port, with
// certificates made by the openssl CLI, our own TLS client and kubectl.
#include "ballast/server/external_metrics_server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "ballast/core/json.h"
#include "ballast/server/api_documents.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/tls_client.h"
#include "integration/external_metrics/json_checks.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"
#include "rapidjson/document.h"

namespace ballast::server {
namespace {

using ::ballast::testing::ClientTls;
using ::ballast::testing::Exchange;
using ::ballast::testing::HttpReply;
using ::ballast::testing::TestPki;
using ::testing::HasSubstr;

constexpr char kMetricBase[] =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/";

store::TargetState Target(const std::string& name,
                          std::optional<int32_t> replicas) {
  return testing::MetricTarget(name, replicas, 42);
}

class ExternalMetricsServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    absl::StatusOr<TestPki> pki = testing::MakeTestPki(dir_->path());
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = new TestPki(*std::move(pki));
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(pki_, nullptr);
    // The server reads copies, so that rotation can replace them.
    cert_ = dir_->path() + "/" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name() +
            ".crt";
    key_ = cert_ + ".key";
    std::filesystem::copy_file(
        pki_->serving_a.cert_file, cert_,
        std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(
        pki_->serving_a.key_file, key_,
        std::filesystem::copy_options::overwrite_existing);
    proxy_ = {.ca_file = pki_->serving_ca, .client = pki_->proxy_client};
    anonymous_ = {.ca_file = pki_->serving_ca};
  }

  void StartServer(std::vector<std::string> allowed_names = {
                       "front-proxy-client"}) {
    config::ExternalMetricsServerConfig config;
    config.listen = "127.0.0.1:0";
    config.tls_cert_file = cert_;
    config.tls_key_file = key_;
    config.requestheader_client_ca_file = pki_->front_proxy_ca;
    config.requestheader_allowed_names = std::move(allowed_names);
    config.request_timeout_ms = 1000;
    config.idle_timeout_ms = 2000;
    config.max_request_bytes = 8192;
    absl::StatusOr<std::unique_ptr<ExternalMetricsServer>> server =
        ExternalMetricsServer::Start(
            io_, store_, registry_,
            {.config = config,
             .poll_interval_seconds = 15,
             .tls_check_interval = absl::ZeroDuration()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { io_.run(); });
  }

  void TearDown() override {
    if (server_) server_->StopAndWait(absl::Seconds(2));
    work_.reset();
    io_.stop();
    for (std::thread& t : threads_) t.join();
  }

  void Publish(std::vector<store::TargetState> targets) {
    testing::PublishTargets(store_, std::move(targets));
  }

  HttpReply MustGet(const std::string& target, const ClientTls& tls) {
    absl::StatusOr<HttpReply> reply =
        testing::Get(server_->port(), &tls, target);
    EXPECT_TRUE(reply.ok()) << target << ": " << reply.status();
    return reply.ok() ? *reply : HttpReply();
  }

  static rapidjson::Document ParseJson(const HttpReply& reply) {
    return testing::ParseJsonBody(ContentType(reply), reply.body);
  }

  static std::string Str(const rapidjson::Value& j, absl::string_view key) {
    return testing::JsonStr(j, key);
  }

  // Checks a Status reply; returns its message.
  static std::string ExpectStatus(const HttpReply& reply, int code,
                                  const std::string& reason) {
    return testing::ExpectStatusBody(reply.status, ContentType(reply),
                                     reply.body, code, reason);
  }

  static std::string ContentType(const HttpReply& reply) {
    auto it = reply.headers.find("content-type");
    return it == reply.headers.end() ? "" : it->second;
  }

  std::string Metrics() const {
    return prometheus::TextSerializer().Serialize(registry_.Collect());
  }

  static testing::TempDir* dir_;
  static TestPki* pki_;
  std::string cert_, key_;
  ClientTls proxy_, anonymous_;
  boost::asio::io_context io_{2};
  std::optional<
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_{boost::asio::make_work_guard(io_)};
  std::vector<std::thread> threads_;
  store::RecommendationStore store_;
  prometheus::Registry registry_;
  std::unique_ptr<ExternalMetricsServer> server_;
};

testing::TempDir* ExternalMetricsServerTest::dir_ = nullptr;
TestPki* ExternalMetricsServerTest::pki_ = nullptr;

TEST_F(ExternalMetricsServerTest, ServesDiscoveryAndAMetricOverHttps) {
  StartServer();
  Publish({Target("asr-worker", 7), Target("tts-worker", 3)});

  rapidjson::Document groups = ParseJson(MustGet("/apis", proxy_));
  EXPECT_EQ(Str(groups, "kind"), "APIGroupList");
  ASSERT_EQ(JsonFind(groups, "groups")->GetArray().Size(), 1u);
  EXPECT_EQ(Str(JsonFind(groups, "groups")->GetArray()[0], "name"),
            "external.metrics.k8s.io");

  rapidjson::Document group =
      ParseJson(MustGet("/apis/external.metrics.k8s.io", proxy_));
  EXPECT_EQ(Str(group, "kind"), "APIGroup");
  EXPECT_EQ(Str(*JsonFind(group, "preferredVersion"), "groupVersion"),
            "external.metrics.k8s.io/v1beta1");
  EXPECT_EQ(Str(JsonFind(group, "versions")->GetArray()[0], "version"),
            "v1beta1");

  HttpReply resources_reply =
      MustGet("/apis/external.metrics.k8s.io/v1beta1", proxy_);
  EXPECT_EQ(resources_reply.status, 200);
  rapidjson::Document resources = ParseJson(resources_reply);
  EXPECT_EQ(Str(resources, "kind"), "APIResourceList");
  EXPECT_EQ(Str(resources, "groupVersion"), "external.metrics.k8s.io/v1beta1");
  const auto list = JsonFind(resources, "resources")->GetArray();
  ASSERT_EQ(list.Size(), 2u);
  EXPECT_EQ(Str(list[0], "name"), "ballast_recommended_replicas");
  EXPECT_EQ(Str(list[0], "kind"), "ExternalMetricValueList");
  EXPECT_TRUE(JsonFind(list[0], "namespaced")->GetBool());
  EXPECT_EQ(JsonText(JsonFind(list[0], "verbs")->GetArray()[0]), "get");

  HttpReply reply = MustGet(
      std::string(kMetricBase) +
          "ballast_recommended_replicas?labelSelector=target%3Dasr-worker",
      proxy_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  rapidjson::Document values = ParseJson(reply);
  const auto items = testing::MetricValueItems(values);
  ASSERT_EQ(items.Size(), 1u);
  EXPECT_EQ(Str(items[0], "metricName"), "ballast_recommended_replicas");
  EXPECT_EQ(Str(*JsonFind(items[0], "metricLabels"), "target"), "asr-worker");
  EXPECT_EQ(Str(items[0], "timestamp"), "2026-09-21T14:13:35Z");
  EXPECT_EQ(JsonFind(items[0], "window")->GetDouble(), 15);
  EXPECT_EQ(Str(items[0], "value"), "7");

  const std::string metrics = Metrics();
  EXPECT_THAT(metrics, HasSubstr("ballast_external_metrics_requests_total{code="
                                 "\"200\",path_kind=\"discovery\"} 3"));
  EXPECT_THAT(metrics, HasSubstr("ballast_external_metrics_requests_total{code="
                                 "\"200\",path_kind=\"metric\"} 1"));
  EXPECT_THAT(
      metrics,
      HasSubstr("ballast_external_metrics_request_duration_seconds_bucket"));
}

TEST_F(ExternalMetricsServerTest,
       RefusesClientsWithoutTheFrontProxyCertificate) {
  StartServer();
  Publish({Target("asr-worker", 7)});
  const std::string url =
      std::string(kMetricBase) + "ballast_recommended_replicas";
  ClientTls rogue{.ca_file = pki_->serving_ca, .client = pki_->rogue_client};
  ClientTls other{.ca_file = pki_->serving_ca, .client = pki_->other_client};
  ExpectStatus(MustGet(url, anonymous_), 401, "Unauthorized");
  ExpectStatus(MustGet("/apis/external.metrics.k8s.io/v1beta1", anonymous_),
               401, "Unauthorized");
  ExpectStatus(MustGet(url, rogue), 401, "Unauthorized");
  EXPECT_THAT(ExpectStatus(MustGet(url, other), 401, "Unauthorized"),
              HasSubstr("someone-else"));
  EXPECT_EQ(MustGet(url, proxy_).status, 200);
  // Health needs no certificate; OpenAPI does.
  HttpReply health = MustGet("/healthz", anonymous_);
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok");
  EXPECT_EQ(MustGet("/readyz", anonymous_).status, 200);
  ExpectStatus(MustGet("/openapi/v2", anonymous_), 401, "Unauthorized");
  EXPECT_EQ(MustGet("/openapi/v2", proxy_).status, 200);
}

TEST_F(ExternalMetricsServerTest, AnyNameOfTheRightCaWhenAllowedNamesAreEmpty) {
  StartServer(/*allowed_names=*/{});
  Publish({Target("asr-worker", 7)});
  ClientTls other{.ca_file = pki_->serving_ca, .client = pki_->other_client};
  ClientTls rogue{.ca_file = pki_->serving_ca, .client = pki_->rogue_client};
  EXPECT_EQ(MustGet("/apis", other).status, 200);
  EXPECT_EQ(MustGet("/apis", rogue).status, 401);
}

TEST_F(ExternalMetricsServerTest, EverySelectorForm) {
  StartServer();
  Publish({Target("asr", 7), Target("tts", 3), Target("vad", 2)});
  struct Case {
    const char* selector;  // already URL-encoded, spaces as '+'
    std::vector<std::string> targets;
  };
  const Case cases[] = {
      {"target%3Dtts", {"tts"}},
      {"target%3D%3Dtts", {"tts"}},
      {"target%21%3Dtts", {"asr", "vad"}},
      {"target+in+%28asr%2Cvad%29", {"asr", "vad"}},
      {"target+notin+%28asr%2Cvad%29", {"tts"}},
      {"target", {"asr", "tts", "vad"}},
      {"%21input", {"asr", "tts", "vad"}},
      {"target%21%3Dasr%2Ctarget%21%3Dvad", {"tts"}},
  };
  for (const Case& c : cases) {
    HttpReply reply = MustGet(
        absl::StrCat(kMetricBase,
                     "ballast_recommended_replicas?labelSelector=", c.selector),
        proxy_);
    ASSERT_EQ(reply.status, 200) << c.selector << ": " << reply.body;
    std::vector<std::string> got;
    const rapidjson::Document doc = ParseJson(reply);
    for (const rapidjson::Value& item : JsonFind(doc, "items")->GetArray()) {
      got.push_back(Str(*JsonFind(item, "metricLabels"), "target"));
    }
    EXPECT_EQ(got, c.targets) << c.selector;
  }
  EXPECT_THAT(
      ExpectStatus(
          MustGet(
              std::string(kMetricBase) +
                  "ballast_recommended_replicas?labelSelector=target+in+%28",
              proxy_),
          400, "BadRequest"),
      HasSubstr("invalid labelSelector"));
  EXPECT_THAT(
      ExpectStatus(
          MustGet(
              std::string(kMetricBase) +
                  "ballast_recommended_replicas?labelSelector=target%3Dnone",
              proxy_),
          404, "NotFound"),
      HasSubstr("asr"));
}

TEST_F(ExternalMetricsServerTest, UnavailableUntilTheFirstRecommendation) {
  StartServer();
  const std::string url =
      std::string(kMetricBase) +
      "ballast_recommended_replicas?labelSelector=target%3Dasr";
  ExpectStatus(MustGet(url, proxy_), 503, "ServiceUnavailable");
  Publish({Target("asr", std::nullopt)});
  ExpectStatus(MustGet(url, proxy_), 503, "ServiceUnavailable");
  Publish({Target("asr", 4)});
  EXPECT_EQ(MustGet(url, proxy_).status, 200);
}

TEST_F(ExternalMetricsServerTest,
       UnknownMetricIs404AndNamesAreCaseInsensitive) {
  StartServer();
  Publish({Target("asr", 4)});
  ExpectStatus(
      MustGet(std::string(kMetricBase) + "celery_queue_backlog", proxy_), 404,
      "NotFound");
  HttpReply reply = MustGet(
      std::string(kMetricBase) + "BALLAST_Recommended_Replicas", proxy_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(Str(JsonFind(ParseJson(reply), "items")->GetArray()[0], "value"),
            "4");
  HttpReply input = MustGet(std::string(kMetricBase) + "ballast_input", proxy_);
  ASSERT_EQ(input.status, 200) << input.body;
  EXPECT_EQ(Str(JsonFind(ParseJson(input), "items")->GetArray()[0], "value"),
            "42");
}

TEST_F(ExternalMetricsServerTest,
       MalformedRequestsGetErrorsAndTheServerGoesOn) {
  StartServer();
  Publish({Target("asr", 4)});
  const int port = server_->port();

  absl::StatusOr<Exchange> garbage =
      testing::RawExchange(port, &proxy_, "\x01\x02 garbage \xff\r\n\r\n");
  ASSERT_TRUE(garbage.ok()) << garbage.status();
  EXPECT_EQ(testing::ParseReply(garbage->received).status, 400);
  EXPECT_TRUE(garbage->closed_by_server);

  const std::string huge_header = absl::StrCat(
      "GET /apis HTTP/1.1\r\nHost: x\r\nX-Big: ", std::string(10000, 'a'),
      "\r\n\r\n");
  absl::StatusOr<Exchange> big =
      testing::RawExchange(port, &proxy_, huge_header);
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(testing::ParseReply(big->received).status, 431);

  const std::string huge_body = absl::StrCat(
      "POST /apis HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n\r\n",
      std::string(9000, 'b'));
  absl::StatusOr<Exchange> body =
      testing::RawExchange(port, &proxy_, huge_body);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(testing::ParseReply(body->received).status, 413);

  // Not TLS at all: the handshake fails and the connection closes.
  absl::StatusOr<Exchange> plain =
      testing::RawExchange(port, nullptr, "GET /apis HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE(plain->closed_by_server);

  EXPECT_EQ(MustGet("/apis", proxy_).status, 200);
  EXPECT_THAT(Metrics(), HasSubstr(R"(code="431",path_kind="invalid"} 1)"));
}

TEST_F(ExternalMetricsServerTest, KeepsConnectionsAliveAcrossRequests) {
  StartServer();
  absl::StatusOr<Exchange> e = testing::RawExchange(
      server_->port(), &proxy_,
      "GET /apis HTTP/1.1\r\nHost: x\r\nX-Remote-User: hpa\r\n\r\n"
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->closed_by_server);
  const size_t first = e->received.find("HTTP/1.1 200");
  ASSERT_NE(first, std::string::npos) << e->received;
  EXPECT_NE(e->received.find("HTTP/1.1 200", first + 1), std::string::npos)
      << e->received;
}

TEST_F(ExternalMetricsServerTest, RevalidatedDiscoveryIsA304OnTheWire) {
  StartServer();
  const std::string etag = absl::StrCat(
      "\"", BodyHash(AggregatedDiscoveryJson(DiscoveryFormat::kAggregatedV2)),
      "\"");
  // The aggregator's discovery request, then its revalidation, on one
  // keep-alive connection: the 304 has no body and the next response
  // still parses.
  const std::string request = absl::StrCat(
      "GET /apis HTTP/1.1\r\nHost: x\r\nX-Remote-User: "
      "system:kube-aggregator\r\nAccept: ",
      AggregatedDiscoveryContentType(DiscoveryFormat::kAggregatedV2),
      "\r\nIf-None-Match: ", etag, "\r\n\r\n");
  absl::StatusOr<Exchange> e = testing::RawExchange(
      server_->port(), &proxy_,
      absl::StrCat(request,
                   "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: "
                   "close\r\n\r\n"));
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_TRUE(absl::StartsWith(e->received, "HTTP/1.1 304")) << e->received;
  EXPECT_THAT(e->received, HasSubstr(absl::StrCat("ETag: ", etag, "\r\n")));
  // Headers, a blank line, and at once the next response.
  EXPECT_THAT(e->received, HasSubstr("\r\n\r\nHTTP/1.1 200"));
  EXPECT_THAT(Metrics(), HasSubstr(R"(code="304",path_kind="discovery"} 1)"));
}

TEST_F(ExternalMetricsServerTest, CutsOffASilentClient) {
  StartServer();
  // Connects and sends nothing, not even a TLS ClientHello.
  absl::StatusOr<Exchange> e =
      testing::RawExchange(server_->port(), nullptr, "", absl::Seconds(10));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->closed_by_server);
  EXPECT_GE(e->elapsed, absl::Milliseconds(900));
  EXPECT_LT(e->elapsed, absl::Seconds(5));
  // And one that stops halfway through its headers.
  absl::StatusOr<Exchange> half = testing::RawExchange(
      server_->port(), &proxy_, "GET /apis HTTP/1.1\r\nHost: x\r\n",
      absl::Seconds(10));
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_TRUE(half->closed_by_server);
  EXPECT_LT(half->elapsed, absl::Seconds(5));
}

TEST_F(ExternalMetricsServerTest, NewConnectionsSeeARotatedCertificate) {
  StartServer();
  absl::StatusOr<Exchange> before = testing::RawExchange(
      server_->port(), &proxy_,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(before.ok()) << before.status();
  EXPECT_EQ(before->server_cn, "ballast-a");

  // A broken pair (b's certificate with a's key) is refused; a keeps serving.
  std::filesystem::copy_file(pki_->serving_b.cert_file, cert_ + ".new");
  std::filesystem::rename(cert_ + ".new", cert_);
  absl::StatusOr<Exchange> broken = testing::RawExchange(
      server_->port(), &proxy_,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(broken.ok()) << broken.status();
  EXPECT_EQ(broken->server_cn, "ballast-a");
  EXPECT_THAT(
      Metrics(),
      HasSubstr(
          R"(ballast_external_metrics_tls_reloads_total{result="failure"} 1)"));

  std::filesystem::copy_file(pki_->serving_b.key_file, key_ + ".new");
  std::filesystem::rename(key_ + ".new", key_);
  absl::StatusOr<Exchange> after = testing::RawExchange(
      server_->port(), &proxy_,
      "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->server_cn, "ballast-b");
  EXPECT_EQ(testing::ParseReply(after->received).status, 200);
  EXPECT_THAT(
      Metrics(),
      HasSubstr(
          R"(ballast_external_metrics_tls_reloads_total{result="success"} 1)"));
}

// kubectl through a real kube-apiserver's aggregation layer is in
// tests/cluster (kubectl alone cannot send the front proxy's user headers).

}  // namespace
}  // namespace ballast::server
