// ExternalMetricsApi against hand-made snapshots: routing, authentication
// and every JSON document, checked field by field.
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/server/external_metrics_server.h"
#include "ballast/server/label_selector.h"
#include "ballast/server/telemetry_server.h"
#include "rapidjson/document.h"
// Shared with the HTTPS integration tests.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/external_metrics/json_checks.h"

namespace ballast::server {
namespace {

using ::testing::HasSubstr;

constexpr char kBase[] =
    "/apis/external.metrics.k8s.io/v1beta1/namespaces/default/";

store::TargetState Target(const std::string& name,
                          std::optional<int32_t> replicas) {
  store::TargetState t = testing::MetricTarget(name, replicas, 1.5);
  t.inputs.push_back({.name = "latency", .error = "connection refused"});
  return t;
}

// {"input":"x","target":"y"}: keys in order, as the API writes them.
std::string LabelsJson(const Labels& labels) {
  JsonWriter w;
  w.StartObject();
  for (const auto& [key, value] : labels) w.Key(key).String(value);
  w.EndObject();
  return w.Take();
}

std::string LabelsJsonOf(const rapidjson::Value& object) {
  Labels labels;
  for (const auto& m : object.GetObject()) {
    labels[m.name.GetString()] = m.value.GetString();
  }
  return LabelsJson(labels);
}

// Percent-escapes every byte but [A-Za-z0-9-_.~].
std::string UrlEscape(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "%", absl::Hex(c, absl::kZeroPad2));
    }
  }
  return out;
}

class ExternalMetricsApiTest : public ::testing::Test {
 protected:
  ExternalMetricsApiTest()
      : api_(store_,
             {.window_seconds = 15,
              .request_header = {.allowed_names = {"front-proxy-client"}}}) {}

  void Publish(std::vector<store::TargetState> targets) {
    testing::PublishTargets(store_, std::move(targets));
  }

  net::HttpResponse Get(const std::string& target, net::PeerInfo peer) {
    net::HttpRequest r{.method = "GET", .target = target};
    r.headers = {{"x-remote-user", "system:serviceaccount:kube-system:hpa"}};
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    return api_.Handle(r, peer);
  }
  net::HttpResponse Get(const std::string& target) {
    return Get(target, Proxy());
  }

  static net::PeerInfo Proxy() {
    return {.tls = true,
            .client_cert_verified = true,
            .client_common_name = "front-proxy-client"};
  }

  static rapidjson::Document Parse(const net::HttpResponse& r) {
    return testing::ParseJsonBody(r.content_type, r.body);
  }

  static std::string Str(const rapidjson::Value& j, absl::string_view key) {
    return testing::JsonStr(j, key);
  }

  // Checks a Status document and returns its message.
  static std::string ExpectStatus(const net::HttpResponse& r, int code,
                                  const std::string& reason) {
    return testing::ExpectStatusBody(r.status, r.content_type, r.body, code,
                                     reason);
  }

  store::RecommendationStore store_;
  ExternalMetricsApi api_;
};

TEST_F(ExternalMetricsApiTest, ServesDiscoveryDocuments) {
  rapidjson::Document list = Parse(Get("/apis"));
  EXPECT_EQ(Str(list, "kind"), "APIGroupList");
  EXPECT_EQ(Str(list, "apiVersion"), "v1");
  const rapidjson::Value& groups = *JsonFind(list, "groups");
  ASSERT_EQ(groups.GetArray().Size(), 1u);
  const rapidjson::Value& group = groups.GetArray()[0];
  EXPECT_EQ(Str(group, "name"), "external.metrics.k8s.io");
  ASSERT_EQ(JsonFind(group, "versions")->GetArray().Size(), 1u);
  EXPECT_EQ(Str(JsonFind(group, "versions")->GetArray()[0], "groupVersion"),
            "external.metrics.k8s.io/v1beta1");
  EXPECT_EQ(Str(JsonFind(group, "versions")->GetArray()[0], "version"),
            "v1beta1");
  EXPECT_EQ(Str(*JsonFind(group, "preferredVersion"), "groupVersion"),
            "external.metrics.k8s.io/v1beta1");

  rapidjson::Document g = Parse(Get("/apis/external.metrics.k8s.io"));
  EXPECT_EQ(Str(g, "kind"), "APIGroup");
  EXPECT_EQ(Str(g, "apiVersion"), "v1");
  EXPECT_EQ(Str(g, "name"), "external.metrics.k8s.io");
  EXPECT_EQ(Str(*JsonFind(g, "preferredVersion"), "version"), "v1beta1");

  net::HttpResponse r = Get("/apis/external.metrics.k8s.io/v1beta1/");
  EXPECT_EQ(r.status, 200);
  rapidjson::Document rl = Parse(r);
  EXPECT_EQ(Str(rl, "kind"), "APIResourceList");
  EXPECT_EQ(Str(rl, "apiVersion"), "v1");
  EXPECT_EQ(Str(rl, "groupVersion"), "external.metrics.k8s.io/v1beta1");
  const auto resources = JsonFind(rl, "resources")->GetArray();
  ASSERT_EQ(resources.Size(), 2u);
  EXPECT_EQ(Str(resources[0], "name"), "ballast_recommended_replicas");
  EXPECT_EQ(Str(resources[1], "name"), "ballast_input");
  for (const rapidjson::Value& res : resources) {
    EXPECT_EQ(Str(res, "singularName"), "");
    EXPECT_TRUE(JsonFind(res, "namespaced")->GetBool());
    EXPECT_EQ(Str(res, "kind"), "ExternalMetricValueList");
    ASSERT_EQ(JsonFind(res, "verbs")->GetArray().Size(), 1u);
    EXPECT_EQ(JsonText(JsonFind(res, "verbs")->GetArray()[0]), "get");
  }
}

