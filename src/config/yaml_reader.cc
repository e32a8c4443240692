#include "yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ballast::config {
namespace {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string> SuggestKey(
    std::string_view unknown, const std::vector<std::string_view>& known) {
  const std::string lower = absl::AsciiStrToLower(std::string(unknown));
  // About one typo per three characters, and always at least one.
  const size_t max_distance = std::max<size_t>(1, unknown.size() / 3);
  std::optional<std::string> best;
  size_t best_distance = max_distance + 1;
  for (std::string_view candidate : known) {
    const std::string c = absl::AsciiStrToLower(std::string(candidate));
    size_t d = EditDistance(lower, c);
    // A truncated key ("timeout" for "timeoutMs") is a near miss too.
    if (lower.size() >= 4 && c.starts_with(lower)) d = std::min<size_t>(d, 1);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(candidate);
    }
  }
  return best;
}

namespace internal {

void ErrorSink::Add(const YAML::Mark& mark, std::string path,
                    std::string message) {
  // A mark is unknown (-1) only for an empty document: report it at 1:1.
  errors_->push_back(ConfigError{.file = file_,
                                 .line = std::max(mark.line, 0) + 1,
                                 .column = std::max(mark.column, 0) + 1,
                                 .path = std::move(path),
                                 .message = std::move(message)});
}

bool Range::Contains(double x) const {
  return (min_open ? x > min : x >= min) && (max_open ? x < max : x <= max);
}

std::string Range::Describe() const {
  const bool has_min = std::isfinite(min), has_max = std::isfinite(max);
  if (has_min && has_max) {
    return absl::StrCat("must be in ", min_open ? "(" : "[", min, ", ", max,
                        max_open ? ")" : "]");
  }
  if (has_min) return absl::StrCat("must be ", min_open ? "> " : ">= ", min);
  if (has_max) return absl::StrCat("must be ", max_open ? "< " : "<= ", max);
  return "";
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "null";
  }
}

namespace {

// Reports `what` expected unless `v` is a scalar.
bool ExpectScalar(ErrorSink& sink, const Value& v, absl::string_view what) {
  if (v.node.IsScalar()) return true;
  sink.Add(v.mark, v.path,
           absl::StrCat("expected ", what, ", got ", DescribeNode(v.node)));
  return false;
}

template <typename N>
bool CheckRange(ErrorSink& sink, const Value& v, const Range& range, N x,
                N* out) {
  if (!range.Contains(static_cast<double>(x))) {
    sink.Add(v.mark, v.path, absl::StrCat(range.Describe(), ", got ", x));
    return false;
  }
  *out = x;
  return true;
}

}  // namespace

bool Convert(ErrorSink& sink, const Value& v, const Range& range,
             int32_t* out) {
  if (!ExpectScalar(sink, v, "an integer")) return false;
  int32_t x = 0;
  if (absl::SimpleAtoi(v.node.Scalar(), &x)) {
    return CheckRange(sink, v, range, x, out);
  }
  double d = 0;
  const bool integral = absl::SimpleAtod(v.node.Scalar(), &d) &&
                        std::isfinite(d) && d == std::floor(d);
  sink.Add(
      v.mark, v.path,
      absl::StrCat(integral ? "integer out of range" : "expected an integer",
                   ", got ", DescribeNode(v.node)));
  return false;
}

bool Convert(ErrorSink& sink, const Value& v, const Range& range, double* out) {
  if (!ExpectScalar(sink, v, "a number")) return false;
  double x = 0;
  if (absl::SimpleAtod(v.node.Scalar(), &x) && std::isfinite(x)) {
    return CheckRange(sink, v, range, x, out);
  }
  sink.Add(v.mark, v.path, "expected a number, got " + DescribeNode(v.node));
  return false;
}

bool Convert(ErrorSink& sink, const Value& v, const Range&, bool* out) {
  if (!ExpectScalar(sink, v, "true or false")) return false;
  const std::string text = absl::AsciiStrToLower(v.node.Scalar());
  if (text == "true" || text == "false") {
    *out = text == "true";
    return true;
  }
  sink.Add(v.mark, v.path,
           "expected true or false, got " + DescribeNode(v.node));
  return false;
}

