// Aggregated discovery, OpenAPI v2 and v3 documents and their content
// negotiation (see the header).
#include "ballast/server/api_documents.h"

#include <openssl/sha.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ballast/core/json.h"
#include "ballast/server/external_metrics_server.h"

namespace ballast::server {
namespace {

constexpr char kJson[] = "application/json";
constexpr char kKind[] = "ExternalMetricValueList";
constexpr char kDiscoveryGroup[] = "apidiscovery.k8s.io";
constexpr char kDiscoveryKind[] = "APIGroupDiscoveryList";

// OpenAPI model names: k8s.io/metrics' and k8s.io/apimachinery's.
constexpr char kValueListModel[] =
    "io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValueList";
constexpr char kValueModel[] =
    "io.k8s.metrics.pkg.apis.external_metrics.v1beta1.ExternalMetricValue";
constexpr char kListMetaModel[] =
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
constexpr char kTimeModel[] = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
constexpr char kQuantityModel[] =
    "io.k8s.apimachinery.pkg.api.resource.Quantity";
constexpr char kResourceListModel[] =
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList";
constexpr char kResourceModel[] =
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResource";

std::string GroupVersion() {
  return absl::StrCat(kExternalMetricsGroup, "/", kExternalMetricsVersion);
}

std::string VersionPath() { return absl::StrCat("/apis/", GroupVersion()); }

bool IsJsonRange(const MediaRange& r) {
  return (r.type == "application" || r.type == "*") &&
         (r.subtype == "json" || r.subtype == "*");
}

std::string BuildAggregatedDiscovery(absl::string_view version) {
  JsonWriter w;
  w.StartObject()
      .Key("kind")
      .String(kDiscoveryKind)
      .Key("apiVersion")
      .String(absl::StrCat(kDiscoveryGroup, "/", version))
      .Key("metadata")
      .StartObject()
      .EndObject()
      .Key("items")
      .StartArray()
      .StartObject()
      .Key("metadata")
      .StartObject()
      .Key("name")
      .String(kExternalMetricsGroup)
      .EndObject()
      .Key("versions")
      .StartArray()
      .StartObject()
      .Key("version")
      .String(kExternalMetricsVersion)
      .Key("resources")
      .StartArray();
  for (absl::string_view metric : ServedExternalMetrics()) {
    w.StartObject()
        .Key("resource")
        .String(metric)
        .Key("responseKind")
        .StartObject()
        .Key("group")
        .String(kExternalMetricsGroup)
        .Key("version")
        .String(kExternalMetricsVersion)
        .Key("kind")
        .String(kKind)
        .EndObject()
        .Key("scope")
        .String("Namespaced")
        .Key("singularResource")
        .String("")
        .Key("verbs")
        .StartArray()
        .String("get")
        .EndArray()
        .EndObject();
  }
  return w.EndArray()
      .Key("freshness")
      .String("Current")
      .EndObject()
      .EndArray()
      .EndObject()
      .EndArray()
      .EndObject()
      .Take();
}

// The Swagger 2.0 and OpenAPI 3.0 documents differ in where schemas live,
// how parameters carry their type and how a response names its body.
class OpenApiBuilder {
 public:
  explicit OpenApiBuilder(bool v3) : v3_(v3) {}

  std::string Build() {
    w_.StartObject();
    if (v3_) {
      w_.Key("openapi").String("3.0.0");
    } else {
      w_.Key("swagger").String("2.0");
    }
    w_.Key("info")
        .StartObject()
        .Key("title")
        .String("ballast external metrics API")
        .Key("version")
        .String(GroupVersion())
        .EndObject();
    w_.Key("paths").StartObject();
    DiscoveryPath();
    for (absl::string_view metric : ServedExternalMetrics()) MetricPath(metric);
    w_.EndObject();
    w_.Key(v3_ ? "components" : "definitions").StartObject();
    if (v3_) w_.Key("schemas").StartObject();
    Schemas();
    if (v3_) w_.EndObject();
    w_.EndObject();
    return w_.EndObject().Take();
  }

 private:
  std::string Ref(absl::string_view model) const {
    return absl::StrCat(v3_ ? "#/components/schemas/" : "#/definitions/",
                        model);
  }

  void RefSchema(absl::string_view model) {
    w_.StartObject().Key("$ref").String(Ref(model)).EndObject();
  }

