#include "integration/common/prometheus_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ballast::testing {

absl::StatusOr<HttpReply> HttpGet(int port, const std::string& path,
                                  absl::Duration timeout) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::InternalError("socket failed");
  const timeval tv = absl::ToTimeval(timeout);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in addr = LoopbackAddr(port);
  std::string reply;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    // HTTP/1.0: the server closes the connection after the response.
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if (write(fd, request.data(), request.size()) ==
        static_cast<ssize_t>(request.size())) {
      char buf[4096];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) {
        reply.append(buf, static_cast<size_t>(n));
      }
    }
  }
  close(fd);
  HttpReply parsed = ParseReply(reply);
  if (parsed.status == 0) {
    return absl::UnavailableError(
        absl::StrCat("no HTTP answer from 127.0.0.1:", port, path));
  }
  return parsed;
}

absl::StatusOr<int> HttpGetStatus(int port, const std::string& path,
                                  absl::Duration timeout) {
  absl::StatusOr<HttpReply> reply = HttpGet(port, path, timeout);
  if (!reply.ok()) return reply.status();
  return reply->status;
}

absl::Status WaitForHttpOk(int port, const std::string& path,
                           absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::StatusOr<int> status = absl::UnavailableError("not tried");
  while (absl::Now() < deadline) {
    status = HttpGetStatus(port, path);
    if (status.ok() && *status == 200) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("127.0.0.1:", port, path, " not 200 after ",
                   absl::FormatDuration(timeout), ": ",
                   status.ok() ? absl::StrCat("HTTP ", *status)
                               : status.status().ToString()));
}

absl::Status PrometheusServer::Start(const std::vector<std::string>& targets,
                                     absl::Duration scrape_interval,
                                     bool scrape_self) {
  absl::StatusOr<std::string> binary = FindBinary("prometheus");
  if (!binary.ok()) return binary.status();
  absl::StatusOr<int> port = FreePort();
  if (!port.ok()) return port.status();
  port_ = *port;
  const std::string interval = absl::FormatDuration(scrape_interval);
  std::string config = absl::StrCat("global:\n  scrape_interval: ", interval,
                                    "\n  evaluation_interval: ", interval,
                                    "\nscrape_configs:\n");
  if (!targets.empty()) {
    absl::StrAppend(&config,
                    "  - job_name: test\n    static_configs:\n"
                    "      - targets: ['",
                    absl::StrJoin(targets, "', '"), "']\n");
  }
  if (scrape_self) {
    absl::StrAppend(&config,
                    "  - job_name: self\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:",
                    port_, "']\n");
  }
  const std::string config_path = dir_.path() + "/prometheus.yml";
  std::ofstream(config_path) << config;
  absl::Status started =
      process_.Start({*binary, "--config.file=" + config_path,
                      "--storage.tsdb.path=" + dir_.path() + "/data",
                      absl::StrCat("--web.listen-address=127.0.0.1:", port_),
                      "--log.level=warn"},
                     dir_.path() + "/prometheus.log");
  if (!started.ok()) return started;
  absl::Status ready = WaitForHttpOk(port_, "/-/ready", absl::Seconds(30));
  if (!ready.ok()) {
    return absl::Status(
        ready.code(),
        absl::StrCat(ready.message(), "; prometheus log:\n", Log()));
  }
  return absl::OkStatus();
}

std::string PrometheusServer::Log() const {
  std::ifstream in(dir_.path() + "/prometheus.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace ballast::testing
