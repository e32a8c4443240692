// tests/integration/common/prometheus_server.h
//
// A real prometheus (Debian's package) on a free loopback port, with its
// TSDB in a temporary directory, scraping the given targets.
//
//   PrometheusServer prometheus;
//   ASSERT_TRUE(prometheus.Start({"127.0.0.1:" + std::to_string(port)}).ok());
//   ... query prometheus.url() ...   // stopped when `prometheus` goes away
//
// A missing binary is an error (FindBinary's NotFound), never a skip.
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_PROMETHEUS_SERVER_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_PROMETHEUS_SERVER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "integration/common/http_reply.h"
#include "integration/common/process.h"

namespace ballast::testing {

class PrometheusServer {
 public:
  // Writes prometheus.yml (job "test" scraping `targets`, plus job "self"
  // scraping prometheus itself when `scrape_self`), starts prometheus and
  // waits (at most 30 s) until /-/ready answers 200.
  absl::Status Start(const std::vector<std::string>& targets,
                     absl::Duration scrape_interval = absl::Seconds(1),
                     bool scrape_self = false);
  void Stop() { process_.Stop(); }
  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }
  // Prometheus' own output, for failure messages.
  std::string Log() const;

 private:
  TempDir dir_;
  ChildProcess process_;
  int port_ = 0;
};

// A plain HTTP/1.0 GET of 127.0.0.1:port/path, read to the end.
absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  absl::Duration timeout = absl::Seconds(2));

// The HTTP status of GET http://127.0.0.1:port/path (plain sockets, for
// readiness checks before the code under test is involved); Unavailable when
// nothing answers within `timeout`.
absl::StatusOr<int> HttpGetStatus(int port, const std::string& path,
                                  absl::Duration timeout = absl::Seconds(2));

// Polls HttpGetStatus until it is 200 or `timeout` passes.
absl::Status WaitForHttpOk(int port, const std::string& path,
                           absl::Duration timeout);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_PROMETHEUS_SERVER_H_
