// Aggregated discovery and OpenAPI through ExternalMetricsApi: negotiation,
// status codes, content types, ETags, and the documents' contents.
#include "ballast/server/api_documents.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/server/external_metrics_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace ballast::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr char kV2Accept[] =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
constexpr char kV2Beta1Accept[] =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";
constexpr char kGroupVersionPath[] =
    "/openapi/v3/apis/external.metrics.k8s.io/v1beta1";

std::string HeaderOf(const net::HttpResponse& r, absl::string_view name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return "";
}

rapidjson::Document Json(absl::string_view body) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  EXPECT_TRUE(doc.ok()) << doc.status() << ": " << body;
  return doc.ok() ? *std::move(doc) : rapidjson::Document();
}

class ApiDocumentsTest : public ::testing::Test {
 protected:
  ApiDocumentsTest() : api_(store_, {}) {}

  net::HttpResponse Get(
      const std::string& target,
      std::vector<std::pair<std::string, std::string>> headers = {}) {
    net::HttpRequest r{.method = "GET", .target = target};
    r.headers = {{"x-remote-user", "system:kube-aggregator"}};
    for (auto& h : headers) r.headers.push_back(std::move(h));
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    return api_.Handle(r, {.tls = true, .client_cert_verified = true});
  }

  store::RecommendationStore store_;
  ExternalMetricsApi api_;
};

TEST(ParseAccept, OrdersByQualityAndDropsMalformedRanges) {
  std::vector<MediaRange> r = ParseAccept(
      "text/html;q=0.2, application/JSON ;g=apidiscovery.k8s.io;v=v2, "
      "garbage, */*;q=0.5, a/b;q=0, x/y;q=high, /z");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].type, "application");
  EXPECT_EQ(r[0].subtype, "json");
  EXPECT_THAT(r[0].params,
              ElementsAre(Pair("g", "apidiscovery.k8s.io"), Pair("v", "v2")));
  EXPECT_EQ(r[1].type, "*");
  EXPECT_DOUBLE_EQ(r[1].q, 0.5);
  EXPECT_EQ(r[2].subtype, "html");
  EXPECT_TRUE(ParseAccept("").empty());
}

TEST(NegotiateDiscovery, PicksTheFirstServedDocument) {
  EXPECT_EQ(NegotiateDiscovery(""), DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery("application/json"), DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery("*/*"), DiscoveryFormat::kLegacy);
  EXPECT_EQ(NegotiateDiscovery(kV2Accept), DiscoveryFormat::kAggregatedV2);
  EXPECT_EQ(NegotiateDiscovery(kV2Beta1Accept),
            DiscoveryFormat::kAggregatedV2Beta1);
  // The 1.35 aggregator's Accept: v2, then v2beta1.
  EXPECT_EQ(NegotiateDiscovery(absl::StrCat(kV2Accept, ",", kV2Beta1Accept)),
            DiscoveryFormat::kAggregatedV2);
  // Protobuf is not served; JSON after it is.
  EXPECT_EQ(NegotiateDiscovery(
                "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;"
                "v=v2;as=APIGroupDiscoveryList,application/json"),
            DiscoveryFormat::kLegacy);
  // An unknown transform is skipped, not served as legacy.
  EXPECT_EQ(NegotiateDiscovery("application/json;g=other;v=v9;as=Thing"),
            std::nullopt);
  EXPECT_EQ(NegotiateDiscovery("application/vnd.kubernetes.protobuf"),
            std::nullopt);
  EXPECT_EQ(NegotiateDiscovery("text/html"), std::nullopt);
}

