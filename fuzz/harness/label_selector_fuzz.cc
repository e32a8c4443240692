// server::LabelSelector (the external metrics API's labelSelector): parse,
// match, and its canonical form must parse back to the same selector.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/string_view.h"
#include "ballast/server/label_selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ballast::server::LabelSelector;
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<LabelSelector> s = LabelSelector::Parse(text);
  if (!s.ok()) {
    (void)s.status().message();
    return 0;
  }
  const ballast::server::Labels labels = {
      {"target", "asr"}, {"input", "backlog"}, {"namespace", "speech"}};
  (void)s->Matches(labels);
  (void)s->Matches({});
  const std::string canonical = s->ToString();
  absl::StatusOr<LabelSelector> again = LabelSelector::Parse(canonical);
  if (!again.ok()) std::abort();
  if (again->ToString() != canonical) std::abort();
  if (again->Matches(labels) != s->Matches(labels)) std::abort();
  return 0;
}
