// src/app/flags.h
//
// Flag parsing for the CLI subcommands: `--name VALUE` or `--name=VALUE`,
// each at most once, `--help` alone; typed access that keeps the first bad
// value's message for a usage error.
//
//   ASSIGN_OR_RETURN(Flags flags, ParseFlags(args, 0, {"config", "output"}));
//   FlagReader r(flags);
//   std::string config = r.Required("config");
//   if (!r.error.empty()) return Usage(...);
#ifndef BALLAST_SRC_APP_FLAGS_H_
#define BALLAST_SRC_APP_FLAGS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "ballast/app/commands.h"
#include "ballast/sim/format.h"

namespace ballast::app {

// --name VALUE or --name=VALUE, each at most once; --help alone.
using Flags = std::map<std::string, std::string, std::less<>>;

absl::StatusOr<Flags> ParseFlags(const Args& args, size_t first,
                                 const std::set<absl::string_view>& known);

// Typed access to parsed flags; the first bad value is kept in `error`.
class FlagReader {
 public:
  explicit FlagReader(const Flags& flags) : flags_(flags) {}

  std::optional<std::string> String(absl::string_view name) {
    const auto it = flags_.find(name);
    if (it == flags_.end()) return std::nullopt;
    return it->second;
  }
  std::string Required(absl::string_view name) {
    std::optional<std::string> v = String(name);
    if (!v || v->empty()) Fail(absl::StrCat("--", name, " is required"));
    return v.value_or("");
  }
  // A number >= `min` (> `min` when `strict`).
  std::optional<double> Number(absl::string_view name, double min,
                               bool strict) {
    std::optional<std::string> text = String(name);
    if (!text) return std::nullopt;
    const std::optional<double> v = sim::ParseNumber(*text);
    if (!v || *v < min || (strict && *v == min)) {
      Fail(absl::StrCat("--", name, ": '", *text, "' is not a number ",
                        strict ? "> " : ">= ", min));
      return std::nullopt;
    }
    return v;
  }
  std::optional<int32_t> PositiveInt(absl::string_view name) {
    std::optional<std::string> text = String(name);
    if (!text) return std::nullopt;
    int32_t v = 0;
    if (!absl::SimpleAtoi(*text, &v) || v <= 0) {
      Fail(absl::StrCat("--", name, ": '", *text,
                        "' is not a whole number > 0"));
      return std::nullopt;
    }
    return v;
  }
  std::optional<double> Time(absl::string_view name) {
    std::optional<std::string> text = String(name);
    if (!text) return std::nullopt;
    const std::optional<double> v = sim::ParseTraceTime(*text);
    if (!v) {
      Fail(absl::StrCat("--", name, ": '", *text,
                        "' is not seconds or an RFC 3339 time"));
    }
    return v;
  }
  void Fail(std::string message) {
    if (error.empty()) error = std::move(message);
  }

  std::string error;

 private:
  const Flags& flags_;
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_FLAGS_H_