TEST_F(ExternalMetricsApiTest, ServesRecommendedReplicasFieldByField) {
  Publish({Target("asr", 7), Target("tts", 3)});
  net::HttpResponse r =
      Get(std::string(kBase) +
          "ballast_recommended_replicas?labelSelector=target%3Dasr");
  ASSERT_EQ(r.status, 200) << r.body;
  rapidjson::Document j = Parse(r);
  const auto items = testing::MetricValueItems(j);
  ASSERT_EQ(items.Size(), 1u);
  const rapidjson::Value& item = items[0];
  EXPECT_EQ(Str(item, "metricName"), "ballast_recommended_replicas");
  const auto labels = JsonFind(item, "metricLabels")->GetObject();
  ASSERT_EQ(labels.MemberCount(), 1u);
  EXPECT_EQ(JsonText(labels.begin()->name), "target");
  EXPECT_EQ(JsonText(labels.begin()->value), "asr");
  EXPECT_EQ(Str(item, "timestamp"), "2026-09-21T14:13:35Z");
  EXPECT_EQ(JsonFind(item, "window")->GetDouble(), 15);
  EXPECT_EQ(Str(item, "value"), "7");
}

TEST_F(ExternalMetricsApiTest, SelectorFormsChooseTargets) {
  Publish({Target("asr", 7), Target("tts", 3), Target("vad", 2)});
  struct Case {
    const char* query;
    std::vector<std::string> targets;
  };
  const Case cases[] = {
      {"", {"asr", "tts", "vad"}},
      {"?labelSelector=target%3D%3Dtts", {"tts"}},
      {"?labelSelector=target%21%3Dtts", {"asr", "vad"}},
      {"?labelSelector=target+in+%28asr%2Cvad%29", {"asr", "vad"}},
      {"?labelSelector=target+notin+%28asr%2C+vad%29", {"tts"}},
      {"?labelSelector=target", {"asr", "tts", "vad"}},
      {"?labelSelector=target%2C%21input", {"asr", "tts", "vad"}},
  };
  for (const Case& c : cases) {
    net::HttpResponse r =
        Get(absl::StrCat(kBase, "ballast_recommended_replicas", c.query));
    ASSERT_EQ(r.status, 200) << c.query << ": " << r.body;
    std::vector<std::string> got;
    const rapidjson::Document doc = Parse(r);
    for (const rapidjson::Value& item : JsonFind(doc, "items")->GetArray()) {
      got.emplace_back(
          JsonText(*JsonFind(*JsonFind(item, "metricLabels"), "target")));
    }
    EXPECT_EQ(got, c.targets) << c.query;
  }
}