  void Responses(absl::string_view model) {
    w_.Key("responses")
        .StartObject()
        .Key("200")
        .StartObject()
        .Key("description")
        .String("OK");
    if (v3_) {
      w_.Key("content").StartObject().Key(kJson).StartObject().Key("schema");
      RefSchema(model);
      w_.EndObject().EndObject();
    } else {
      w_.Key("schema");
      RefSchema(model);
    }
    w_.EndObject()
        .Key("401")
        .StartObject()
        .Key("description")
        .String("Unauthorized")
        .EndObject()
        .EndObject();
  }

  void Operation(absl::string_view id, absl::string_view description) {
    w_.Key("description")
        .String(description)
        .Key("operationId")
        .String(id)
        .Key("tags")
        .StartArray()
        .String("externalMetrics_v1beta1")
        .EndArray();
    if (!v3_) {
      w_.Key("produces")
          .StartArray()
          .String(kJson)
          .EndArray()
          .Key("schemes")
          .StartArray()
          .String("https")
          .EndArray();
    }
  }

  void Parameter(absl::string_view name, absl::string_view in, bool required,
                 absl::string_view description) {
    w_.StartObject()
        .Key("name")
        .String(name)
        .Key("in")
        .String(in)
        .Key("description")
        .String(description);
    if (required) w_.Key("required").Bool(true);
    if (v3_) {
      w_.Key("schema").StartObject().Key("type").String("string").EndObject();
    } else {
      w_.Key("type").String("string");
    }
    w_.EndObject();
  }

  void DiscoveryPath() {
    w_.Key(absl::StrCat(VersionPath(), "/")).StartObject().Key("get");
    w_.StartObject();
    Operation("getExternalMetricsBallastV1beta1APIResources",
              "the metrics this server serves (discovery)");
    Responses(kResourceListModel);
    w_.EndObject().EndObject();
  }

  void MetricPath(absl::string_view metric) {
    w_.Key(absl::StrCat(VersionPath(), "/namespaces/{namespace}/", metric))
        .StartObject()
        .Key("get")
        .StartObject();
    std::string id = "listExternalMetricsBallastV1beta1Namespaced";
    for (absl::string_view part : absl::StrSplit(metric, '_')) {
      if (part.empty()) continue;
      absl::StrAppend(&id, absl::AsciiStrToUpper(part.substr(0, 1)),
                      part.substr(1));
    }
    Operation(id, absl::StrCat("the values of ", metric,
                               " whose labels match the labelSelector"));
    w_.Key("parameters").StartArray();
    Parameter("labelSelector", "query", false,
              "which series to return, by their labels (target, input)");
    w_.EndArray()
        .Key("x-kubernetes-action")
        .String("list")
        .Key("x-kubernetes-group-version-kind")
        .StartObject()
        .Key("group")
        .String(kExternalMetricsGroup)
        .Key("version")
        .String(kExternalMetricsVersion)
        .Key("kind")
        .String(kKind)
        .EndObject();
    Responses(kValueListModel);
    w_.EndObject().Key("parameters").StartArray();
    Parameter("namespace", "path", true,
              "any namespace: ballast's targets are cluster-wide");
    w_.EndArray().EndObject();
  }

  void StringProperty(absl::string_view name, absl::string_view description,
                      absl::string_view format = "") {
    w_.Key(name)
        .StartObject()
        .Key("description")
        .String(description)
        .Key("type")
        .String("string");
    if (!format.empty()) w_.Key("format").String(format);
    w_.EndObject();
  }

  void RefProperty(absl::string_view name, absl::string_view model,
                   absl::string_view description) {
    // A $ref has no siblings in OpenAPI: the description goes beside an
    // allOf, as Kubernetes' own v3 documents do.
    w_.Key(name).StartObject().Key("description").String(description);
    w_.Key("allOf").StartArray();
    RefSchema(model);
    w_.EndArray().EndObject();
  }

  void TypeMeta() {
    StringProperty("apiVersion",
                   "the schema of this object: external.metrics.k8s.io/"
                   "v1beta1");
    StringProperty("kind", "the kind of this object");
  }

  void Required(std::initializer_list<absl::string_view> names) {
    w_.Key("required").StartArray();
    for (absl::string_view n : names) w_.String(n);
    w_.EndArray();
  }

