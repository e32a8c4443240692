// Delegated authentication and authorization: the ConfigMap, the request
// headers, request attributes as the API server's RequestInfo names them,
// SubjectAccessReview documents and the decision cache.
#include "ballast/server/delegated_auth.h"

#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace ballast::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// As the API server writes kube-system/extension-apiserver-authentication
// from its --requestheader-* flags (lists are JSON strings).
constexpr char kConfigMap[] = R"({
  "kind": "ConfigMap", "apiVersion": "v1",
  "metadata": {"name": "extension-apiserver-authentication",
               "namespace": "kube-system"},
  "data": {
    "client-ca-file": "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n",
    "requestheader-allowed-names": "[\"front-proxy-client\"]",
    "requestheader-client-ca-file": "-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n",
    "requestheader-extra-headers-prefix": "[\"X-Remote-Extra-\"]",
    "requestheader-group-headers": "[\"X-Remote-Group\"]",
    "requestheader-uid-headers": "[]",
    "requestheader-username-headers": "[\"X-Remote-User\"]"
  }
})";

TEST(AuthenticationConfigMap, ReadsTheFrontProxyTrust) {
  absl::StatusOr<FrontProxyTrust> trust =
      ParseAuthenticationConfigMap(kConfigMap);
  ASSERT_TRUE(trust.ok()) << trust.status();
  EXPECT_EQ(trust->client_ca_pem,
            "-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n");
  EXPECT_THAT(trust->headers.allowed_names, ElementsAre("front-proxy-client"));
  EXPECT_THAT(trust->headers.username_headers, ElementsAre("X-Remote-User"));
  EXPECT_THAT(trust->headers.group_headers, ElementsAre("X-Remote-Group"));
  EXPECT_THAT(trust->headers.extra_header_prefixes,
              ElementsAre("X-Remote-Extra-"));
}

