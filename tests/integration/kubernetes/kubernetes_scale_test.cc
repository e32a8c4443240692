// KubernetesScaleReader against fake_apiserver.py: TLS with a CA and a
// server certificate made here with the openssl CLI, the service-account
// token file, and the KUBERNETES_SERVICE_* variables.
#include "ballast/source/kubernetes_scale.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "integration/common/async_call.h"
#include "integration/common/process.h"
#include "integration/common/test_pki.h"

namespace ballast::source {
namespace {

using ::ballast::testing::AsyncCall;

class KubernetesScaleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeCa("ca").ok());
    ASSERT_TRUE(MakeCa("other-ca").ok());
    ASSERT_TRUE(MakeServerCert().ok());
    WriteToken(token_path(), "token-1");
    absl::StatusOr<int> port = ballast::testing::FreePort();
    ASSERT_TRUE(port.ok()) << port.status();
    port_ = *port;
    ASSERT_TRUE(
        server_
            .Start({ballast::testing::kSystemPython,
                    std::string(BALLAST_SOURCE_DIR) +
                        "/tests/integration/kubernetes/fake_apiserver.py",
                    std::to_string(port_), Path("server.crt"),
                    Path("server.key"), token_path(), "speech/asr-worker=5:4",
                    "speech/tts-worker=0:0"},
                   Path("apiserver.log"))
            .ok());
    ASSERT_TRUE(ballast::testing::WaitForPort(port_, absl::Seconds(10)).ok());
    setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", std::to_string(port_).c_str(), 1);
  }
  void TearDown() override {
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
  }

  std::string Path(const std::string& name) const {
    return dir_.path() + "/" + name;
  }
  // The file the client reads and the fake checks against.
  std::string token_path() const { return Path("token"); }

  absl::Status MakeCa(const std::string& name) {
    return ballast::testing::MakeCa(dir_.path(), name, name).status();
  }
  // Valid for 127.0.0.1 and kubernetes.default.svc, as a cluster's is.
  absl::Status MakeServerCert() {
    return ballast::testing::IssueCert(
               dir_.path(), "server", {Path("ca.crt"), Path("ca.key")},
               {.cn = "kube-apiserver",
                .sans = "IP:127.0.0.1,DNS:kubernetes.default.svc"})
        .status();
  }
  void WriteToken(const std::string& path, const std::string& token) {
    // Like kubelet: a new file renamed over the old one.
    std::ofstream(path + ".new") << token << "\n";
    ASSERT_EQ(std::rename((path + ".new").c_str(), path.c_str()), 0);
  }

  // In-cluster options, with the paths of this test.
  KubernetesScaleOptions Options() const {
    return {.token_file = token_path(), .ca_file = Path("ca.crt")};
  }

  absl::StatusOr<DeploymentScale> Read(KubernetesScaleReader& reader,
                                       const std::string& ns,
                                       const std::string& name) {
    return AsyncCall<DeploymentScale>(
        io_, [&](auto done) { reader.Read(ns, name, std::move(done)); });
  }
  absl::StatusOr<DeploymentScale> ReadOnce(const KubernetesScaleOptions& o,
                                           const std::string& ns,
                                           const std::string& name) {
    absl::StatusOr<std::unique_ptr<KubernetesScaleReader>> reader =
        KubernetesScaleReader::Create(io_, o);
    if (!reader.ok()) return reader.status();
    return Read(**reader, ns, name);
  }

  ballast::testing::TempDir dir_;
  ballast::testing::ChildProcess server_;
  int port_ = 0;
  boost::asio::io_context io_;
};

void ExpectCode(const absl::StatusOr<DeploymentScale>& s, absl::StatusCode code,
                const std::string& part) {
  ASSERT_FALSE(s.ok()) << "got " << s->spec_replicas;
  EXPECT_EQ(s.status().code(), code) << s.status();
  EXPECT_TRUE(absl::StrContains(s.status().message(), part))
      << s.status() << " lacks " << part;
}

