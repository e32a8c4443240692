// ExternalMetricsApi: routing, authentication and the JSON documents of
// external.metrics.k8s.io/v1beta1. Pure: reads the store, no sockets.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "ballast/core/json.h"
#include "ballast/server/api_documents.h"
#include "ballast/server/external_metrics_server.h"
#include "ballast/server/label_selector.h"
#include "ballast/server/quantity.h"
#include "ballast/server/status_map.h"

namespace ballast::server {

namespace {

constexpr char kJson[] = "application/json";

std::string GroupVersion() {
  return absl::StrCat(kExternalMetricsGroup, "/", kExternalMetricsVersion);
}

void WriteGroupVersionForDiscovery(JsonWriter& w) {
  w.StartObject()
      .Key("groupVersion")
      .String(GroupVersion())
      .Key("version")
      .String(kExternalMetricsVersion)
      .EndObject();
}

// The members of an APIGroup, shared by APIGroup and APIGroupList.
void WriteGroupFields(JsonWriter& w) {
  w.Key("name").String(kExternalMetricsGroup).Key("versions").StartArray();
  WriteGroupVersionForDiscovery(w);
  w.EndArray().Key("preferredVersion");
  WriteGroupVersionForDiscovery(w);
}

net::HttpResponse JsonResponse(std::string body) {
  return {.status = 200, .content_type = kJson, .body = std::move(body)};
}

const std::vector<absl::string_view>& ServedMetrics() {
  return ServedExternalMetrics();
}

void WriteLabels(JsonWriter& w, const Labels& labels) {
  w.StartObject();
  for (const auto& [key, value] : labels) w.Key(key).String(value);
  w.EndObject();
}

std::string LabelsJson(const Labels& labels) {
  JsonWriter w;
  WriteLabels(w, labels);
  return w.Take();
}

// One served item: its labels, value and when the value was read.
struct Item {
  Labels labels;
  std::optional<double> value;
  absl::Time timestamp;
  std::string missing;  // why there is no value (for the 503)
};

void AddRecommendationItem(const std::string& name,
                           const store::TargetState& target,
                           std::vector<Item>* items) {
  Item item{.labels = {{"target", name}}};
  if (target.latest) {
    item.value = target.latest->replicas;
    item.timestamp = target.latest->time;
  } else {
    item.missing =
        absl::StrCat("target \"", name, "\" has no recommendation yet");
  }
  items->push_back(std::move(item));
}

void AddInputItems(const std::string& name, const store::TargetState& target,
                   std::vector<Item>* items) {
  for (const store::InputValue& input : target.inputs) {
    Item item{.labels = {{"input", input.name}, {"target", name}}};
    if (input.value && std::isfinite(*input.value)) {
      item.value = input.value;
      item.timestamp = input.sampled_at;
    } else {
      item.missing = absl::StrCat(
          "input \"", input.name, "\" of target \"", name,
          "\" has no value yet",
          input.error.empty() ? "" : absl::StrCat(": ", input.error));
    }
    items->push_back(std::move(item));
  }
}

// The items of `metric` (every series carries a `target` label), in target
// order: of every target, or of those named in `only` (a name the snapshot
// does not hold is skipped).
std::vector<Item> Items(
    const store::Snapshot& snapshot, absl::string_view metric,
    const std::optional<std::set<std::string, std::less<>>>& only) {
  const auto add = metric == kRecommendedReplicasMetric ? AddRecommendationItem
                                                        : AddInputItems;
  std::vector<Item> items;
  if (!only) {
    for (const auto& [name, target] : snapshot.targets) {
      add(name, target, &items);
    }
    return items;
  }
  for (const std::string& name : *only) {
    if (const auto it = snapshot.targets.find(name);
        it != snapshot.targets.end()) {
      add(it->first, it->second, &items);
    }
  }
  return items;
}

std::string DescribeLabels(const std::vector<Item>& items) {
  if (items.empty()) return "none";
  return absl::StrJoin(items, ", ", [](std::string* out, const Item& item) {
    out->append(LabelsJson(item.labels));
  });
}

std::vector<std::string> SplitPath(absl::string_view path) {
  std::vector<std::string> segments;
  for (absl::string_view s : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    segments.emplace_back(s);
  }
  return segments;
}

}  // namespace

net::HttpResponse StatusResponse(const absl::Status& status) {
  const HttpError error = ToHttpError(status);
  return {.status = error.code,
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
                      .String(status.message())
                      .Key("reason")
                      .String(error.reason)
                      .Key("code")
                      .Int(error.code)
                      .EndObject()
                      .Take()};
}

ExternalMetricsApi::ExternalMetricsApi(const store::RecommendationStore& store,
                                       ExternalMetricsApiOptions options)
    : store_(store),
      options_(std::move(options)),
      request_header_(
          std::make_shared<RequestHeaderConfig>(options_.request_header)) {}

void ExternalMetricsApi::SetRequestHeaderConfig(RequestHeaderConfig config) {
  auto next = std::make_shared<const RequestHeaderConfig>(std::move(config));
  absl::MutexLock lock(&mu_);
  request_header_ = std::move(next);
}

RequestHeaderConfig ExternalMetricsApi::request_header_config() const {
  absl::MutexLock lock(&mu_);
  return *request_header_;
}

absl::string_view ExternalMetricsApi::PathKind(absl::string_view path) {
  const std::vector<std::string> segments = SplitPath(path);
  if (segments.size() == 1 &&
      (segments[0] == "healthz" || segments[0] == "livez" ||
       segments[0] == "readyz")) {
    return "health";
  }
  if (!segments.empty() && segments[0] == "openapi") return "openapi";
  if (segments.empty() || segments[0] != "apis") return "other";
  if (segments.size() <= 3) return "discovery";
  return segments.size() == 6 ? "metric" : "other";
}

absl::StatusOr<RemoteUser> ExternalMetricsApi::Authenticate(
    const net::HttpRequest& request, const net::PeerInfo& peer) const {
  if (options_.trust_all_clients_for_benchmark) {
    return RemoteUser{.name = "benchmark"};
  }
  if (!peer.client_cert_verified) {
    return absl::UnauthenticatedError(
        "a client certificate signed by the request-header CA is required");
  }
  std::shared_ptr<const RequestHeaderConfig> config;
  {
    absl::MutexLock lock(&mu_);
    config = request_header_;
  }
  const std::vector<std::string>& allowed = config->allowed_names;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(),
                                    peer.client_common_name) == allowed.end()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "client certificate common name \"", peer.client_common_name,
        "\" is not one of the request-header allowed names"));
  }
  return UserFromHeaders(request, *config);
}

