// Issue 12, the fault matrix, Prometheus part: a running `ballast serve`
// (poll every second, one input on the PromQL `ballast_test_backlog`, a
// gauge of 12 that gauge_exporter.py exports) reads a real prometheus
// through a FaultProxy (fault_proxy.h). One fault at a time: answers slower
// than timeoutMs, a 503 from a gateway, a 200 of HTML, the connection reset
// in the middle of the body, a server certificate the configured CA did not
// sign (prometheus serving TLS and re-reading its certificate at each
// connection), the bearer token file removed. Throughout, the FaultsTest
// watcher checks /healthz and that only 12 or 15 is ever served; while reads
// fail the last good value is served with a growing age, the failure is
// counted by kind in /metrics and logged; meanwhile prometheus scrapes 15,
// and once the fault ends ballast reads it.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/source/prometheus_client.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"
#include "integration/common/test_pki.h"
#include "integration/faults/fault_proxy.h"
#include "integration/faults/faults_fixture.h"

namespace ballast::testing {
namespace {

std::string Errors(const std::string& error) {
  return SourceErrors("prometheus", error);
}

constexpr char kLoad[] =
    R"(ballast_input_value{input="load",target="tts-api"})";
constexpr char kLoadAge[] =
    R"(ballast_input_age_seconds{input="load",target="tts-api"})";
constexpr char kQuery[] = "ballast_test_backlog";

// An HTTP/1.1 response that closes the connection.
std::string HttpResponse(absl::string_view status_line,
                         absl::string_view content_type,
                         absl::string_view body) {
  return absl::StrCat("HTTP/1.1 ", status_line,
                      "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: close\r\n\r\n", body);
}

int Count(absl::string_view text, absl::string_view what) {
  int n = 0;
  for (size_t at = text.find(what); at != absl::string_view::npos;
       at = text.find(what, at + what.size())) {
    ++n;
  }
  return n;
}

class FaultsPrometheusTest : public FaultsTest {
 protected:
  // Starts gauge_exporter.py at 12, prometheus scraping it every second
  // (serving TLS with certificate `tls_pair` of dir()/pki when not empty),
  // and the proxy in front of prometheus.
  void StartBackends(const std::string& tls_pair = "") {
    ASSERT_TRUE(WriteValue(12));
    absl::StatusOr<int> exporter_port = FreePort();
    ASSERT_TRUE(exporter_port.ok());
    ASSERT_TRUE(exporter_
                    .Start({kSystemPython,
                            std::string(BALLAST_SOURCE_DIR) +
                                "/tests/integration/faults/gauge_exporter.py",
                            absl::StrCat(*exporter_port), value_path()},
                           dir().path() + "/exporter.log")
                    .ok());
    ASSERT_TRUE(WaitForPort(*exporter_port, absl::Seconds(10)).ok());
    const std::string target = absl::StrCat("127.0.0.1:", *exporter_port);
    int prometheus_port = 0;
    if (tls_pair.empty()) {
      absl::Status started = prometheus_.Start({target});
      ASSERT_TRUE(started.ok()) << started;
      prometheus_port = prometheus_.port();
    } else {
      ASSERT_NO_FATAL_FAILURE(StartTlsPrometheus(target, tls_pair));
      prometheus_port = tls_prometheus_port_;
    }
    ASSERT_TRUE(proxy_.Start(prometheus_port).ok());
    scheme_ = tls_pair.empty() ? "http" : "https";
    direct_url_ = absl::StrCat(scheme_, "://127.0.0.1:", prometheus_port);
    ASSERT_TRUE(PrometheusHas(12)) << PrometheusLog();
  }