TEST_F(KubernetesScaleTest, ReadsScaleInClusterStyle) {
  absl::StatusOr<DeploymentScale> s =
      ReadOnce(Options(), "speech", "asr-worker");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spec_replicas, 5);
  EXPECT_EQ(s->status_replicas, 4);
  EXPECT_EQ(s->selector, "app=asr-worker");

  s = ReadOnce(Options(), "speech", "tts-worker");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spec_replicas, 0);
}

TEST_F(KubernetesScaleTest, ExplicitApiServerOverridesEnvironment) {
  unsetenv("KUBERNETES_SERVICE_HOST");
  KubernetesScaleOptions options = Options();
  ExpectCode(ReadOnce(options, "speech", "asr-worker"),
             absl::StatusCode::kFailedPrecondition, "KUBERNETES_SERVICE_HOST");
  options.api_server = absl::StrCat("https://127.0.0.1:", port_);
  EXPECT_TRUE(ReadOnce(options, "speech", "asr-worker").ok());
}

TEST_F(KubernetesScaleTest, FollowsTokenRotation) {
  absl::StatusOr<std::unique_ptr<KubernetesScaleReader>> reader =
      KubernetesScaleReader::Create(io_, Options());
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(Read(**reader, "speech", "asr-worker").ok());
  // The fake now accepts only the new token: the reader must read it again.
  WriteToken(token_path(), "token-2");
  absl::StatusOr<DeploymentScale> s = Read(**reader, "speech", "asr-worker");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spec_replicas, 5);
}

TEST_F(KubernetesScaleTest, WrongTokenIsUnauthenticated) {
  KubernetesScaleOptions options = Options();
  options.token_file = Path("stale-token");
  WriteToken(options.token_file, "token-0");
  absl::StatusOr<DeploymentScale> s = ReadOnce(options, "speech", "asr-worker");
  ExpectCode(s, absl::StatusCode::kUnauthenticated, "token was rejected");
  EXPECT_FALSE(absl::StrContains(s.status().message(), "token-0"));
}

TEST_F(KubernetesScaleTest, MissingTokenIsFailedPrecondition) {
  KubernetesScaleOptions options = Options();
  options.token_file = Path("absent");
  ExpectCode(ReadOnce(options, "speech", "asr-worker"),
             absl::StatusCode::kFailedPrecondition, Path("absent"));
}

TEST_F(KubernetesScaleTest, UnknownDeploymentIsNotFound) {
  ExpectCode(ReadOnce(Options(), "speech", "nope"), absl::StatusCode::kNotFound,
             R"(deployment speech/nope: HTTP 404: no such deployment; )"
             R"(deployments.apps "nope" not found)");
}

TEST_F(KubernetesScaleTest, ForbiddenIsPermissionDenied) {
  ExpectCode(ReadOnce(Options(), "forbidden", "asr-worker"),
             absl::StatusCode::kPermissionDenied,
             "cannot get resource \"deployments/scale\"");
}

TEST_F(KubernetesScaleTest, UntrustedCertificateIsRefused) {
  KubernetesScaleOptions options = Options();
  options.ca_file = Path("other-ca.crt");
  ExpectCode(ReadOnce(options, "speech", "asr-worker"),
             absl::StatusCode::kUnavailable, "certificate verify failed");
}

TEST_F(KubernetesScaleTest, HostNameMustMatchTheCertificate) {
  KubernetesScaleOptions options = Options();
  // The certificate names 127.0.0.1 and kubernetes.default.svc only.
  options.api_server = absl::StrCat("https://localhost:", port_);
  ExpectCode(ReadOnce(options, "speech", "asr-worker"),
             absl::StatusCode::kUnavailable, "TLS handshake failed");
}

TEST_F(KubernetesScaleTest, MissingCaFileFailsAtCreate) {
  KubernetesScaleOptions options = Options();
  options.ca_file = Path("absent-ca.crt");
  ExpectCode(ReadOnce(options, "speech", "asr-worker"),
             absl::StatusCode::kFailedPrecondition, "absent-ca.crt");
}

}  // namespace
}  // namespace ballast::source
