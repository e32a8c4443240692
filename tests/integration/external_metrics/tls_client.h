// tests/integration/external_metrics/tls_client.h
//
// What the external metrics integration tests need besides the server: a
// PKI made with the openssl CLI, and a client that sends raw bytes over TLS
// (or plain TCP) and returns what came back.
//
//   ASSERT_OK_AND_ASSIGN(TestPki pki, MakeTestPki(dir.path()));
//   absl::StatusOr<Exchange> e = RawExchange(
//       port, pki.ProxyClient(), "GET /apis HTTP/1.1\r\nHost: x\r\n\r\n");
//   HttpReply reply = ParseReply(e->received);
#ifndef BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_TLS_CLIENT_H_
#define BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_TLS_CLIENT_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ballast::testing {

struct KeyPair {
  std::string cert_file;
  std::string key_file;
};

// Certificates for the tests, all EC P-256, valid for two days.
struct TestPki {
  std::string dir;
  std::string serving_ca;      // CA of the serving certificates
  KeyPair serving_a;           // CN ballast-a, SAN 127.0.0.1 and localhost
  KeyPair serving_b;           // CN ballast-b, same SANs (rotation)
  std::string front_proxy_ca;  // the request-header CA
  KeyPair proxy_client;        // CN front-proxy-client, by front_proxy_ca
  KeyPair other_client;        // CN someone-else, by front_proxy_ca
  KeyPair rogue_client;        // CN front-proxy-client, by another CA
};

// Makes every certificate of TestPki under `dir` with the openssl CLI.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

struct ClientTls {
  std::string ca_file;            // verifies the server; empty: no verification
  std::optional<KeyPair> client;  // the client certificate to present
};

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

struct HttpReply {
  int status = 0;                              // 0: no parsable status line
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
};

// Parses the first HTTP/1.1 response in `received` (Content-Length bodies).
HttpReply ParseReply(const std::string& received);

// GET `target` with Connection: close, over TLS when `tls` is set, with the
// X-Remote-User/X-Remote-Group headers the aggregator sends for the HPA.
absl::StatusOr<HttpReply> Get(int port, const ClientTls* tls,
                              const std::string& target);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_TLS_CLIENT_H_
