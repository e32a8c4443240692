#include "integration/common/test_pki.h"

#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "integration/common/process.h"

namespace ballast::testing {
namespace {

absl::Status Openssl(std::vector<std::string> args) {
  absl::StatusOr<std::string> openssl = FindBinary("openssl");
  if (!openssl.ok()) return openssl.status();
  args.insert(args.begin(), *openssl);
  return RunCommand(args).status();
}

// A new EC P-256 key; with `self_signed` a certificate valid for two days,
// else a CSR.
absl::Status NewKey(const std::string& base, const std::string& cn,
                    bool self_signed) {
  std::vector<std::string> args = {"req",
                                   "-newkey",
                                   "ec",
                                   "-pkeyopt",
                                   "ec_paramgen_curve:prime256v1",
                                   "-nodes",
                                   "-subj",
                                   "/CN=" + cn,
                                   "-keyout",
                                   base + ".key"};
  if (self_signed) {
    args.insert(args.end(), {"-x509", "-days", "2", "-out", base + ".crt"});
  } else {
    args.insert(args.end(), {"-new", "-out", base + ".csr"});
  }
  return Openssl(std::move(args));
}

}  // namespace

absl::StatusOr<KeyPair> MakeCa(const std::string& dir, const std::string& name,
                               const std::string& cn) {
  const std::string base = absl::StrCat(dir, "/", name);
  if (absl::Status s = NewKey(base, cn, /*self_signed=*/true); !s.ok()) {
    return s;
  }
  return KeyPair{base + ".crt", base + ".key"};
}

absl::StatusOr<KeyPair> IssueCert(const std::string& dir,
                                  const std::string& name, const KeyPair& ca,
                                  const CertSpec& spec) {
  const std::string base = absl::StrCat(dir, "/", name);
  if (absl::Status s = NewKey(base, spec.cn, /*self_signed=*/false); !s.ok()) {
    return s;
  }
  std::string extensions;
  if (!spec.sans.empty()) {
    absl::StrAppend(&extensions, "subjectAltName=", spec.sans, "\n");
  }
  if (!spec.usage.empty()) {
    absl::StrAppend(&extensions, "extendedKeyUsage=", spec.usage, "\n");
  }
  std::vector<std::string> args = {
      "x509",       "-req",   "-in",        base + ".csr",     "-CA",
      ca.cert_file, "-CAkey", ca.key_file,  "-CAcreateserial", "-days",
      "2",          "-out",   base + ".crt"};
  if (!extensions.empty()) {
    std::ofstream(base + ".ext") << extensions;
    args.insert(args.end(), {"-extfile", base + ".ext"});
  }
  if (absl::Status s = Openssl(std::move(args)); !s.ok()) return s;
  return KeyPair{base + ".crt", base + ".key"};
}

absl::Status MakeServingPki(const std::string& dir) {
  absl::StatusOr<KeyPair> ca = MakeCa(dir, "ca", "serving-ca");
  if (!ca.ok()) return ca.status();
  absl::StatusOr<KeyPair> proxy_ca = MakeCa(dir, "proxy-ca", "front-proxy-ca");
  if (!proxy_ca.ok()) return proxy_ca.status();
  absl::StatusOr<KeyPair> server =
      IssueCert(dir, "server", *ca, {.cn = "ballast", .sans = "IP:127.0.0.1"});
  if (!server.ok()) return server.status();
  return IssueCert(dir, "proxy", *proxy_ca, {.cn = "front-proxy-client"})
      .status();
}

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  TestPki pki;
  pki.dir = dir;
  absl::StatusOr<KeyPair> serving_ca = MakeCa(dir, "serving-ca", "serving-ca");
  if (!serving_ca.ok()) return serving_ca.status();
  absl::StatusOr<KeyPair> proxy_ca =
      MakeCa(dir, "front-proxy-ca", "front-proxy-ca");
  if (!proxy_ca.ok()) return proxy_ca.status();
  absl::StatusOr<KeyPair> rogue_ca = MakeCa(dir, "rogue-ca", "rogue-ca");
  if (!rogue_ca.ok()) return rogue_ca.status();
  pki.serving_ca = serving_ca->cert_file;
  pki.front_proxy_ca = proxy_ca->cert_file;
  const std::string server_sans = "IP:127.0.0.1,DNS:localhost";
  struct Leaf {
    KeyPair* out;
    const char* name;
    const KeyPair& ca;
    CertSpec spec;
  };
  for (const Leaf& leaf : {
           Leaf{&pki.serving_a,
                "serving-a",
                *serving_ca,
                {"ballast-a", server_sans, "serverAuth"}},
           Leaf{&pki.serving_b,
                "serving-b",
                *serving_ca,
                {"ballast-b", server_sans, "serverAuth"}},
           Leaf{&pki.proxy_client,
                "proxy-client",
                *proxy_ca,
                {"front-proxy-client", "", "clientAuth"}},
           Leaf{&pki.other_client,
                "other-client",
                *proxy_ca,
                {"someone-else", "", "clientAuth"}},
           Leaf{&pki.rogue_client,
                "rogue-client",
                *rogue_ca,
                {"front-proxy-client", "", "clientAuth"}},
       }) {
    absl::StatusOr<KeyPair> pair =
        IssueCert(dir, leaf.name, leaf.ca, leaf.spec);
    if (!pair.ok()) return pair.status();
    *leaf.out = *std::move(pair);
  }
  return pki;
}

}  // namespace ballast::testing
