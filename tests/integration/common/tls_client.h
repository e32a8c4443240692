// tests/integration/common/tls_client.h
//
// The tests' HTTPS client, OpenSSL on a plain blocking socket (so that the
// fault tests can also stall a connection, pipeline on it or never read
// it): one keep-alive TlsConnection, and on it a GET as the aggregator
// sends it for the HPA, and raw exchanges (bytes in, everything until the
// server closes out), over TLS or plain TCP.
//
//   ASSERT_TRUE(MakeServingPki(dir).ok());
//   TlsConnection c;
//   ASSERT_TRUE(c.Connect(port, dir + "/ca.crt").ok());
//   absl::StatusOr<HttpReply> r = c.Get("/healthz");  // keep-alive
//
//   absl::StatusOr<Exchange> e = RawExchange(
//       port, &tls, "GET /apis HTTP/1.1\r\nHost: x\r\n\r\n");
//   HttpReply reply = ParseReply(e->received);
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_TLS_CLIENT_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_TLS_CLIENT_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "integration/common/http_reply.h"
#include "integration/common/test_pki.h"

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace ballast::testing {

struct ClientTls {
  std::string ca_file;            // verifies the server; empty: no verification
  std::optional<KeyPair> client;  // the client certificate to present
};

// GET `path` as the aggregator sends it for the HPA (the X-Remote-User and
// X-Remote-Group headers, trusted only from a verified client certificate);
// with Connection: close when `close`.
std::string HpaGetRequest(const std::string& path, bool close);

// Waits up to `timeout` for the server to end a plain TCP connection: true
// when a read returns EOF or the connection was reset. What was read before
// goes to `received` when given.
bool ServerClosed(int fd, absl::Duration timeout,
                  std::string* received = nullptr);

// One TLS connection to 127.0.0.1, blocking with timeouts.
class TlsConnection {
 public:
  TlsConnection() = default;
  ~TlsConnection();
  TlsConnection(const TlsConnection&) = delete;
  TlsConnection& operator=(const TlsConnection&) = delete;

  // Connects and handshakes, verifying the server against `tls.ca_file`
  // (when set) and presenting `tls.client` (when set).
  absl::Status Connect(int port, const ClientTls& tls,
                       absl::Duration timeout = absl::Seconds(5));
  // The same with the CA file and client certificate `cert`/`key` (when
  // given) spelled out.
  absl::Status Connect(int port, const std::string& ca_file,
                       const std::string& cert = "",
                       const std::string& key = "",
                       absl::Duration timeout = absl::Seconds(5));
  // GET `path` on this connection (keep-alive), with the front proxy's user
  // headers; reads one response.
  absl::StatusOr<HttpReply> Get(const std::string& path,
                                absl::Duration timeout = absl::Seconds(5));
  // Writes all of `bytes`; an error when the server has closed.
  absl::Status Write(absl::string_view bytes);
  // Waits up to `timeout` for the server to end the connection (EOF,
  // close_notify or reset); true if it did. What was read before goes to
  // `received` when given.
  bool WaitClosed(absl::Duration timeout, std::string* received = nullptr);
  // The CN of the server's certificate.
  std::string ServerCn() const;
  int fd() const { return fd_; }
  SSL* ssl() const { return ssl_; }

 private:
  absl::StatusOr<HttpReply> ReadResponse(absl::Duration timeout);
  void SetTimeout(absl::Duration timeout);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string pending_;  // bytes read past the last response
};

// GET `path` over a fresh TLS connection; the response and how long it
// took from connect to the end of the response.
struct TimedResponse {
  absl::StatusOr<HttpReply> response;
  absl::Duration took;
};
TimedResponse FreshGet(int port, const std::string& ca_file,
                       const std::string& path, const std::string& cert = "",
                       const std::string& key = "");

struct Exchange {
  std::string received;   // every byte until the server closed or timeout
  std::string server_cn;  // the server certificate's CN (TLS only)
  bool closed_by_server = false;  // false: `timeout` ran out first
  absl::Duration elapsed;         // from connect to close (or timeout)
};

// Connects to 127.0.0.1:port (TLS when `tls` is set), writes `bytes` (may
// be empty), and reads until the server closes or `timeout` passes. Errors
// only when the connection or the handshake fails.
absl::StatusOr<Exchange> RawExchange(
    int port, const ClientTls* tls, const std::string& bytes,
    absl::Duration timeout = absl::Seconds(10));

// HpaGetRequest(target, close=true) over TLS when `tls` is set, else plain
// TCP; the parsed response.
absl::StatusOr<HttpReply> Get(int port, const ClientTls* tls,
                              const std::string& target);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_TLS_CLIENT_H_
