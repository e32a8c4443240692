// ballast::ParseJson (RapidJSON, with ballast's depth limit and strictness),
// the JSON reader behind every HTTP response ballast reads (Prometheus, the
// Kubernetes API) and its tests. Oracle: what parses writes back (JsonWriter)
// as text that parses to the same walk.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "ballast/core/json.h"
#include "rapidjson/document.h"

namespace {

// Touches every value, as the callers do.
size_t Walk(const rapidjson::Value& j) {
  size_t n = 1;
  (void)ballast::JsonTypeName(j);
  if (j.IsString()) n += ballast::JsonText(j).size();
  if (j.IsNumber()) (void)j.GetDouble();
  if (j.IsArray()) {
    for (const rapidjson::Value& e : j.GetArray()) n += Walk(e);
  }
  if (j.IsObject()) {
    for (const auto& member : j.GetObject()) {
      if (ballast::JsonFind(j, ballast::JsonText(member.name)) == nullptr) {
        __builtin_trap();
      }
      n += Walk(member.value);
    }
  }
  return n;
}

// Writes `j` back with JsonWriter (numbers as RapidJSON read them).
void Write(const rapidjson::Value& j, ballast::JsonWriter& w) {
  switch (j.GetType()) {
    case rapidjson::kNullType:
      w.Null();
      break;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      w.Bool(j.GetBool());
      break;
    case rapidjson::kNumberType:
      if (j.IsInt64()) {
        w.Int(j.GetInt64());
      } else {
        w.RawNumber(j.IsUint64() ? std::to_string(j.GetUint64()) : "0");
      }
      break;
    case rapidjson::kStringType:
      w.String(ballast::JsonText(j));
      break;
    case rapidjson::kArrayType:
      w.StartArray();
      for (const rapidjson::Value& e : j.GetArray()) Write(e, w);
      w.EndArray();
      break;
    case rapidjson::kObjectType:
      w.StartObject();
      for (const auto& member : j.GetObject()) {
        w.Key(ballast::JsonText(member.name));
        Write(member.value, w);
      }
      w.EndObject();
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<rapidjson::Document> json = ballast::ParseJson(text);
  if (!json.ok()) return 0;
  const size_t n = Walk(*json);
  ballast::JsonWriter w;
  Write(*json, w);
  absl::StatusOr<rapidjson::Document> again = ballast::ParseJson(w.Take());
  if (!again.ok() || Walk(*again) != n) __builtin_trap();
  return 0;
}