  // Starts ballast on prometheus through the proxy, `source_extra` (YAML
  // lines indented by 6) added to the source; waits for 12 and watches.
  void StartBallastOnProxy(const std::string& source_extra = "") {
    const std::string config = absl::StrReplaceAll(
        R"(sources:
  prometheus:
    main:
      url: "URL"
      timeoutMs: 600
EXTRA
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TELEMETRY", targetMetrics: full}
targets:
  - name: tts-api
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - name: load
        prometheus: {source: main, query: QUERY}
        averageValue: 3
)",
        {{"URL", absl::StrCat(scheme_, "://127.0.0.1:", proxy_.port())},
         {"EXTRA\n", source_extra},
         {"QUERY", kQuery}});
    ASSERT_TRUE(StartBallast(config).ok()) << Log();
    ASSERT_TRUE(Eventually([](const std::string& m) {
      return Sample(m, kLoad) == 12;
    })) << Metrics()
        << Log();
    Watch(kLoad, {12, 15});
  }

  std::string value_path() const { return dir().path() + "/value"; }
  std::string pki() const { return dir().path() + "/pki"; }

  bool WriteValue(double v) {
    const std::string tmp = value_path() + ".new";
    std::ofstream(tmp) << v << "\n";
    return std::rename(tmp.c_str(), value_path().c_str()) == 0;
  }

  // Asks prometheus itself (not through the proxy); `ca` verifies it when
  // it serves TLS.
  absl::StatusOr<double> QueryPrometheus(const std::string& ca) {
    source::PrometheusClientOptions options;
    options.http.base_url = direct_url_;
    options.http.timeout = absl::Seconds(2);
    options.http.ca_file = ca;
    absl::StatusOr<source::QueryResult> r = source::PrometheusClient::QueryOnce(
        options, {.promql = kQuery}, absl::Now());
    if (!r.ok()) return r.status();
    return r->value;
  }

