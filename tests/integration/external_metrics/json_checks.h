// tests/integration/external_metrics/json_checks.h
//
// Field-by-field checks of the external metrics API's JSON, and the store
// contents they are checked against, shared by the unit tests
// (tests/unit/server) and the HTTPS integration tests.
//
//   rapidjson::Document doc = ParseJsonBody(content_type, body);
//   EXPECT_EQ(JsonStr(doc, "kind"), "APIGroupList");
//   std::string message = ExpectStatusBody(status, content_type, body, 404,
//                                          "NotFound");
#ifndef BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
#define BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "ballast/core/json.h"
#include "ballast/store/recommendation_store.h"
#include "gtest/gtest.h"
#include "integration/common/store_targets.h"
#include "rapidjson/document.h"

namespace ballast::testing {

// The string member `key` of `j`, or "<missing>".
inline std::string JsonStr(const rapidjson::Value& j, absl::string_view key) {
  const rapidjson::Value* v = JsonFind(j, key);
  return v != nullptr && v->IsString() ? std::string(JsonText(*v))
                                       : "<missing>";
}

// Parses a JSON body served as application/json (a null document on
// failure, which is also a test failure).
inline rapidjson::Document ParseJsonBody(const std::string& content_type,
                                         const std::string& body) {
  EXPECT_EQ(content_type, "application/json");
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  EXPECT_TRUE(doc.ok()) << doc.status() << ": " << body;
  return doc.ok() ? *std::move(doc) : rapidjson::Document();
}

// Checks a Kubernetes Status reply field by field; returns its message.
inline std::string ExpectStatusBody(int status, const std::string& content_type,
                                    const std::string& body, int code,
                                    const std::string& reason) {
  EXPECT_EQ(status, code) << body;
  const rapidjson::Document j = ParseJsonBody(content_type, body);
  EXPECT_EQ(JsonStr(j, "kind"), "Status");
  EXPECT_EQ(JsonStr(j, "apiVersion"), "v1");
  EXPECT_EQ(JsonStr(j, "status"), "Failure");
  EXPECT_EQ(JsonStr(j, "reason"), reason);
  const rapidjson::Value* c = JsonFind(j, "code");
  EXPECT_TRUE(c != nullptr && c->IsNumber() && c->GetDouble() == code);
  const rapidjson::Value* metadata = JsonFind(j, "metadata");
  EXPECT_TRUE(metadata != nullptr && metadata->IsObject());
  return JsonStr(j, "message");
}

// Checks the kind, apiVersion and metadata of an ExternalMetricValueList;
// returns its items.
inline rapidjson::Value::ConstArray MetricValueItems(
    const rapidjson::Value& j) {
  EXPECT_EQ(JsonStr(j, "kind"), "ExternalMetricValueList");
  EXPECT_EQ(JsonStr(j, "apiVersion"), "external.metrics.k8s.io/v1beta1");
  EXPECT_TRUE(JsonFind(j, "metadata")->IsObject());
  return JsonFind(j, "items")->GetArray();
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