TEST(AuthenticationConfigMap, EmptyAllowedNamesMeanAnyName) {
  std::string body = kConfigMap;
  body.replace(body.find(R"("[\"front-proxy-client\"]")"),
               std::string(R"("[\"front-proxy-client\"]")").size(), R"("[]")");
  absl::StatusOr<FrontProxyTrust> trust = ParseAuthenticationConfigMap(body);
  ASSERT_TRUE(trust.ok()) << trust.status();
  EXPECT_TRUE(trust->headers.allowed_names.empty());
}

TEST(AuthenticationConfigMap, RefusesWhatIsNotTheTrust) {
  // Without the aggregation layer's flags there is no request-header CA.
  absl::StatusOr<FrontProxyTrust> no_ca = ParseAuthenticationConfigMap(
      R"({"kind":"ConfigMap","data":{"client-ca-file":"x"}})");
  EXPECT_EQ(no_ca.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(no_ca.status().message(),
              HasSubstr("requestheader-client-ca-file"));
  EXPECT_EQ(
      ParseAuthenticationConfigMap(R"({"kind":"Status"})").status().code(),
      absl::StatusCode::kDataLoss);
  EXPECT_EQ(ParseAuthenticationConfigMap("not json").status().code(),
            absl::StatusCode::kDataLoss);
  absl::StatusOr<FrontProxyTrust> bad_list = ParseAuthenticationConfigMap(
      R"({"kind":"ConfigMap","data":{"requestheader-client-ca-file":"x",)"
      R"("requestheader-allowed-names":"front-proxy-client"}})");
  EXPECT_EQ(bad_list.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(bad_list.status().message(),
              HasSubstr("requestheader-allowed-names"));
}

TEST(UserFromHeaders, ReadsUserGroupsAndExtras) {
  net::HttpRequest r;
  r.headers = {{"x-remote-user", "system:serviceaccount:kube-system:hpa"},
               {"x-remote-group", "system:serviceaccounts"},
               {"x-remote-group", "system:authenticated"},
               {"x-remote-extra-scopes", "view"},
               {"x-remote-extra-scopes", "edit"},
               {"x-remote-extra-example.com%2fteam", "speech"}};
  absl::StatusOr<RemoteUser> user = UserFromHeaders(r, {});
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->name, "system:serviceaccount:kube-system:hpa");
  EXPECT_THAT(user->groups,
              ElementsAre("system:serviceaccounts", "system:authenticated"));
  EXPECT_THAT(user->extra["scopes"], ElementsAre("view", "edit"));
  EXPECT_THAT(user->extra["example.com/team"], ElementsAre("speech"));
}

TEST(UserFromHeaders, AddsSystemAuthenticatedOnceAsTheApiServerDoes) {
  // The aggregator's discovery and OpenAPI requests: a user, no group.
  net::HttpRequest r;
  r.headers = {{"x-remote-user", "system:kube-aggregator"}};
  absl::StatusOr<RemoteUser> aggregator = UserFromHeaders(r, {});
  ASSERT_TRUE(aggregator.ok()) << aggregator.status();
  EXPECT_THAT(aggregator->groups, ElementsAre("system:authenticated"));
  // Appended after the proxy's groups.
  r.headers = {{"x-remote-user", "carol"}, {"x-remote-group", "devs"}};
  EXPECT_THAT(UserFromHeaders(r, {})->groups,
              ElementsAre("devs", "system:authenticated"));
  // Not twice, and not beside system:unauthenticated.
  r.headers = {{"x-remote-user", "carol"},
               {"x-remote-group", "system:authenticated"},
               {"x-remote-group", "devs"}};
  EXPECT_THAT(UserFromHeaders(r, {})->groups,
              ElementsAre("system:authenticated", "devs"));
  r.headers = {{"x-remote-user", "carol"},
               {"x-remote-group", "system:unauthenticated"}};
  EXPECT_THAT(UserFromHeaders(r, {})->groups,
              ElementsAre("system:unauthenticated"));
  // system:anonymous is not an authenticated user.
  r.headers = {{"x-remote-user", "system:anonymous"}};
  EXPECT_THAT(UserFromHeaders(r, {})->groups, ::testing::IsEmpty());
  // The review asks with the added group.
  const std::string review = SubjectAccessReviewJson(
      *aggregator, AttributesOf({.method = "GET",
                                 .path = "/apis/external.metrics.k8s.io/"
                                         "v1beta1"}));
  EXPECT_THAT(review, HasSubstr(R"("groups":["system:authenticated"])"));
}

TEST(UserFromHeaders, TheFirstNonEmptyUsernameHeaderWins) {
  net::HttpRequest r;
  r.headers = {{"x-remote-user", ""}, {"x-user", "bob"}};
  RequestHeaderConfig config{.username_headers = {"X-Remote-User", "X-User"}};
  EXPECT_EQ(UserFromHeaders(r, config)->name, "bob");
  r.headers = {{"x-remote-user", ""}};
  absl::StatusOr<RemoteUser> none = UserFromHeaders(r, config);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(none.status().message(), HasSubstr("X-Remote-User, X-User"));
}

net::HttpRequest Get(const std::string& path) {
  return {.method = "GET", .target = path, .path = path};
}

TEST(RequestAttributes, AMetricReadIsAListOfTheMetricResource) {
  EXPECT_EQ(AttributesOf(Get("/apis/external.metrics.k8s.io/v1beta1/"
                             "namespaces/speech/ballast_recommended_replicas")),
            (RequestAttributes{.resource_request = true,
                               .verb = "list",
                               .namespace_ = "speech",
                               .group = "external.metrics.k8s.io",
                               .version = "v1beta1",
                               .resource = "ballast_recommended_replicas"}));
  RequestAttributes named = AttributesOf(
      Get("/apis/external.metrics.k8s.io/v1beta1/namespaces/a/m/one"));
  EXPECT_EQ(named.verb, "get");
  EXPECT_EQ(named.resource, "m");
}

TEST(RequestAttributes, DiscoveryIsANonResourceGet) {
  for (const char* path : {"/apis", "/apis/external.metrics.k8s.io",
                           "/apis/external.metrics.k8s.io/v1beta1"}) {
    RequestAttributes a = AttributesOf(Get(path));
    EXPECT_FALSE(a.resource_request) << path;
    EXPECT_EQ(a.verb, "get") << path;
    EXPECT_EQ(a.path, path);
  }
}

TEST(SubjectAccessReview, AsksForTheUserAndTheResource) {
  RemoteUser user{.name = "alice",
                  .groups = {"devs", "system:authenticated"},
                  .extra = {{"scopes", {"a", "b"}}}};
  absl::StatusOr<rapidjson::Document> doc = ParseJson(SubjectAccessReviewJson(
      user, AttributesOf(Get("/apis/external.metrics.k8s.io/v1beta1/"
                             "namespaces/default/m"))));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(JsonText(*JsonFind(*doc, "apiVersion")), "authorization.k8s.io/v1");
  EXPECT_EQ(JsonText(*JsonFind(*doc, "kind")), "SubjectAccessReview");
  const rapidjson::Value& spec = *JsonFind(*doc, "spec");
  EXPECT_EQ(JsonText(*JsonFind(spec, "user")), "alice");
  ASSERT_EQ(JsonFind(spec, "groups")->GetArray().Size(), 2u);
  EXPECT_EQ(JsonText(JsonFind(spec, "groups")->GetArray()[1]),
            "system:authenticated");
  EXPECT_EQ(
      JsonText(JsonFind(*JsonFind(spec, "extra"), "scopes")->GetArray()[1]),
      "b");
  const rapidjson::Value& ra = *JsonFind(spec, "resourceAttributes");
  EXPECT_EQ(JsonText(*JsonFind(ra, "verb")), "list");
  EXPECT_EQ(JsonText(*JsonFind(ra, "namespace")), "default");
  EXPECT_EQ(JsonText(*JsonFind(ra, "group")), "external.metrics.k8s.io");
  EXPECT_EQ(JsonText(*JsonFind(ra, "version")), "v1beta1");
  EXPECT_EQ(JsonText(*JsonFind(ra, "resource")), "m");
  EXPECT_EQ(JsonFind(spec, "nonResourceAttributes"), nullptr);

  absl::StatusOr<rapidjson::Document> discovery =
      ParseJson(SubjectAccessReviewJson(user, AttributesOf(Get("/apis"))));
  ASSERT_TRUE(discovery.ok());
  const rapidjson::Value& nra =
      *JsonFind(*JsonFind(*discovery, "spec"), "nonResourceAttributes");
  EXPECT_EQ(JsonText(*JsonFind(nra, "path")), "/apis");
  EXPECT_EQ(JsonText(*JsonFind(nra, "verb")), "get");
}

TEST(SubjectAccessReview, ReadsTheAnswer) {
  absl::StatusOr<AuthorizationDecision> allowed =
      ParseSubjectAccessReviewResponse(
          201, R"({"kind":"SubjectAccessReview","status":{"allowed":true,)"
               R"("reason":"RBAC: allowed by ClusterRoleBinding \"x\""}})");
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_TRUE(allowed->allowed);
  EXPECT_THAT(allowed->reason, HasSubstr("ClusterRoleBinding"));
  absl::StatusOr<AuthorizationDecision> denied =
      ParseSubjectAccessReviewResponse(201, R"({"status":{"allowed":false}})");
  ASSERT_TRUE(denied.ok());
  EXPECT_FALSE(denied->allowed);
  // An explicit deny wins over anything else.
  EXPECT_FALSE(ParseSubjectAccessReviewResponse(
                   201, R"({"status":{"allowed":true,"denied":true}})")
                   ->allowed);
  // The API server could not answer: an error, never a decision.
  absl::StatusOr<AuthorizationDecision> forbidden =
      ParseSubjectAccessReviewResponse(
          403, R"({"kind":"Status","message":"cannot create"})");
  EXPECT_EQ(forbidden.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(forbidden.status().message(), HasSubstr("system:auth-delegator"));
  EXPECT_EQ(
      ParseSubjectAccessReviewResponse(201, R"({"status":{}})").status().code(),
      absl::StatusCode::kUnavailable);
  EXPECT_EQ(ParseSubjectAccessReviewResponse(500, "oops").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(SubjectAccessReview, DescribesADenialAsTheApiServerDoes) {
  EXPECT_EQ(
      DescribeDenial({.name = "mallory"},
                     AttributesOf(Get("/apis/external.metrics.k8s.io/v1beta1/"
                                      "namespaces/default/m")),
                     ""),
      "user \"mallory\" cannot list resource \"m\" in API group "
      "\"external.metrics.k8s.io\" in the namespace \"default\"");
}

TEST(AuthorizationCache, KeepsAllowedAndDeniedForTheirOwnTimes) {
  AuthorizationCache cache(absl::Seconds(10), absl::Seconds(3));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  const RemoteUser alice{.name = "alice", .groups = {"devs"}};
  const RemoteUser bob{.name = "bob"};
  const RequestAttributes list = AttributesOf(
      Get("/apis/external.metrics.k8s.io/v1beta1/namespaces/default/m"));
  cache.Put(alice, list, {.allowed = true}, t0);
  cache.Put(bob, list, {.allowed = false, .reason = "no"}, t0);
  EXPECT_TRUE(cache.Get(alice, list, t0 + absl::Seconds(9))->allowed);
  EXPECT_TRUE(cache.Get(alice, list, t0 + absl::Seconds(9))->cached);
  EXPECT_FALSE(cache.Get(alice, list, t0 + absl::Seconds(10)).has_value());
  EXPECT_FALSE(cache.Get(bob, list, t0 + absl::Seconds(2))->allowed);
  EXPECT_FALSE(cache.Get(bob, list, t0 + absl::Seconds(3)).has_value());
  // Another group, namespace or resource is another question.
  EXPECT_FALSE(cache
                   .Get({.name = "alice", .groups = {"ops"}}, list,
                        t0 + absl::Seconds(1))
                   .has_value());
  RequestAttributes other = list;
  other.namespace_ = "speech";
  EXPECT_FALSE(cache.Get(alice, other, t0).has_value());
}

TEST(AuthorizationCache, StaysBounded) {
  AuthorizationCache cache(absl::Seconds(10), absl::Seconds(10),
                           /*max_entries=*/3);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  const RequestAttributes a = AttributesOf(Get("/apis"));
  for (int i = 0; i < 10; ++i) {
    cache.Put({.name = absl::StrCat("user", i)}, a, {.allowed = true}, t0);
    EXPECT_LE(cache.size(), 3u);
  }
  EXPECT_TRUE(cache.Get({.name = "user9"}, a, t0).has_value());
}

TEST(AuthorizationCache, ZeroTtlCachesNothing) {
  AuthorizationCache cache(absl::ZeroDuration(), absl::Seconds(5));
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  const RequestAttributes a = AttributesOf(Get("/apis"));
  cache.Put({.name = "a"}, a, {.allowed = true}, t0);
  EXPECT_FALSE(cache.Get({.name = "a"}, a, t0).has_value());
  cache.Put({.name = "b"}, a, {.allowed = false}, t0);
  EXPECT_TRUE(cache.Get({.name = "b"}, a, t0).has_value());
}

}  // namespace
}  // namespace ballast::server