// Selectors that name their targets are answered by looking the targets up;
// every other selector by testing every target. Both must serve exactly the
// series that LabelSelector::Matches picks out of all of them, in target
// order, with the same errors.
TEST_F(ExternalMetricsApiTest, NamedTargetsServeWhatMatchingEveryTargetDoes) {
  // Series without a value (no recommendation yet, an input never read)
  // make a 503 where they match.
  struct Served {
    std::string name;
    bool has_recommendation;
    std::vector<std::pair<std::string, bool>> inputs;  // name, has a value
  };
  const std::vector<Served> served = {
      {"asr", true, {{"backlog", true}, {"latency", true}}},
      {"no-rec", false, {{"backlog", true}, {"latency", false}}},
      {"tts", true, {{"backlog", true}, {"latency", true}}},
      {"vad", true, {{"backlog", true}, {"latency", true}}},
      {"zz-last", true, {{"backlog", true}, {"latency", true}}},
  };
  std::vector<store::TargetState> targets;
  for (const Served& s : served) {
    store::TargetState t =
        Target(s.name, s.has_recommendation ? std::optional(4) : std::nullopt);
    if (s.inputs[1].second) t.inputs[1].value = 2.0;
    targets.push_back(std::move(t));
  }
  Publish(std::move(targets));
  const char* selectors[] = {
      "target=tts",
      "target==vad",
      "target=nope",
      "target=",
      "target in (vad,asr)",
      "target in (asr,asr,nope)",
      "target in (asr,tts),target=tts",
      "target=asr,target=tts",
      "target in (asr,vad),target!=vad",
      "target in (asr,vad),target notin (asr)",
      "target=asr,!target",
      "target=asr,input=backlog",
      "target=asr,input in (latency)",
      "target in (asr,tts),input!=latency",
      "target=asr,!input",
      "target=asr,input",
      "target=no-rec",
      "target in (no-rec,asr)",
      "target!=tts",
      "input=backlog",
  };
  for (const char* metric : {"ballast_recommended_replicas", "ballast_input"}) {
    const bool inputs = std::string(metric) == "ballast_input";
    for (const char* text : selectors) {
      absl::StatusOr<LabelSelector> selector = LabelSelector::Parse(text);
      ASSERT_TRUE(selector.ok()) << text;
      // The reference: every series of every target through Matches.
      std::vector<std::string> want;
      bool want_missing = false;
      for (const Served& t : served) {
        std::vector<std::pair<Labels, bool>> series;  // labels, has a value
        if (inputs) {
          for (const auto& [input, has_value] : t.inputs) {
            series.push_back(
                {{{"input", input}, {"target", t.name}}, has_value});
          }
        } else {
          series.push_back({{{"target", t.name}}, t.has_recommendation});
        }
        for (const auto& [labels, has_value] : series) {
          if (!selector->Matches(labels)) continue;
          want.push_back(LabelsJson(labels));
          want_missing |= !has_value;
        }
      }
      const net::HttpResponse r =
          Get(absl::StrCat(kBase, metric, "?labelSelector=", UrlEscape(text)));
      const std::string where = absl::StrCat(metric, " ", text);
      if (want.empty()) {
        const std::string message = ExpectStatus(r, 404, "NotFound");
        // Names every known series, not only the looked-up ones.
        EXPECT_THAT(message, HasSubstr(R"("target":"zz-last")")) << where;
        continue;
      }
      if (want_missing) {
        ExpectStatus(r, 503, "ServiceUnavailable");
        continue;
      }
      ASSERT_EQ(r.status, 200) << where << ": " << r.body;
      std::vector<std::string> got;
      const rapidjson::Document doc = Parse(r);
      for (const rapidjson::Value& item : JsonFind(doc, "items")->GetArray()) {
        got.push_back(LabelsJsonOf(*JsonFind(item, "metricLabels")));
      }
      EXPECT_EQ(got, want) << where;
    }
  }
}

TEST_F(ExternalMetricsApiTest, MetricNameIsCaseInsensitive) {
  Publish({Target("asr", 7)});
  net::HttpResponse r =
      Get(std::string(kBase) + "Ballast_Recommended_REPLICAS");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Str(JsonFind(Parse(r), "items")->GetArray()[0], "metricName"),
            "ballast_recommended_replicas");
}