  // Waits (15 s at most) until prometheus answers `v`.
  bool PrometheusHas(double v, const std::string& ca = "") {
    const std::string with = ca.empty() && !tls_ca_.empty() ? tls_ca_ : ca;
    const absl::Time deadline = absl::Now() + absl::Seconds(15);
    while (absl::Now() < deadline) {
      absl::StatusOr<double> got = QueryPrometheus(with);
      if (got.ok() && *got == v) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // The gauge becomes 15 in prometheus (ballast cannot see it yet).
  void ScrapeFifteen(const std::string& ca = "") {
    ASSERT_TRUE(WriteValue(15));
    ASSERT_TRUE(PrometheusHas(15, ca)) << PrometheusLog();
  }

  std::string PrometheusLog() const {
    return tls_pair_used_ ? ReadText(dir().path() + "/prometheus-tls.log")
                          : prometheus_.Log();
  }

  static std::string ReadText(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Two CAs, "good" and "other", each with a server certificate for
  // 127.0.0.1, in pki(): good-ca.crt, good.crt, good.key, other-ca.crt...
  void MakeCertificates() {
    std::filesystem::create_directories(pki());
    for (const std::string ca : {"good", "other"}) {
      absl::StatusOr<KeyPair> issuer = MakeCa(pki(), ca + "-ca", ca + "-ca");
      ASSERT_TRUE(issuer.ok()) << issuer.status();
      ASSERT_TRUE(IssueCert(pki(), ca, *issuer,
                            {.cn = "prometheus", .sans = "IP:127.0.0.1"})
                      .ok());
    }
  }

  // Points prometheus' web config at certificate pair `pair` (one rename:
  // prometheus reads the file at each new TLS connection).
  bool ServeCertificate(const std::string& pair) {
    const std::string web = pki() + "/web.yml";
    std::ofstream(web + ".new") << absl::StrReplaceAll(
        "tls_server_config:\n  cert_file: DIR/PAIR.crt\n"
        "  key_file: DIR/PAIR.key\n",
        {{"DIR", pki()}, {"PAIR", pair}});
    return std::rename((web + ".new").c_str(), web.c_str()) == 0;
  }

  void StartTlsPrometheus(const std::string& target, const std::string& pair) {
    tls_pair_used_ = true;
    tls_ca_ = pki() + "/good-ca.crt";
    ASSERT_TRUE(ServeCertificate(pair));
    absl::StatusOr<std::string> binary = FindBinary("prometheus");
    ASSERT_TRUE(binary.ok()) << binary.status();
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    tls_prometheus_port_ = *port;
    const std::string config = dir().path() + "/prometheus-tls.yml";
    std::ofstream(config) << "global:\n  scrape_interval: 1s\n"
                          << "scrape_configs:\n  - job_name: test\n"
                          << "    static_configs:\n      - targets: ['"
                          << target << "']\n";
    ASSERT_TRUE(
        tls_prometheus_
            .Start(
                {*binary, "--config.file=" + config,
                 "--storage.tsdb.path=" + dir().path() + "/prometheus-data",
                 absl::StrCat("--web.listen-address=127.0.0.1:", *port),
                 "--web.config.file=" + pki() + "/web.yml", "--log.level=warn"},
                dir().path() + "/prometheus-tls.log")
            .ok());
    ASSERT_TRUE(WaitForPort(*port, absl::Seconds(30)).ok()) << PrometheusLog();
  }

  // While reads fail: counted under `error`, logged with `log_text`, and
  // the last good value 12 served with an age of 2 s and more; no other
  // kind of failure.
  void ExpectHeldThroughFailures(const std::string& error,
                                 const std::string& log_text) {
    FaultsTest::ExpectHeldThroughFailures(Errors(error), kLoad, kLoadAge,
                                          log_text, /*only_this_error=*/true);
  }

  // From `fault_end` until /metrics shows 15, fresh.
  void MeasureRecovery(const std::string& name, absl::Time fault_end) {
    FaultsTest::MeasureRecovery(name, fault_end, [](const std::string& m) {
      return Sample(m, kLoad) == 15 && Sample(m, kLoadAge).value_or(99) < 2;
    });
  }

  ChildProcess exporter_;
  PrometheusServer prometheus_;
  ChildProcess tls_prometheus_;
  int tls_prometheus_port_ = 0;
  bool tls_pair_used_ = false;
  std::string tls_ca_;
  std::string scheme_;      // of prometheus and so of the proxy
  std::string direct_url_;  // prometheus itself
  FaultProxy proxy_;
};

TEST_F(FaultsPrometheusTest, SlowerThanTheTimeout) {
  ASSERT_NO_FATAL_FAILURE(StartBackends());
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy());
  proxy_.Delay(absl::Seconds(2));  // against timeoutMs 600
  ExpectHeldThroughFailures("deadline_exceeded", "no response within 600ms");
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen());
  const absl::Time fault_end = absl::Now();
  proxy_.Pass();
  MeasureRecovery("prometheus-slow", fault_end);
}

TEST_F(FaultsPrometheusTest, ServerError) {
  ASSERT_NO_FATAL_FAILURE(StartBackends());
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy());
  // What a gateway in front of prometheus answers when it is away.
  proxy_.Answer(HttpResponse(
      "503 Service Unavailable", "text/html",
      "<html><body><h1>503 Service Unavailable</h1>\nNo server is available "
      "to handle this request.\n</body></html>\n"));
  ExpectHeldThroughFailures("unavailable", "HTTP 503: <html><body><h1>503");
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen());
  const absl::Time fault_end = absl::Now();
  proxy_.Pass();
  MeasureRecovery("prometheus-5xx", fault_end);
}

TEST_F(FaultsPrometheusTest, GarbageWithStatus200) {
  ASSERT_NO_FATAL_FAILURE(StartBackends());
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy());
  proxy_.Answer(HttpResponse("200 OK", "text/html",
                             "<html><body>It works!</body></html>\n"));
  ExpectHeldThroughFailures("data_loss", "malformed Prometheus response: ");
  EXPECT_TRUE(absl::StrContains(Log(), "It works!")) << Log();
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen());
  const absl::Time fault_end = absl::Now();
  proxy_.Pass();
  MeasureRecovery("prometheus-garbage", fault_end);
}