  void Schemas() {
    w_.Key(kValueListModel)
        .StartObject()
        .Key("description")
        .String(
            "The values of one external metric, one item per series the "
            "labelSelector matched.")
        .Key("type")
        .String("object");
    Required({"items"});
    w_.Key("properties").StartObject();
    TypeMeta();
    RefProperty("metadata", kListMetaModel, "list metadata (empty)");
    w_.Key("items")
        .StartObject()
        .Key("description")
        .String("one value per matching series")
        .Key("type")
        .String("array")
        .Key("items");
    RefSchema(kValueModel);
    w_.EndObject().EndObject();
    w_.Key("x-kubernetes-group-version-kind")
        .StartArray()
        .StartObject()
        .Key("group")
        .String(kExternalMetricsGroup)
        .Key("kind")
        .String(kKind)
        .Key("version")
        .String(kExternalMetricsVersion)
        .EndObject()
        .EndArray()
        .EndObject();

    w_.Key(kValueModel)
        .StartObject()
        .Key("description")
        .String(
            "One series of an external metric: its name, labels, value and "
            "when the value was read.")
        .Key("type")
        .String("object");
    Required({"metricName", "metricLabels", "timestamp", "value"});
    w_.Key("properties").StartObject();
    TypeMeta();
    StringProperty("metricName", "the metric's name");
    w_.Key("metricLabels")
        .StartObject()
        .Key("description")
        .String(
            "the labels of this series (target, and input for "
            "ballast_input)")
        .Key("type")
        .String("object")
        .Key("additionalProperties")
        .StartObject()
        .Key("type")
        .String("string")
        .EndObject()
        .EndObject();
    RefProperty("timestamp", kTimeModel, "when the value was read");
    w_.Key("window")
        .StartObject()
        .Key("description")
        .String("seconds between ballast's polls of its inputs")
        .Key("type")
        .String("integer")
        .Key("format")
        .String("int64")
        .EndObject();
    RefProperty("value", kQuantityModel, "the value, a Kubernetes quantity");
    w_.EndObject().EndObject();

    w_.Key(kListMetaModel)
        .StartObject()
        .Key("description")
        .String("Metadata of a list.")
        .Key("type")
        .String("object")
        .Key("properties")
        .StartObject();
    StringProperty("continue", "the token of the next page, if any");
    w_.Key("remainingItemCount")
        .StartObject()
        .Key("description")
        .String("items after this page, if known")
        .Key("type")
        .String("integer")
        .Key("format")
        .String("int64")
        .EndObject();
    StringProperty("resourceVersion", "the version of the list");
    StringProperty("selfLink", "unused");
    w_.EndObject().EndObject();

    w_.Key(kTimeModel)
        .StartObject()
        .Key("description")
        .String("A time in RFC 3339 form, to the second.")
        .Key("type")
        .String("string")
        .Key("format")
        .String("date-time")
        .EndObject();
    w_.Key(kQuantityModel)
        .StartObject()
        .Key("description")
        .String(
            "A fixed-point number with an optional suffix (\"3\", "
            "\"1500m\", \"2Ki\").")
        .Key("type")
        .String("string")
        .EndObject();

    w_.Key(kResourceListModel)
        .StartObject()
        .Key("description")
        .String("The resources of one group-version.")
        .Key("type")
        .String("object");
    Required({"groupVersion", "resources"});
    w_.Key("properties").StartObject();
    TypeMeta();
    StringProperty("groupVersion", "the group-version listed");
    w_.Key("resources")
        .StartObject()
        .Key("description")
        .String("its resources")
        .Key("type")
        .String("array")
        .Key("items");
    RefSchema(kResourceModel);
    w_.EndObject().EndObject().EndObject();

    w_.Key(kResourceModel)
        .StartObject()
        .Key("description")
        .String("One resource of a group-version.")
        .Key("type")
        .String("object");
    Required({"name", "singularName", "namespaced", "kind", "verbs"});
    w_.Key("properties").StartObject();
    StringProperty("name", "the plural name (here, the metric's)");
    StringProperty("singularName", "the singular name");
    w_.Key("namespaced")
        .StartObject()
        .Key("description")
        .String("whether the resource is namespaced")
        .Key("type")
        .String("boolean")
        .EndObject();
    StringProperty("group", "the group of the response, when not this one");
    StringProperty("version", "the version of the response, when not this one");
    StringProperty("kind", "the kind of the response");
    for (absl::string_view list : {"verbs", "shortNames", "categories"}) {
      w_.Key(list)
          .StartObject()
          .Key("description")
          .String(absl::StrCat("the resource's ", list))
          .Key("type")
          .String("array")
          .Key("items")
          .StartObject()
          .Key("type")
          .String("string")
          .EndObject()
          .EndObject();
    }
    StringProperty("storageVersionHash", "unused");
    w_.EndObject().EndObject();
  }