TEST_F(ExternalMetricsApiTest, AnyNamespaceServesTheSameTargets) {
  Publish({Target("asr", 7)});
  net::HttpResponse r =
      Get("/apis/external.metrics.k8s.io/v1beta1/namespaces/prod/"
          "ballast_recommended_replicas");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(ExternalMetricsApiTest, UnavailableBeforeAnyRecommendation) {
  const std::string url =
      std::string(kBase) +
      "ballast_recommended_replicas?labelSelector=target%3Dasr";
  EXPECT_THAT(ExpectStatus(Get(url), 503, "ServiceUnavailable"),
              HasSubstr("no recommendations"));
  Publish({Target("asr", std::nullopt), Target("tts", 2)});
  EXPECT_THAT(ExpectStatus(Get(url), 503, "ServiceUnavailable"),
              HasSubstr("target \"asr\" has no recommendation yet"));
}

TEST_F(ExternalMetricsApiTest, NoMatchIsNotFoundNamingKnownTargets) {
  Publish({Target("asr", 7), Target("tts", 3)});
  const std::string message = ExpectStatus(
      Get(std::string(kBase) +
          "ballast_recommended_replicas?labelSelector=target%3Dnope"),
      404, "NotFound");
  EXPECT_THAT(message, HasSubstr("target=nope"));
  EXPECT_THAT(message, HasSubstr(R"({"target":"asr"})"));
  EXPECT_THAT(message, HasSubstr(R"({"target":"tts"})"));
}

TEST_F(ExternalMetricsApiTest, UnknownMetricIsNotFound) {
  Publish({Target("asr", 7)});
  EXPECT_THAT(ExpectStatus(Get(std::string(kBase) + "celery_queue_backlog"),
                           404, "NotFound"),
              HasSubstr("ballast_recommended_replicas, ballast_input"));
  ExpectStatus(Get("/apis/metrics.k8s.io/v1beta1"), 404, "NotFound");
  ExpectStatus(Get("/api/v1/pods"), 404, "NotFound");
}

TEST_F(ExternalMetricsApiTest, MalformedSelectorIsBadRequest) {
  Publish({Target("asr", 7)});
  EXPECT_THAT(
      ExpectStatus(
          Get(std::string(kBase) +
              "ballast_recommended_replicas?labelSelector=target+in+%28"),
          400, "BadRequest"),
      HasSubstr("invalid labelSelector"));
  ExpectStatus(Get(std::string(kBase) +
                   "ballast_recommended_replicas?labelSelector=%zz"),
               400, "BadRequest");
}

TEST_F(ExternalMetricsApiTest, ServesInputsWithTheirSampleTime) {
  Publish({Target("asr", 7)});
  net::HttpResponse r =
      Get(std::string(kBase) +
          "ballast_input?labelSelector=target%3Dasr%2Cinput%3Dbacklog");
  ASSERT_EQ(r.status, 200) << r.body;
  const rapidjson::Document doc = Parse(r);
  const auto items = JsonFind(doc, "items")->GetArray();
  ASSERT_EQ(items.Size(), 1u);
  EXPECT_EQ(Str(items[0], "metricName"), "ballast_input");
  EXPECT_EQ(Str(*JsonFind(items[0], "metricLabels"), "target"), "asr");
  EXPECT_EQ(Str(*JsonFind(items[0], "metricLabels"), "input"), "backlog");
  EXPECT_EQ(Str(items[0], "value"), "1500m");
  EXPECT_EQ(Str(items[0], "timestamp"), "2026-09-21T14:13:20Z");

  // An input never read is unavailable, with its last error.
  EXPECT_THAT(ExpectStatus(Get(std::string(kBase) +
                               "ballast_input?labelSelector=input%3Dlatency"),
                           503, "ServiceUnavailable"),
              HasSubstr("connection refused"));
}

TEST_F(ExternalMetricsApiTest, NonFiniteInputIsNeverServed) {
  store::TargetState t = Target("asr", 7);
  t.inputs[0].value = std::nan("");
  Publish({std::move(t)});
  ExpectStatus(
      Get(std::string(kBase) + "ballast_input?labelSelector=input%3Dbacklog"),
      503, "ServiceUnavailable");
}

TEST_F(ExternalMetricsApiTest, RequiresAVerifiedFrontProxyCertificate) {
  Publish({Target("asr", 7)});
  const std::string url = std::string(kBase) + "ballast_recommended_replicas";
  ExpectStatus(Get(url, net::PeerInfo{.tls = true}), 401, "Unauthorized");
  ExpectStatus(Get("/apis", net::PeerInfo{.tls = true}), 401, "Unauthorized");
  ExpectStatus(Get("/apis/external.metrics.k8s.io/v1beta1",
                   net::PeerInfo{.tls = true, .client_common_name = "x"}),
               401, "Unauthorized");
  EXPECT_THAT(
      ExpectStatus(Get(url, net::PeerInfo{.tls = true,
                                          .client_cert_verified = true,
                                          .client_common_name = "intruder"}),
                   401, "Unauthorized"),
      HasSubstr("\"intruder\""));
  EXPECT_EQ(Get(url).status, 200);
}

TEST_F(ExternalMetricsApiTest, TrustsRemoteUserHeadersOnlyWhenAuthenticated) {
  net::HttpRequest r{.method = "GET", .path = "/apis"};
  r.headers = {{"x-remote-user", "system:serviceaccount:kube-system:hpa"},
               {"x-remote-group", "system:serviceaccounts"},
               {"x-remote-group", "system:authenticated"}};
  absl::StatusOr<RemoteUser> user = api_.Authenticate(r, Proxy());
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->name, "system:serviceaccount:kube-system:hpa");
  EXPECT_THAT(user->groups, ::testing::ElementsAre("system:serviceaccounts",
                                                   "system:authenticated"));
  EXPECT_EQ(api_.Authenticate(r, net::PeerInfo{.tls = true}).status().code(),
            absl::StatusCode::kUnauthenticated);
  // The front proxy's own identity is not a user: a request without one is
  // refused, as k8s.io/apiserver's request-header authenticator does.
  r.headers.clear();
  EXPECT_EQ(api_.Authenticate(r, Proxy()).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(ExternalMetricsApiTest, FollowsChangedRequestHeaderNames) {
  net::HttpRequest r{.method = "GET", .path = "/apis"};
  r.headers = {{"x-user", "alice"},
               {"x-remote-user", "mallory"},
               {"x-groups", "devs"},
               {"x-extra-scopes", "a"},
               {"x-extra-scopes", "b"}};
  EXPECT_EQ(api_.Authenticate(r, Proxy())->name, "mallory");
  api_.SetRequestHeaderConfig({.allowed_names = {"aggregator"},
                               .username_headers = {"X-User"},
                               .group_headers = {"X-Groups"},
                               .extra_header_prefixes = {"X-Extra-"}});
  // The old proxy name is no longer allowed.
  EXPECT_EQ(api_.Authenticate(r, Proxy()).status().code(),
            absl::StatusCode::kUnauthenticated);
  net::PeerInfo aggregator = Proxy();
  aggregator.client_common_name = "aggregator";
  absl::StatusOr<RemoteUser> user = api_.Authenticate(r, aggregator);
  ASSERT_TRUE(user.ok()) << user.status();
  EXPECT_EQ(user->name, "alice");
  EXPECT_THAT(user->groups,
              ::testing::ElementsAre("devs", "system:authenticated"));
  EXPECT_THAT(user->extra["scopes"], ::testing::ElementsAre("a", "b"));
}

TEST_F(ExternalMetricsApiTest, AnyCommonNameWhenAllowedNamesAreEmpty) {
  ExternalMetricsApi open(store_, {});
  net::HttpRequest r{.method = "GET", .path = "/apis"};
  r.headers = {{"x-remote-user", "someone"}};
  EXPECT_EQ(open.Handle(r, net::PeerInfo{.client_cert_verified = true,
                                         .client_common_name = "anyone"})
                .status,
            200);
  EXPECT_EQ(open.Handle(r, net::PeerInfo{}).status, 401);
}

TEST_F(ExternalMetricsApiTest, HealthNeedsNoAuthenticationOpenApiDoes) {
  for (const char* path : {"/healthz", "/livez", "/readyz"}) {
    net::HttpResponse r = Get(path, net::PeerInfo{});
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "ok");
  }
  // As in k8s.io/apiserver, OpenAPI is behind authentication.
  ExpectStatus(Get("/openapi/v2", net::PeerInfo{}), 401, "Unauthorized");
  ExpectStatus(Get("/openapi/v3", net::PeerInfo{}), 401, "Unauthorized");
}

TEST_F(ExternalMetricsApiTest, OnlyGetIsServed) {
  net::HttpRequest r{.method = "POST", .path = "/apis"};
  r.headers = {{"x-remote-user", "someone"}};
  ExpectStatus(api_.Handle(r, Proxy()), 405, "MethodNotAllowed");
}

TEST(ExternalMetricsApiPathKind, Classifies) {
  EXPECT_EQ(ExternalMetricsApi::PathKind("/healthz"), "health");
  EXPECT_EQ(ExternalMetricsApi::PathKind("/openapi/v2"), "openapi");
  EXPECT_EQ(ExternalMetricsApi::PathKind("/apis"), "discovery");
  EXPECT_EQ(
      ExternalMetricsApi::PathKind("/apis/external.metrics.k8s.io/v1beta1"),
      "discovery");
  EXPECT_EQ(ExternalMetricsApi::PathKind(std::string(kBase) + "m"), "metric");
  EXPECT_EQ(ExternalMetricsApi::PathKind("/"), "other");
}

TEST(TelemetryReadiness, NeedsARecommendationForEveryTarget) {
  store::Snapshot s;
  EXPECT_EQ(CheckReady(s).code(), absl::StatusCode::kUnavailable);
  s.generation = 1;
  EXPECT_TRUE(CheckReady(s).ok());
  s.targets.emplace("asr", Target("asr", std::nullopt));
  EXPECT_THAT(CheckReady(s).message(), HasSubstr("\"asr\""));
  s.targets["asr"] = Target("asr", 4);
  EXPECT_TRUE(CheckReady(s).ok());
}

}  // namespace
}  // namespace ballast::server