TEST_F(ApiDocumentsTest, AggregatedDiscoveryListsEveryMetric) {
  net::HttpResponse r = Get("/apis", {{"accept", kV2Accept}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, kV2Accept);
  EXPECT_EQ(HeaderOf(r, "Vary"), "Accept");
  rapidjson::Document doc = Json(r.body);
  EXPECT_EQ(JsonText(doc["kind"]), "APIGroupDiscoveryList");
  EXPECT_EQ(JsonText(doc["apiVersion"]), "apidiscovery.k8s.io/v2");
  ASSERT_EQ(doc["items"].Size(), 1u);
  const rapidjson::Value& group = doc["items"][0];
  EXPECT_EQ(JsonText(group["metadata"]["name"]), "external.metrics.k8s.io");
  ASSERT_EQ(group["versions"].Size(), 1u);
  const rapidjson::Value& version = group["versions"][0];
  EXPECT_EQ(JsonText(version["version"]), "v1beta1");
  EXPECT_EQ(JsonText(version["freshness"]), "Current");
  ASSERT_EQ(version["resources"].Size(), 2u);
  std::vector<std::string> names;
  for (const rapidjson::Value& res : version["resources"].GetArray()) {
    names.emplace_back(JsonText(res["resource"]));
    EXPECT_EQ(JsonText(res["scope"]), "Namespaced");
    EXPECT_EQ(JsonText(res["responseKind"]["kind"]), "ExternalMetricValueList");
    EXPECT_EQ(JsonText(res["responseKind"]["group"]),
              "external.metrics.k8s.io");
    ASSERT_EQ(res["verbs"].Size(), 1u);
    EXPECT_EQ(JsonText(res["verbs"][0]), "get");
  }
  EXPECT_THAT(names,
              ElementsAre("ballast_recommended_replicas", "ballast_input"));
  // v2beta1 is the same document under its own apiVersion.
  net::HttpResponse beta = Get("/apis", {{"accept", kV2Beta1Accept}});
  EXPECT_EQ(beta.content_type, kV2Beta1Accept);
  EXPECT_EQ(JsonText(Json(beta.body)["apiVersion"]),
            "apidiscovery.k8s.io/v2beta1");
}

TEST_F(ApiDocumentsTest, AMatchingIfNoneMatchIs304WithoutABody) {
  net::HttpResponse first = Get("/apis", {{"accept", kV2Accept}});
  const std::string etag = HeaderOf(first, "ETag");
  ASSERT_EQ(etag.size(), 128u + 2) << etag;  // a quoted hex SHA-512
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag, absl::StrCat("\"", BodyHash(first.body), "\""));
  net::HttpResponse again =
      Get("/apis", {{"accept", kV2Accept}, {"if-none-match", etag}});
  EXPECT_EQ(again.status, 304);
  EXPECT_EQ(again.body, "");
  EXPECT_EQ(HeaderOf(again, "ETag"), etag);
  EXPECT_EQ(
      Get("/apis", {{"accept", kV2Accept}, {"if-none-match", "\"other\""}})
          .status,
      200);
}

TEST_F(ApiDocumentsTest, LegacyDiscoveryStaysTheDefault) {
  for (const char* accept : {"", "application/json", "*/*"}) {
    net::HttpResponse r = Get("/apis", {{"accept", accept}});
    ASSERT_EQ(r.status, 200) << accept;
    EXPECT_EQ(r.content_type, "application/json");
    EXPECT_EQ(JsonText(Json(r.body)["kind"]), "APIGroupList") << accept;
  }
}

TEST_F(ApiDocumentsTest, NothingAcceptableIs406) {
  for (const char* accept :
       {"application/vnd.kubernetes.protobuf", "text/html", "garbage"}) {
    net::HttpResponse r = Get("/apis", {{"accept", accept}});
    EXPECT_EQ(r.status, 406) << accept;
    EXPECT_EQ(r.content_type, "application/json");
    rapidjson::Document doc = Json(r.body);
    EXPECT_EQ(JsonText(doc["kind"]), "Status");
    EXPECT_EQ(JsonText(doc["reason"]), "NotAcceptable");
    EXPECT_EQ(doc["code"].GetDouble(), 406);
  }
  net::HttpResponse v2 =
      Get("/openapi/v2", {{"accept",
                           "application/com.github.proto-openapi.spec."
                           "v2@v1.0+protobuf"}});
  EXPECT_EQ(v2.status, 406);
  net::HttpResponse v3 =
      Get(kGroupVersionPath,
          {{"accept",
            "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"}});
  EXPECT_EQ(v3.status, 406);
  // Protobuf first, JSON accepted too: JSON.
  EXPECT_EQ(Get("/openapi/v2",
                {{"accept",
                  "application/com.github.proto-openapi.spec.v2@v1.0+protobuf,"
                  "application/json"}})
                .status,
            200);
}