  const bool v3_;
  JsonWriter w_;
};

std::string BuildOpenApiV3Root() {
  return JsonWriter()
      .StartObject()
      .Key("paths")
      .StartObject()
      .Key(OpenApiV3GroupVersionKey())
      .StartObject()
      .Key("serverRelativeURL")
      .String(absl::StrCat("/openapi/v3/", OpenApiV3GroupVersionKey(),
                           "?hash=", BodyHash(OpenApiV3GroupVersionJson())))
      .EndObject()
      .EndObject()
      .EndObject()
      .Take();
}

net::HttpResponse NotFound(absl::string_view path) {
  return StatusResponse(absl::NotFoundError(
      absl::StrCat("the server could not find the requested resource ", path)));
}

std::optional<std::string> QueryValue(absl::string_view query,
                                      absl::string_view key) {
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      net::ParseQuery(query);
  if (!params.ok()) return std::nullopt;
  for (const auto& [k, v] : *params) {
    if (k == key) return v;
  }
  return std::nullopt;
}

}  // namespace

const std::vector<absl::string_view>& ServedExternalMetrics() {
  static const auto* const kMetrics = new std::vector<absl::string_view>{
      kRecommendedReplicasMetric, kInputMetric};
  return *kMetrics;
}

std::vector<MediaRange> ParseAccept(absl::string_view accept) {
  std::vector<MediaRange> ranges;
  for (absl::string_view clause : absl::StrSplit(accept, ',')) {
    std::vector<absl::string_view> parts = absl::StrSplit(clause, ';');
    absl::string_view media = absl::StripAsciiWhitespace(parts[0]);
    const size_t slash = media.find('/');
    if (slash == absl::string_view::npos || slash == 0 ||
        slash + 1 == media.size() ||
        media.find('/', slash + 1) != absl::string_view::npos) {
      continue;  // empty or malformed
    }
    MediaRange range{.type = absl::AsciiStrToLower(media.substr(0, slash)),
                     .subtype = absl::AsciiStrToLower(media.substr(slash + 1))};
    bool ok = true;
    for (size_t i = 1; i < parts.size(); ++i) {
      absl::string_view param = absl::StripAsciiWhitespace(parts[i]);
      if (param.empty()) continue;
      const size_t eq = param.find('=');
      if (eq == absl::string_view::npos || eq == 0) {
        ok = false;
        break;
      }
      std::string name = absl::AsciiStrToLower(
          absl::StripAsciiWhitespace(param.substr(0, eq)));
      absl::string_view value =
          absl::StripAsciiWhitespace(param.substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (name == "q") {
        if (!absl::SimpleAtod(value, &range.q) || range.q < 0 || range.q > 1) {
          ok = false;
          break;
        }
        continue;
      }
      range.params[name] = std::string(value);
    }
    if (!ok || range.q <= 0) continue;
    ranges.push_back(std::move(range));
  }
  std::stable_sort(
      ranges.begin(), ranges.end(),
      [](const MediaRange& a, const MediaRange& b) { return a.q > b.q; });
  return ranges;
}

std::optional<DiscoveryFormat> NegotiateDiscovery(absl::string_view accept) {
  if (absl::StripAsciiWhitespace(accept).empty()) {
    return DiscoveryFormat::kLegacy;
  }
  for (const MediaRange& r : ParseAccept(accept)) {
    if (!IsJsonRange(r)) continue;  // protobuf, YAML, ...: not served
    const bool transform = r.params.contains("g") || r.params.contains("v") ||
                           r.params.contains("as");
    if (!transform) return DiscoveryFormat::kLegacy;
    auto param = [&r](const char* name) {
      auto it = r.params.find(name);
      return it == r.params.end() ? std::string() : it->second;
    };
    if (param("g") != kDiscoveryGroup || param("as") != kDiscoveryKind) {
      continue;
    }
    if (param("v") == "v2") return DiscoveryFormat::kAggregatedV2;
    if (param("v") == "v2beta1") return DiscoveryFormat::kAggregatedV2Beta1;
  }
  return std::nullopt;
}

bool AcceptsJson(absl::string_view accept) {
  if (absl::StripAsciiWhitespace(accept).empty()) return true;
  for (const MediaRange& r : ParseAccept(accept)) {
    if (IsJsonRange(r)) return true;
  }
  return false;
}

const std::string& AggregatedDiscoveryJson(DiscoveryFormat format) {
  static const auto* const kV2 =
      new std::string(BuildAggregatedDiscovery("v2"));
  static const auto* const kV2Beta1 =
      new std::string(BuildAggregatedDiscovery("v2beta1"));
  return format == DiscoveryFormat::kAggregatedV2Beta1 ? *kV2Beta1 : *kV2;
}

std::string AggregatedDiscoveryContentType(DiscoveryFormat format) {
  return absl::StrCat(
      kJson, ";g=", kDiscoveryGroup,
      ";v=", format == DiscoveryFormat::kAggregatedV2Beta1 ? "v2beta1" : "v2",
      ";as=", kDiscoveryKind);
}

const std::string& OpenApiV2Json() {
  static const auto* const kDoc =
      new std::string(OpenApiBuilder(false).Build());
  return *kDoc;
}

const std::string& OpenApiV3GroupVersionJson() {
  static const auto* const kDoc = new std::string(OpenApiBuilder(true).Build());
  return *kDoc;
}

const std::string& OpenApiV3RootJson() {
  static const auto* const kDoc = new std::string(BuildOpenApiV3Root());
  return *kDoc;
}

std::string OpenApiV3GroupVersionKey() {
  return absl::StrCat("apis/", GroupVersion());
}

std::string BodyHash(absl::string_view body) {
  unsigned char digest[SHA512_DIGEST_LENGTH];
  SHA512(reinterpret_cast<const unsigned char*>(body.data()), body.size(),
         digest);
  return absl::AsciiStrToUpper(absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest), sizeof(digest))));
}

