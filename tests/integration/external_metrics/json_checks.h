// tests/integration/external_metrics/json_checks.h
//
// Field-by-field checks of the external metrics API's JSON, shared by the
// unit tests (tests/unit/server) and the HTTPS integration tests.
//
//   Json doc = ParseJsonBody(content_type, body);
//   EXPECT_EQ(JsonStr(doc, "kind"), "APIGroupList");
//   std::string message = ExpectStatusBody(status, content_type, body, 404,
//                                          "NotFound");
#ifndef BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
#define BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "ballast/source/json.h"
#include "gtest/gtest.h"

namespace ballast::testing {

// The string member `key` of `j`, or "<missing>".
inline std::string JsonStr(const source::Json& j, absl::string_view key) {
  const source::Json* v = j.Find(key);
  return v != nullptr && v->IsString() ? v->AsString() : "<missing>";
}

// Parses a JSON body served as application/json (null Json on failure,
// which is also a test failure).
inline source::Json ParseJsonBody(const std::string& content_type,
                                  const std::string& body) {
  EXPECT_EQ(content_type, "application/json");
  absl::StatusOr<source::Json> doc = source::ParseJson(body);
  EXPECT_TRUE(doc.ok()) << doc.status() << ": " << body;
  return doc.ok() ? *doc : source::Json();
}

// Checks a Kubernetes Status reply field by field; returns its message.
inline std::string ExpectStatusBody(int status, const std::string& content_type,
                                    const std::string& body, int code,
                                    const std::string& reason) {
  EXPECT_EQ(status, code) << body;
  const source::Json j = ParseJsonBody(content_type, body);
  EXPECT_EQ(JsonStr(j, "kind"), "Status");
  EXPECT_EQ(JsonStr(j, "apiVersion"), "v1");
  EXPECT_EQ(JsonStr(j, "status"), "Failure");
  EXPECT_EQ(JsonStr(j, "reason"), reason);
  const source::Json* c = j.Find("code");
  EXPECT_TRUE(c != nullptr && c->IsNumber() && c->AsNumber() == code);
  const source::Json* metadata = j.Find("metadata");
  EXPECT_TRUE(metadata != nullptr && metadata->IsObject());
  return JsonStr(j, "message");
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_EXTERNAL_METRICS_JSON_CHECKS_H_
