// tests/integration/external_metrics/json_checks.h
//
// Field-by-field checks of the external metrics API's JSON, shared by the
// unit tests (tests/unit/server) and the HTTPS integration tests.
//
//   rapidjson::Document doc = ParseJsonBody(content_type, body);
//   EXPECT_EQ(JsonStr(doc, "kind"), "APIGroupList");
//   std::string message = ExpectStatusBody(status, content_type, body, 404,
//                                          "NotFound");
#ifndef BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
#define BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "ballast/core/json.h"
#include "gtest/gtest.h"
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

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