net::HttpResponse WithETag(const net::HttpRequest& request, std::string body,
                           std::string content_type) {
  const std::string etag = absl::StrCat("\"", BodyHash(body), "\"");
  net::HttpResponse response{.status = 200,
                             .content_type = std::move(content_type),
                             .body = std::move(body)};
  response.headers = {{"ETag", etag}, {"Vary", "Accept"}};
  for (const std::string& value : request.HeaderValues("if-none-match")) {
    for (absl::string_view tag : absl::StrSplit(value, ',')) {
      if (absl::StripAsciiWhitespace(tag) == etag) {
        response.status = 304;
        response.body.clear();
        return response;
      }
    }
  }
  return response;
}

net::HttpResponse NotAcceptable(absl::string_view accept,
                                absl::string_view served) {
  return {
      .status = 406,
      .content_type = kJson,
      .body = JsonWriter()
                  .StartObject()
                  .Key("kind")
                  .String("Status")
                  .Key("apiVersion")
                  .String("v1")
                  .Key("metadata")
                  .StartObject()
                  .EndObject()
                  .Key("status")
                  .String("Failure")
                  .Key("message")
                  .String(absl::StrCat("none of the media types accepted (",
                                       accept, ") is served; served: ", served))
                  .Key("reason")
                  .String("NotAcceptable")
                  .Key("code")
                  .Int(406)
                  .EndObject()
                  .Take()};
}

net::HttpResponse ServeOpenApi(const net::HttpRequest& request,
                               const std::vector<std::string>& segments) {
  const std::string accept = request.Header("accept").value_or("");
  const bool v2 = segments.size() == 2 && segments[1] == "v2";
  const bool v3_root = segments.size() == 2 && segments[1] == "v3";
  const bool v3_group_version = segments.size() == 5 && segments[1] == "v3" &&
                                segments[2] == "apis" &&
                                segments[3] == kExternalMetricsGroup &&
                                segments[4] == kExternalMetricsVersion;
  if (!v2 && !v3_root && !v3_group_version) return NotFound(request.path);
  if (!AcceptsJson(accept)) return NotAcceptable(accept, kJson);
  if (v2) return WithETag(request, OpenApiV2Json(), kJson);
  if (v3_root) return WithETag(request, OpenApiV3RootJson(), kJson);
  const std::string& doc = OpenApiV3GroupVersionJson();
  const std::string hash = BodyHash(doc);
  std::optional<std::string> asked = QueryValue(request.query, "hash");
  if (asked && !asked->empty() && *asked != hash) {
    // As kube-openapi: an outdated hash is sent to the current document.
    const std::string location = absl::StrCat(
        "/openapi/v3/", OpenApiV3GroupVersionKey(), "?hash=", hash);
    net::HttpResponse moved{.status = 301,
                            .content_type = "text/plain; charset=utf-8",
                            .body = absl::StrCat("moved to ", location, "\n")};
    moved.headers = {{"Location", location}};
    return moved;
  }
  net::HttpResponse response = WithETag(request, doc, kJson);
  if (asked && !asked->empty()) {
    // The hash names this content: it may be cached for good.
    response.headers.emplace_back("Cache-Control", "public, immutable");
  }
  return response;
}

}  // namespace ballast::server
