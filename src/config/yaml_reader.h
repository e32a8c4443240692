// src/config/yaml_reader.h
//
// Small helpers that read a yaml-cpp tree against a schema written as code:
// each call names a key, its type, its range and whether it is required, and
// reports every problem (with line, column and key path) into an ErrorSink
// instead of stopping at the first one. Keys never asked for are reported as
// unknown, with a did-you-mean.
//
//   MapReader server(&sink, value);
//   server.Read("pollIntervalSeconds", &config.poll_interval_seconds,
//               Between(1, 3600));
//   server.RejectUnknownKeys();
//
// Internal to the config module; nothing here throws.
#ifndef BALLAST_SRC_CONFIG_YAML_READER_H_
#define BALLAST_SRC_CONFIG_YAML_READER_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "ballast/config/config.h"
#include "yaml-cpp/yaml.h"

namespace ballast::config::internal {

// Appends ConfigErrors for one file; converts yaml-cpp's 0-based marks.
class ErrorSink {
 public:
  ErrorSink(absl::string_view file, ConfigErrors* errors)
      : file_(file), errors_(errors) {}

  void Add(const YAML::Mark& mark, std::string path, std::string message);
  size_t count() const { return errors_->size() - initial_; }

 private:
  std::string file_;
  ConfigErrors* errors_;
  size_t initial_ = errors_->size();
};

// A node together with its key path and the best position to report it at
// (yaml-cpp gives null values the position of the next token, so a null
// value is reported at its key).
struct Value {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
};

// Bounds of a number; `Describe()` words the constraint for messages.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_open = false;
  bool max_open = false;

  bool Contains(double x) const;
  std::string Describe() const;  // "must be in [1, 1800]", "must be > 0"
};
inline constexpr Range kAnyNumber{};
inline constexpr Range kPositive{.min = 0, .min_open = true};
inline constexpr Range kNonNegative{.min = 0};
constexpr Range Between(double lo, double hi) { return {.min = lo, .max = hi}; }

template <typename T>
struct IsOptional : std::false_type {};
template <typename T>
struct IsOptional<std::optional<T>> : std::true_type {};

enum class Need { kOptional, kRequired };

// "'abc'", "a map", "a list" or "null": what the config holds instead.
std::string DescribeNode(const YAML::Node& node);

// Converters of a scalar; on failure report why and return false.
bool Convert(ErrorSink& sink, const Value& v, const Range& range, int32_t* out);
bool Convert(ErrorSink& sink, const Value& v, const Range& range, double* out);
bool Convert(ErrorSink& sink, const Value& v, const Range& range, bool* out);
// Strings must be non-empty scalars.
bool Convert(ErrorSink& sink, const Value& v, const Range& range,
             std::string* out);

// Reads one YAML map. Each key is declared by asking for it; keys never
// asked for are reported by RejectUnknownKeys(). Duplicate keys are errors.
class MapReader {
 public:
  // Reports "expected a map" if `value` is not one; then reads nothing.
  MapReader(ErrorSink* sink, Value value);

  bool valid() const { return valid_; }
  const Value& self() const { return self_; }
  ErrorSink& sink() const { return *sink_; }
  std::string PathOf(absl::string_view key) const;

  // Declares `key`; returns its value, or reports it missing if required.
  std::optional<Value> Find(absl::string_view key, Need need = Need::kOptional);
  bool Has(absl::string_view key) { return Find(key).has_value(); }

  // Reads a scalar into `out` (T or std::optional<T>). True if the key was
  // present and valid; `out` is left alone otherwise.
  template <typename T>
  bool Read(absl::string_view key, T* out, Range range = kAnyNumber,
            Need need = Need::kOptional);

  // Reads a scalar that must be one of `names`.
  template <typename E>
  bool ReadEnum(absl::string_view key, E* out,
                std::initializer_list<std::pair<absl::string_view, E>> names,
                Need need = Need::kOptional);

  std::optional<MapReader> Map(absl::string_view key,
                               Need need = Need::kOptional);
  // The items of a list, each with its `[i]` path.
  std::optional<std::vector<Value>> List(absl::string_view key,
                                         Need need = Need::kOptional);
  // Every entry of a map whose keys are user-chosen names (all declared).
  std::vector<std::pair<std::string, Value>> Entries();

  void Error(const Value& at, std::string message) const;
  void RejectUnknownKeys();

 private:
  struct Entry {
    std::string key;
    YAML::Mark key_mark;
    Value value;
    bool declared = false;
  };

  ErrorSink* sink_;
  Value self_;
  bool valid_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> asked_;  // every key declared, in order
};

template <typename T>
bool MapReader::Read(absl::string_view key, T* out, Range range, Need need) {
  std::optional<Value> v = Find(key, need);
  if (!v) return false;
  if constexpr (IsOptional<T>::value) {
    typename T::value_type x{};
    if (!Convert(*sink_, *v, range, &x)) return false;
    *out = std::move(x);
    return true;
  } else {
    return Convert(*sink_, *v, range, out);
  }
}

template <typename E>
bool MapReader::ReadEnum(
    absl::string_view key, E* out,
    std::initializer_list<std::pair<absl::string_view, E>> names, Need need) {
  std::string text;
  if (!Read(key, &text, kAnyNumber, need)) return false;
  std::vector<absl::string_view> expected;
  for (const auto& [name, e] : names) {
    if (name == text) {
      *out = e;
      return true;
    }
    expected.push_back(name);
  }
  Error(*Find(key),
        absl::StrCat("expected one of ", absl::StrJoin(expected, ", "),
                     ", got '", text, "'"));
  return false;
}

}  // namespace ballast::config::internal

#endif  // BALLAST_SRC_CONFIG_YAML_READER_H_
