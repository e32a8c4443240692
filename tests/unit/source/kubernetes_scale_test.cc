#include "ballast/source/kubernetes_scale.h"

#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "service_env.h"

namespace ballast::source {
namespace {

// As kube-apiserver 1.28 answers (trimmed metadata).
constexpr char kScale[] = R"({
  "kind": "Scale", "apiVersion": "autoscaling/v1",
  "metadata": {"name": "asr-worker", "namespace": "speech"},
  "spec": {"replicas": 5},
  "status": {"replicas": 4, "selector": "app=asr-worker"}
})";

TEST(ParseScaleResponse, ReadsSpecAndStatusReplicas) {
  absl::StatusOr<DeploymentScale> s =
      ParseScaleResponse(200, kScale, "speech", "asr-worker");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spec_replicas, 5);
  EXPECT_EQ(s->status_replicas, 4);
  EXPECT_EQ(s->selector, "app=asr-worker");
}

TEST(ParseScaleResponse, OmittedZeroReplicasAreZero) {
  absl::StatusOr<DeploymentScale> s = ParseScaleResponse(
      200, R"({"kind":"Scale","spec":{},"status":{}})", "ns", "d");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->spec_replicas, 0);
  EXPECT_EQ(s->status_replicas, 0);
}

TEST(ParseScaleResponse, ErrorStatusesNameTheDeployment) {
  struct Case {
    int http;
    absl::StatusCode code;
    const char* hint;
  };
  for (const Case& c :
       {Case{401, absl::StatusCode::kUnauthenticated, "token was rejected"},
        Case{403, absl::StatusCode::kPermissionDenied, "deployments/scale"},
        Case{404, absl::StatusCode::kNotFound, "no such deployment"},
        Case{500, absl::StatusCode::kUnavailable, "HTTP 500"}}) {
    absl::StatusOr<DeploymentScale> s = ParseScaleResponse(
        c.http,
        R"({"kind":"Status","status":"Failure","message":"the reason"})",
        "speech", "asr");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.status().code(), c.code) << s.status();
    EXPECT_TRUE(
        absl::StrContains(s.status().message(), "deployment speech/asr"));
    EXPECT_TRUE(absl::StrContains(s.status().message(), c.hint)) << s.status();
    EXPECT_TRUE(absl::StrContains(s.status().message(), "the reason"));
  }
}

TEST(ParseScaleResponse, RejectsWhatIsNotAScale) {
  for (const char* body :
       {"not json", R"({"kind":"Deployment","spec":{"replicas":1}})",
        R"({"kind":"Scale"})", R"({"kind":"Scale","spec":{"replicas":-1}})",
        R"({"kind":"Scale","spec":{"replicas":1.5}})",
        R"({"kind":"Scale","spec":{"replicas":"3"}})"}) {
    absl::StatusOr<DeploymentScale> s = ParseScaleResponse(200, body, "n", "d");
    ASSERT_FALSE(s.ok()) << body;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss) << s.status();
  }
}

TEST(KubernetesClientOptions, BuildsTheServerFromTheEnvironment) {
  KubernetesScaleOptions options =
      InClusterOptions<KubernetesScaleOptions>("BALLAST_TEST_K8S", "/t", "/c");
  SetServiceEnv("BALLAST_TEST_K8S", nullptr, nullptr);
  absl::StatusOr<net::HttpClientOptions> http =
      KubernetesScaleReader::ClientOptions(options);
  ASSERT_FALSE(http.ok());
  EXPECT_EQ(http.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      absl::StrContains(http.status().message(), "BALLAST_TEST_K8S_HOST"));

  SetServiceEnv("BALLAST_TEST_K8S", "fd00::1", "6443");
  http = KubernetesScaleReader::ClientOptions(options);
  ASSERT_TRUE(http.ok()) << http.status();
  EXPECT_EQ(http->base_url, "https://[fd00::1]:6443");
  EXPECT_EQ(http->bearer_token_file, "/t");
  EXPECT_EQ(http->ca_file, "/c");
  EXPECT_TRUE(http->verify_peer);

  options.api_server = "https://10.0.0.1:443";
  EXPECT_EQ(KubernetesScaleReader::ClientOptions(options)->base_url,
            "https://10.0.0.1:443");
  SetServiceEnv("BALLAST_TEST_K8S", nullptr, nullptr);
}

}  // namespace
}  // namespace ballast::source
