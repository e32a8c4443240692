// The API server client's options from a kubeconfig or a service account.
#include "ballast/source/kubernetes_client.h"

#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "service_env.h"

namespace ballast::source {
namespace {

using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kKubeconfig[] = R"(apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority: pki/ca.crt
- name: other
  cluster:
    server: https://127.0.0.1:7443
    certificate-authority-data: {CA}
    tls-server-name: kubernetes.default.svc
users:
- name: admin
  user:
    client-certificate: /abs/admin.crt
    client-key: pki/admin.key
- name: robot
  user:
    token: s3cret
- name: plugin
  user:
    exec: {command: aws}
contexts:
- name: admin@local
  context: {cluster: local, user: admin}
- name: robot@other
  context: {cluster: other, user: robot}
- name: plugin@local
  context: {cluster: local, user: plugin}
current-context: admin@local
)";

std::string Kubeconfig() {
  std::string text = kKubeconfig;
  text.replace(text.find("{CA}"), 4,
               absl::Base64Escape("-----BEGIN CERTIFICATE-----\nca\n"));
  return text;
}

TEST(Kubeconfig, TheCurrentContextWithFilesRelativeToItsDirectory) {
  absl::StatusOr<net::HttpClientOptions> o =
      KubeconfigClientOptions(Kubeconfig(), "/etc/kube", "");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->base_url, "https://127.0.0.1:6443");
  EXPECT_EQ(o->ca_file, "/etc/kube/pki/ca.crt");
  EXPECT_EQ(o->client_cert_file, "/abs/admin.crt");
  EXPECT_EQ(o->client_key_file, "/etc/kube/pki/admin.key");
  EXPECT_TRUE(o->verify_peer);
  EXPECT_TRUE(o->headers.empty());
}

TEST(Kubeconfig, ANamedContextWithInlineDataAndAToken) {
  absl::StatusOr<net::HttpClientOptions> o =
      KubeconfigClientOptions(Kubeconfig(), "/etc/kube", "robot@other");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->base_url, "https://127.0.0.1:7443");
  EXPECT_EQ(o->ca_pem, "-----BEGIN CERTIFICATE-----\nca\n");
  EXPECT_EQ(o->tls_server_name, "kubernetes.default.svc");
  EXPECT_THAT(o->headers,
              ::testing::ElementsAre(Pair("Authorization", "Bearer s3cret")));
}

TEST(Kubeconfig, RefusesWhatADaemonCannotUse) {
  absl::StatusOr<net::HttpClientOptions> plugin =
      KubeconfigClientOptions(Kubeconfig(), "/", "plugin@local");
  EXPECT_EQ(plugin.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(plugin.status().message(), HasSubstr("exec"));
  EXPECT_THAT(
      KubeconfigClientOptions(Kubeconfig(), "/", "nope").status().message(),
      HasSubstr("no context named \"nope\""));
  EXPECT_FALSE(KubeconfigClientOptions("[1, 2]", "/", "").ok());
  EXPECT_FALSE(KubeconfigClientOptions("a: [", "/", "").ok());
}

TEST(KubernetesClientOptions, InClusterUsesTheServiceAccount) {
  const InClusterPaths paths = InClusterOptions<InClusterPaths>(
      "BALLAST_TEST_KC", "/t/token", "/t/ca.crt");
  SetServiceEnv("BALLAST_TEST_KC", nullptr, nullptr);
  EXPECT_EQ(KubernetesClientOptions({}, paths).status().code(),
            absl::StatusCode::kFailedPrecondition);
  SetServiceEnv("BALLAST_TEST_KC", "10.96.0.1", "443");
  absl::StatusOr<net::HttpClientOptions> o = KubernetesClientOptions({}, paths);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->base_url, "https://10.96.0.1:443");
  EXPECT_EQ(o->bearer_token_file, "/t/token");
  EXPECT_EQ(o->ca_file, "/t/ca.crt");
  EXPECT_EQ(
      KubernetesClientOptions({.kubeconfig = "/nonexistent/kubeconfig"}, paths)
          .status()
          .code(),
      absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ballast::source