std::optional<net::HttpResponse> ExternalMetricsApi::Unauthenticated(
    const net::HttpRequest& request) const {
  const absl::string_view kind = PathKind(request.path);
  if (kind == "health") return net::HttpResponse{.status = 200, .body = "ok"};
  return std::nullopt;
}

net::HttpResponse ExternalMetricsApi::Handle(const net::HttpRequest& request,
                                             const net::PeerInfo& peer) const {
  if (std::optional<net::HttpResponse> open = Unauthenticated(request)) {
    return *std::move(open);
  }
  absl::StatusOr<RemoteUser> user = Authenticate(request, peer);
  if (!user.ok()) return StatusResponse(user.status());
  return Serve(request);
}

net::HttpResponse ExternalMetricsApi::Serve(
    const net::HttpRequest& request) const {
  if (request.method != "GET") {
    return StatusResponse(absl::UnimplementedError(absl::StrCat(
        "method ", request.method, " is not supported; this API is GET only")));
  }
  std::vector<std::string> segments;
  for (const std::string& raw : SplitPath(request.path)) {
    absl::StatusOr<std::string> segment = net::DecodePathSegment(raw);
    if (!segment.ok()) return StatusResponse(segment.status());
    segments.push_back(*std::move(segment));
  }
  return Route(request, segments);
}

