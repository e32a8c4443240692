// source::ParseJson, the JSON reader behind every HTTP response ballast reads
// (Prometheus, the Kubernetes API) and its tests.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "ballast/source/json.h"

namespace {

using ballast::source::Json;

// Touches every value, as the callers do.
size_t Walk(const Json& j) {
  size_t n = 1;
  (void)j.TypeName();
  if (j.IsString()) n += j.AsString().size();
  if (j.IsArray()) {
    for (const Json& e : j.AsArray()) n += Walk(e);
  }
  if (j.IsObject()) {
    for (const auto& [key, value] : j.AsObject()) {
      if (j.Find(key) == nullptr) __builtin_trap();
      n += Walk(value);
    }
  }
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<Json> json = ballast::source::ParseJson(text);
  if (json.ok()) (void)Walk(*json);
  return 0;
}