TEST_F(ApiDocumentsTest, OpenApiV2DescribesTheMetricsAndTheirList) {
  net::HttpResponse r = Get("/openapi/v2", {{"accept", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(HeaderOf(r, "ETag"), absl::StrCat("\"", BodyHash(r.body), "\""));
  rapidjson::Document doc = Json(r.body);
  EXPECT_EQ(JsonText(doc["swagger"]), "2.0");
  const rapidjson::Value& paths = doc["paths"];
  const char* metric_path =
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/"
      "ballast_recommended_replicas";
  ASSERT_TRUE(paths.HasMember(metric_path));
  ASSERT_TRUE(paths.HasMember(
      "/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/"
      "ballast_input"));
  ASSERT_TRUE(paths.HasMember("/apis/external.metrics.k8s.io/v1beta1/"));
  const rapidjson::Value& get = paths[metric_path]["get"];
  EXPECT_EQ(JsonText(get["x-kubernetes-group-version-kind"]["kind"]),
            "ExternalMetricValueList");
  EXPECT_EQ(JsonText(get["responses"]["200"]["schema"]["$ref"]),
            "#/definitions/io.k8s.metrics.pkg.apis.external_metrics.v1beta1."
            "ExternalMetricValueList");
  const rapidjson::Value& defs = doc["definitions"];
  const rapidjson::Value& list = defs
      ["io.k8s.metrics.pkg.apis.external_metrics.v1beta1."
       "ExternalMetricValueList"];
  EXPECT_EQ(JsonText(list["x-kubernetes-group-version-kind"][0]["group"]),
            "external.metrics.k8s.io");
  const rapidjson::Value& value = defs
      ["io.k8s.metrics.pkg.apis.external_metrics.v1beta1."
       "ExternalMetricValue"];
  for (const char* field :
       {"metricName", "metricLabels", "timestamp", "window", "value"}) {
    EXPECT_TRUE(value["properties"].HasMember(field)) << field;
  }
  // Every $ref resolves inside the document.
  for (const char* model :
       {"io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
        "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource"}) {
    EXPECT_TRUE(defs.HasMember(model)) << model;
  }
  EXPECT_EQ(Get("/openapi/v2", {{"if-none-match", HeaderOf(r, "ETag")}}).status,
            304);
}

TEST_F(ApiDocumentsTest, OpenApiV3RootNamesTheGroupVersionWithItsHash) {
  net::HttpResponse root = Get("/openapi/v3");
  ASSERT_EQ(root.status, 200) << root.body;
  EXPECT_EQ(root.content_type, "application/json");
  rapidjson::Document doc = Json(root.body);
  const rapidjson::Value& item =
      doc["paths"]["apis/external.metrics.k8s.io/v1beta1"];
  const std::string url(JsonText(item["serverRelativeURL"]));
  net::HttpResponse gv = Get(url);
  ASSERT_EQ(gv.status, 200) << gv.body;
  EXPECT_EQ(url, absl::StrCat(kGroupVersionPath, "?hash=", BodyHash(gv.body)));
  EXPECT_EQ(gv.content_type, "application/json");
  EXPECT_EQ(HeaderOf(gv, "Cache-Control"), "public, immutable");
  rapidjson::Document spec = Json(gv.body);
  EXPECT_EQ(JsonText(spec["openapi"]), "3.0.0");
  const rapidjson::Value& schemas = spec["components"]["schemas"];
  EXPECT_TRUE(
      schemas.HasMember("io.k8s.metrics.pkg.apis.external_metrics.v1beta1."
                        "ExternalMetricValueList"));
  const rapidjson::Value& get =
      spec["paths"]
          ["/apis/external.metrics.k8s.io/v1beta1/namespaces/{namespace}/"
           "ballast_input"]["get"];
  EXPECT_EQ(JsonText(get["responses"]["200"]["content"]["application/json"]
                        ["schema"]["$ref"]),
            "#/components/schemas/io.k8s.metrics.pkg.apis.external_metrics."
            "v1beta1.ExternalMetricValueList");
  // Without a hash: no immutable caching; an outdated hash: moved.
  EXPECT_EQ(HeaderOf(Get(kGroupVersionPath), "Cache-Control"), "");
  net::HttpResponse moved = Get(absl::StrCat(kGroupVersionPath, "?hash=OLD"));
  EXPECT_EQ(moved.status, 301);
  EXPECT_EQ(HeaderOf(moved, "Location"), url);
}

TEST_F(ApiDocumentsTest, OtherOpenApiPathsAre404) {
  for (const char* path :
       {"/openapi", "/openapi/v4", "/openapi/v3/apis/apps/v1",
        "/openapi/v3/apis/external.metrics.k8s.io",
        "/openapi/v3/apis/external.metrics.k8s.io/v1beta1/x"}) {
    net::HttpResponse r = Get(path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(JsonText(Json(r.body)["reason"]), "NotFound") << path;
  }
  net::HttpRequest post{.method = "POST", .path = "/openapi/v2"};
  post.headers = {{"x-remote-user", "u"}};
  EXPECT_EQ(
      api_.Handle(post, {.tls = true, .client_cert_verified = true}).status,
      405);
}

}  // namespace
}  // namespace ballast::server
