// tests/integration/common/test_pki.h
//
// Certificates for the TLS tests, made with the openssl CLI: EC P-256,
// valid for two days, written as NAME.crt and NAME.key under a directory.
//
//   TempDir dir;
//   ASSERT_OK_AND_ASSIGN(KeyPair ca, MakeCa(dir.path(), "ca", "test-ca"));
//   ASSERT_OK_AND_ASSIGN(KeyPair server, IssueCert(dir.path(), "server", ca,
//       {.cn = "ballast", .sans = "IP:127.0.0.1"}));
//
// MakeServingPki and MakeTestPki lay out the sets several tests share.
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_TEST_PKI_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_TEST_PKI_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ballast::testing {

// A certificate and its private key, as PEM files.
struct KeyPair {
  std::string cert_file;
  std::string key_file;
};

// DIR/NAME.crt and DIR/NAME.key: a self-signed CA with CN `cn`.
absl::StatusOr<KeyPair> MakeCa(const std::string& dir, const std::string& name,
                               const std::string& cn);

struct CertSpec {
  std::string cn;
  // subjectAltName, e.g. "IP:127.0.0.1,DNS:localhost"; empty: none.
  std::string sans;
  // extendedKeyUsage, e.g. "serverAuth" or "clientAuth"; empty: none.
  std::string usage;
};

// DIR/NAME.crt and DIR/NAME.key: a leaf certificate signed by `ca`.
absl::StatusOr<KeyPair> IssueCert(const std::string& dir,
                                  const std::string& name, const KeyPair& ca,
                                  const CertSpec& spec);

// The external metrics API's serving set, under DIR: ca.crt (CN
// serving-ca), server.crt/.key (CN ballast, SAN IP:127.0.0.1), proxy-ca.crt
// and proxy.crt/.key (CN front-proxy-client, the request-header client).
absl::Status MakeServingPki(const std::string& dir);

// Certificates for the in-process external metrics server tests.
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

// Makes every certificate of TestPki under `dir`.
absl::StatusOr<TestPki> MakeTestPki(const std::string& dir);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_TEST_PKI_H_