bool Convert(ErrorSink& sink, const Value& v, const Range&, std::string* out) {
  if (!ExpectScalar(sink, v, "a string")) return false;
  if (v.node.Scalar().empty()) {
    sink.Add(v.mark, v.path, "must not be empty");
    return false;
  }
  *out = v.node.Scalar();
  return true;
}

MapReader::MapReader(ErrorSink* sink, Value value)
    : sink_(sink), self_(std::move(value)) {
  if (!self_.node.IsMap()) {
    Error(self_, "expected a map, got " + DescribeNode(self_.node));
    return;
  }
  valid_ = true;
  // Copies, not references: yaml-cpp's iterators yield temporaries.
  for (const auto& entry : self_.node) {
    const YAML::Node key = entry.first;
    const YAML::Node node = entry.second;
    if (!key.IsScalar()) {
      sink_->Add(key.Mark(), self_.path,
                 "expected a key, got " + DescribeNode(key));
      continue;
    }
    const std::string& name = key.Scalar();
    const bool duplicate =
        std::any_of(entries_.begin(), entries_.end(),
                    [&](const Entry& e) { return e.key == name; });
    if (duplicate) {
      sink_->Add(key.Mark(), PathOf(name), "duplicate key '" + name + "'");
      continue;
    }
    entries_.push_back(Entry{
        .key = name,
        .key_mark = key.Mark(),
        .value = Value{.node = node,
                       .path = PathOf(name),
                       .mark = node.IsNull() ? key.Mark() : node.Mark()}});
  }
}

std::string MapReader::PathOf(absl::string_view key) const {
  return self_.path.empty() ? std::string(key)
                            : absl::StrCat(self_.path, ".", key);
}

std::optional<Value> MapReader::Find(absl::string_view key, Need need) {
  if (std::find(asked_.begin(), asked_.end(), key) == asked_.end()) {
    asked_.emplace_back(key);
  }
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.declared = true;
      return e.value;
    }
  }
  if (valid_ && need == Need::kRequired) {
    sink_->Add(self_.mark, PathOf(key), "required key is missing");
  }
  return std::nullopt;
}

std::optional<MapReader> MapReader::Map(absl::string_view key, Need need) {
  std::optional<Value> v = Find(key, need);
  if (!v) return std::nullopt;
  MapReader reader(sink_, std::move(*v));
  if (!reader.valid()) return std::nullopt;
  return reader;
}

std::optional<std::vector<Value>> MapReader::List(absl::string_view key,
                                                  Need need) {
  std::optional<Value> v = Find(key, need);
  if (!v) return std::nullopt;
  if (!v->node.IsSequence()) {
    Error(*v, "expected a list, got " + DescribeNode(v->node));
    return std::nullopt;
  }
  std::vector<Value> items;
  for (size_t i = 0; i < v->node.size(); ++i) {
    const YAML::Node item = v->node[i];
    items.push_back(Value{.node = item,
                          .path = absl::StrCat(v->path, "[", i, "]"),
                          .mark = item.IsNull() ? v->mark : item.Mark()});
  }
  return items;
}

std::vector<std::pair<std::string, Value>> MapReader::Entries() {
  std::vector<std::pair<std::string, Value>> out;
  for (Entry& e : entries_) {
    e.declared = true;
    out.emplace_back(e.key, e.value);
  }
  return out;
}

void MapReader::Error(const Value& at, std::string message) const {
  sink_->Add(at.mark, at.path, std::move(message));
}

void MapReader::RejectUnknownKeys() {
  // Every key asked for is a candidate, present in the file or not.
  const std::vector<std::string_view> known(asked_.begin(), asked_.end());
  for (const Entry& e : entries_) {
    if (e.declared) continue;
    std::string message = "unknown key '" + e.key + "'";
    if (std::optional<std::string> s = SuggestKey(e.key, known)) {
      absl::StrAppend(&message, "; did you mean '", *s, "'?");
    }
    sink_->Add(e.key_mark, PathOf(e.key), std::move(message));
  }
}

}  // namespace internal
}  // namespace ballast::config