TEST_F(FaultsPrometheusTest, ConnectionResetInTheMiddleOfTheBody) {
  ASSERT_NO_FATAL_FAILURE(StartBackends());
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy());
  // Every reply: its header and 10 bytes of its body, then an RST.
  proxy_.Cut("\r\n\r\n", 10);
  ExpectHeldThroughFailures("data_loss",
                            "response truncated: Connection reset by peer");
  EXPECT_GE(proxy_.cuts(), 2);
  EXPECT_GT(proxy_.last_cut_received(), proxy_.last_cut_forwarded());
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen());
  const absl::Time fault_end = absl::Now();
  proxy_.Pass();
  MeasureRecovery("prometheus-reset-mid-body", fault_end);
}

TEST_F(FaultsPrometheusTest, CertificateFromAnotherCa) {
  ASSERT_NO_FATAL_FAILURE(MakeCertificates());
  ASSERT_NO_FATAL_FAILURE(StartBackends("good"));
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy(
      absl::StrCat("      tls: {caFile: ", tls_ca_, "}\n")));
  // prometheus now presents a certificate of the other CA on each new
  // connection; the proxy closes the open ones (ballast keeps them alive).
  ASSERT_TRUE(ServeCertificate("other"));
  const std::string other_ca = pki() + "/other-ca.crt";
  absl::StatusOr<double> direct = QueryPrometheus(tls_ca_);
  EXPECT_FALSE(direct.ok());
  EXPECT_TRUE(
      absl::StrContains(direct.status().message(), "TLS handshake failed"))
      << direct.status();
  proxy_.DropAll();
  ExpectHeldThroughFailures("unavailable",
                            "TLS handshake failed: certificate verify failed");
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen(other_ca));
  const absl::Time fault_end = absl::Now();
  ASSERT_TRUE(ServeCertificate("good"));
  MeasureRecovery("prometheus-tls-handshake", fault_end);
}

TEST_F(FaultsPrometheusTest, BearerTokenFileRemovedAndRestored) {
  const std::string token = dir().path() + "/token";
  std::ofstream(token) << "first\n";
  ASSERT_NO_FATAL_FAILURE(StartBackends());
  ASSERT_NO_FATAL_FAILURE(StartBallastOnProxy(
      absl::StrCat("      bearerTokenFile: ", token, "\n")));
  EXPECT_TRUE(absl::StrContains(proxy_.client_bytes(),
                                "\r\nAuthorization: Bearer first\r\n"));
  ASSERT_EQ(std::remove(token.c_str()), 0);
  // Missing, the token is an error of the read, before anything is sent:
  // never a request with the old token, an empty one or none.
  ExpectHeldThroughFailures("failed_precondition",
                            absl::StrCat("bearer token: cannot read ", token,
                                         ": No such file or directory"));
  const double failed =
      Sample(Metrics(), Errors("failed_precondition")).value_or(0);
  const int requests = Count(proxy_.client_bytes(), "GET /api/v1/query");
  EXPECT_TRUE(Eventually([&](const std::string& m) {
    return Sample(m, Errors("failed_precondition")).value_or(0) >= failed + 2;
  })) << Metrics();
  EXPECT_EQ(Count(proxy_.client_bytes(), "GET /api/v1/query"), requests);
  // It comes back with a new token (written aside, renamed into place).
  ASSERT_NO_FATAL_FAILURE(ScrapeFifteen());
  std::ofstream(token + ".new") << "second\n";
  const size_t sent_at_end = proxy_.client_bytes().size();
  const absl::Time fault_end = absl::Now();
  ASSERT_EQ(std::rename((token + ".new").c_str(), token.c_str()), 0);
  MeasureRecovery("prometheus-bearer-token-file", fault_end);
  const std::string after = proxy_.client_bytes().substr(sent_at_end);
  EXPECT_TRUE(absl::StrContains(after, "\r\nAuthorization: Bearer second\r\n"))
      << after;
  EXPECT_FALSE(absl::StrContains(after, "Bearer first")) << after;
  // Every request ballast ever sent carried a token.
  const std::string all = proxy_.client_bytes();
  EXPECT_EQ(Count(all, "GET /api/v1/query"),
            Count(all, "\r\nAuthorization: Bearer "));
  EXPECT_FALSE(absl::StrContains(all, "Authorization: Bearer \r\n"));
}

}  // namespace
}  // namespace ballast::testing
