// ballast/source/json.h
//
// A small, strict JSON (RFC 8259) reader for the HTTP APIs the sources talk
// to (Prometheus, Kubernetes). It builds an immutable tree of `Json` values;
// it rejects what RFC 8259 rejects (trailing commas, comments, leading zeros,
// raw control characters, lone surrogates, trailing data) and nests at most
// 128 levels deep, so a hostile body cannot exhaust the stack.
//
//   absl::StatusOr<Json> doc = ParseJson(R"({"status":"success"})");
//   if (!doc.ok()) return doc.status();          // DataLoss, with the offset
//   const Json* status = doc->Find("status");    // nullptr when absent
//   if (status != nullptr && status->IsString()) Use(status->AsString());
//
// Boost.JSON is not in Debian's Boost 1.74, hence this file.
#ifndef BALLAST_SOURCE_JSON_H_
#define BALLAST_SOURCE_JSON_H_

#include <cstddef>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ballast::source {

class Json {
 public:
  using Array = std::vector<Json>;
  // Members in document order; duplicate keys are kept, Find returns the
  // first.
  using Object = std::vector<std::pair<std::string, Json>>;

  Json() = default;  // null
  explicit Json(bool b) : value_(b) {}
  explicit Json(double d) : value_(d) {}
  explicit Json(std::string s) : value_(std::move(s)) {}
  explicit Json(Array a) : value_(std::move(a)) {}
  explicit Json(Object o) : value_(std::move(o)) {}

  bool IsNull() const { return value_.index() == 0; }
  bool IsBool() const { return std::holds_alternative<bool>(value_); }
  bool IsNumber() const { return std::holds_alternative<double>(value_); }
  bool IsString() const { return std::holds_alternative<std::string>(value_); }
  bool IsArray() const { return std::holds_alternative<Array>(value_); }
  bool IsObject() const { return std::holds_alternative<Object>(value_); }

  // Precondition: the matching Is*() is true.
  bool AsBool() const { return std::get<bool>(value_); }
  double AsNumber() const { return std::get<double>(value_); }
  const std::string& AsString() const { return std::get<std::string>(value_); }
  const Array& AsArray() const { return std::get<Array>(value_); }
  const Object& AsObject() const { return std::get<Object>(value_); }

  // The member `key` of an object; nullptr when absent or not an object.
  const Json* Find(absl::string_view key) const;

  // "null", "boolean", "number", "string", "array" or "object", for errors.
  absl::string_view TypeName() const;

 private:
  std::variant<std::monostate, bool, double, std::string, Array, Object> value_;
};

// Parses one JSON document (surrounding whitespace allowed). Errors are
// DataLoss and name the byte offset and what was expected, e.g.
// "invalid JSON at byte 17: expected ',' or '}'"; a body that ends early
// says "unexpected end of input".
absl::StatusOr<Json> ParseJson(absl::string_view text);

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_JSON_H_