net::HttpResponse ExternalMetricsApi::Route(
    const net::HttpRequest& request,
    const std::vector<std::string>& segments) const {
  const bool in_group = segments.size() >= 2 && segments[0] == "apis" &&
                        segments[1] == kExternalMetricsGroup;
  const bool in_version = in_group && segments.size() >= 3 &&
                          segments[2] == kExternalMetricsVersion;
  if (!segments.empty() && segments[0] == "openapi") {
    return ServeOpenApi(request, segments);
  }
  if (segments.size() == 1 && segments[0] == "apis") {
    const std::string accept = request.Header("accept").value_or("");
    const std::optional<DiscoveryFormat> format = NegotiateDiscovery(accept);
    if (!format) {
      return NotAcceptable(accept,
                           absl::StrCat("application/json, ",
                                        AggregatedDiscoveryContentType(
                                            DiscoveryFormat::kAggregatedV2)));
    }
    if (*format != DiscoveryFormat::kLegacy) {
      return WithETag(request, AggregatedDiscoveryJson(*format),
                      AggregatedDiscoveryContentType(*format));
    }
    JsonWriter w;
    w.StartObject()
        .Key("kind")
        .String("APIGroupList")
        .Key("apiVersion")
        .String("v1")
        .Key("groups")
        .StartArray()
        .StartObject();
    WriteGroupFields(w);
    return JsonResponse(w.EndObject().EndArray().EndObject().Take());
  }
  if (in_group && segments.size() == 2) {
    JsonWriter w;
    w.StartObject()
        .Key("kind")
        .String("APIGroup")
        .Key("apiVersion")
        .String("v1");
    WriteGroupFields(w);
    return JsonResponse(w.EndObject().Take());
  }
  if (in_version && segments.size() == 3) {
    JsonWriter w;
    w.StartObject()
        .Key("kind")
        .String("APIResourceList")
        .Key("apiVersion")
        .String("v1")
        .Key("groupVersion")
        .String(GroupVersion())
        .Key("resources")
        .StartArray();
    for (absl::string_view name : ServedMetrics()) {
      w.StartObject()
          .Key("name")
          .String(name)
          .Key("singularName")
          .String("")
          .Key("namespaced")
          .Bool(true)
          .Key("kind")
          .String("ExternalMetricValueList")
          .Key("verbs")
          .StartArray()
          .String("get")
          .EndArray()
          .EndObject();
    }
    return JsonResponse(w.EndArray().EndObject().Take());
  }
  if (in_version && segments.size() == 6 && segments[3] == "namespaces") {
    return Metric(segments[5], request.query);
  }
  return StatusResponse(absl::NotFoundError(absl::StrCat(
      "the server could not find the requested resource ", request.path)));
}

net::HttpResponse ExternalMetricsApi::Metric(absl::string_view metric,
                                             absl::string_view query) const {
  const std::string name = absl::AsciiStrToLower(metric);
  if (name != kRecommendedReplicasMetric && name != kInputMetric) {
    return StatusResponse(absl::NotFoundError(absl::StrCat(
        "no external metric \"", metric,
        "\"; served metrics: ", absl::StrJoin(ServedMetrics(), ", "))));
  }
  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> params =
      net::ParseQuery(query);
  if (!params.ok()) return StatusResponse(params.status());
  LabelSelector selector;
  for (const auto& [key, value] : *params) {
    if (key != "labelSelector") continue;
    absl::StatusOr<LabelSelector> parsed = LabelSelector::Parse(value);
    if (!parsed.ok()) return StatusResponse(parsed.status());
    selector = *std::move(parsed);
    break;  // the first one, as Kubernetes' query decoding does
  }
  const std::shared_ptr<const store::Snapshot> snapshot = store_.Current();
  if (snapshot->generation == 0) {
    return StatusResponse(
        absl::UnavailableError("no recommendations have been computed yet"));
  }
  // A selector that names its targets (`target=asr`, `target in (a,b)`: what
  // the HPA sends for a metric selector with matchLabels on target) is
  // answered from those targets alone, looked up by name; any other from
  // every target. The same series either way: an item outside the named
  // targets cannot match, and every candidate still passes Matches.
  const std::vector<Item> candidates =
      Items(*snapshot, name, selector.RequiredValues("target"));
  std::vector<const Item*> matched;
  for (const Item& item : candidates) {
    if (selector.Matches(item.labels)) matched.push_back(&item);
  }
  if (matched.empty()) {
    return StatusResponse(absl::NotFoundError(absl::StrCat(
        "no series of ", name, " matches labelSelector \"", selector.ToString(),
        "\"; known: ", DescribeLabels(Items(*snapshot, name, std::nullopt)))));
  }
  std::vector<std::string> missing;
  JsonWriter w;
  w.StartObject()
      .Key("kind")
      .String("ExternalMetricValueList")
      .Key("apiVersion")
      .String(GroupVersion())
      .Key("metadata")
      .StartObject()
      .EndObject()
      .Key("items")
      .StartArray();
  for (const Item* item : matched) {
    if (!item->value) {
      missing.push_back(item->missing);
      continue;
    }
    absl::StatusOr<std::string> value = FormatQuantity(*item->value);
    if (!value.ok())
      return StatusResponse(absl::UnavailableError(value.status().message()));
    w.StartObject().Key("metricName").String(name).Key("metricLabels");
    WriteLabels(w, item->labels);
    w.Key("timestamp")
        .String(absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", item->timestamp,
                                 absl::UTCTimeZone()))
        .Key("window")
        .Int(options_.window_seconds)
        .Key("value")
        .String(*value)
        .EndObject();
  }
  if (!missing.empty()) {
    return StatusResponse(absl::UnavailableError(absl::StrJoin(missing, "; ")));
  }
  return JsonResponse(w.EndArray().EndObject().Take());
}

}  // namespace ballast::server
