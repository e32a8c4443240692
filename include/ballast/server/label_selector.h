// ballast/server/label_selector.h
//
// Kubernetes label selectors in their string form (the `labelSelector` query
// parameter of the external metrics API), parsed as
// k8s.io/apimachinery/pkg/labels.Parse does.
//
//   absl::StatusOr<LabelSelector> s =
//       LabelSelector::Parse("target in (asr, tts),!canary");
//   if (!s.ok()) return s.status();  // InvalidArgument naming the problem
//   bool m = s->Matches({{"target", "asr"}});  // true
//
// Forms: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`
// (exists), `!k` (does not exist), joined by `,`; whitespace between tokens
// is ignored. Keys are Kubernetes qualified names (`[prefix/]name`), values
// label values (possibly empty). `!=` and `notin` also match when the label
// is absent. The empty selector matches everything.
//
// The text must already be URL-decoded (see DecodeQueryComponent in
// http_server.h: `+` is a space in a query string).
#ifndef BALLAST_SERVER_LABEL_SELECTOR_H_
#define BALLAST_SERVER_LABEL_SELECTOR_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ballast::server {

using Labels = std::map<std::string, std::string, std::less<>>;

struct LabelRequirement {
  enum class Op { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };

  std::string key;
  Op op = Op::kExists;
  // One value for kEquals/kNotEquals, at least one for kIn/kNotIn, none for
  // kExists/kDoesNotExist.
  std::vector<std::string> values;

  bool Matches(const Labels& labels) const;
  // Kubernetes' string form: "k=v", "k!=v", "k in (a,b)", "!k", ...
  std::string ToString() const;
};

class LabelSelector {
 public:
  // The selector that matches everything.
  LabelSelector() = default;

  // Parses `text`. InvalidArgument, naming the offending token and its
  // position, for anything Kubernetes would reject (and for `<`/`>`, which
  // this API does not support).
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  // True when every requirement matches.
  bool Matches(const Labels& labels) const;

  // The values label `key` must take for Matches to be true: nullopt when
  // no `=`, `==` or `in` requirement names `key` (any value, or none, may
  // match); else the values every such requirement allows (possibly none).
  // Necessary, not sufficient: a set of labels whose `key` is outside it
  // never matches, one inside it must still pass Matches. Lets a caller
  // look up the few candidates by `key` instead of testing every one.
  std::optional<std::set<std::string, std::less<>>> RequiredValues(
      absl::string_view key) const;

  bool empty() const { return requirements_.empty(); }
  const std::vector<LabelRequirement>& requirements() const {
    return requirements_;
  }
  // The requirements in their string form, joined by ",".
  std::string ToString() const;

 private:
  std::vector<LabelRequirement> requirements_;
};

}  // namespace ballast::server

#endif  // BALLAST_SERVER_LABEL_SELECTOR_H_
