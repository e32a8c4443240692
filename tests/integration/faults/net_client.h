// tests/integration/faults/net_client.h
//
// Clients for the config and serving faults: a blocking TLS connection that
// keeps alive (OpenSSL on a plain socket, so the tests can also stall it,
// pipeline on it or never read it), raw TCP connections, a KEDA
// StreamIsActive stream read on its own thread, a serving PKI made with the
// openssl CLI, and what /proc says about the daemon (open descriptors,
// limits, memory).
//
//   ASSERT_TRUE(MakeServingPki(dir).ok());
//   TlsConnection c;
//   ASSERT_TRUE(c.Connect(port, dir + "/ca.crt").ok());
//   absl::StatusOr<TlsResponse> r = c.Get("/healthz");  // keep-alive
#ifndef BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_
#define BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpcpp/grpcpp.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace ballast::testing {

// Under DIR: ca.crt (the serving CA), server.crt/.key (CN ballast, SAN
// IP:127.0.0.1), proxy-ca.crt and proxy.crt/.key (CN front-proxy-client,
// the request-header client), all EC P-256 with the openssl CLI.
absl::Status MakeServingPki(const std::string& dir);

// Sets this process's soft RLIMIT_NOFILE to min(want, hard); returns the
// soft limit now in force.
int64_t SetNoFileLimit(int64_t want);
// The hard RLIMIT_NOFILE of this process.
int64_t HardNoFileLimit();

// /proc/PID: open descriptors, "Max open files" (soft, hard), VmRSS in KiB.
int CountFds(pid_t pid);
std::pair<int64_t, int64_t> NoFileLimitsOf(pid_t pid);
int64_t RssKib(pid_t pid);

// A TCP connection to 127.0.0.1:port (blocking connect); -1 on failure.
int ConnectTcp(int port);
// Waits up to `timeout` for the server to end a connection: true when a
// read returns EOF or the connection was reset (data before is discarded).
bool ServerClosed(int fd, absl::Duration timeout);

// The first TLS record a client sends (a real ClientHello, by OpenSSL).
std::string ClientHelloBytes();

struct TlsResponse {
  int status = 0;
  std::string body;
  bool close = false;  // the server said Connection: close
};

// One TLS connection, blocking with timeouts.
class TlsConnection {
 public:
  TlsConnection() = default;
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Connects and handshakes (verifying the server against `ca_file`), with
  // the client certificate `cert`/`key` when given.
  absl::Status Connect(int port, const std::string& ca_file,
                       const std::string& cert = "",
                       const std::string& key = "",
                       absl::Duration timeout = absl::Seconds(5));
  // GET `path` on this connection (keep-alive), with the front proxy's user
  // headers; reads one response.
  absl::StatusOr<TlsResponse> Get(const std::string& path,
                                  absl::Duration timeout = absl::Seconds(5));
  // Writes all of `bytes`; an error when the server has closed.
  absl::Status Write(absl::string_view bytes);
  // Waits up to `timeout` for the server to end the connection (EOF,
  // close_notify or reset); true if it did.
  bool WaitClosed(absl::Duration timeout);
  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }

 private:
  absl::StatusOr<TlsResponse> ReadResponse(absl::Duration timeout);
  void SetTimeout(absl::Duration timeout);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string pending_;  // bytes read past the last response
};

// GET `path` over a fresh TLS connection; the response and how long it
// took from connect to the end of the response.
struct TimedResponse {
  absl::StatusOr<TlsResponse> response;
  absl::Duration took;
};
TimedResponse FreshGet(int port, const std::string& ca_file,
                       const std::string& path, const std::string& cert = "",
                       const std::string& key = "");

// KEDA's StreamIsActive for one target, read on its own thread until the
// server ends it (or the destructor cancels it).
class IsActiveStream {
 public:
  IsActiveStream(int grpc_port, const std::string& target);
  ~IsActiveStream();
  IsActiveStream(const IsActiveStream&) = delete;
  IsActiveStream& operator=(const IsActiveStream&) = delete;

  // The results pushed so far, in order.
  std::vector<bool> results();
  bool ended();
  // The final status; valid once ended().
  grpc::Status status();
  absl::Time ended_at();
  // Waits until `count` results came (or the stream ended).
  bool WaitForResults(size_t count, absl::Duration timeout);
  bool WaitEnded(absl::Duration timeout);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
  grpc::ClientContext context_;
  std::mutex mu_;
  std::vector<bool> results_;
  bool ended_ = false;
  grpc::Status status_;
  absl::Time ended_at_;
  std::thread reader_;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_
