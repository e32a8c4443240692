#include "flags.h"

namespace ballast::app {

absl::StatusOr<Flags> ParseFlags(const Args& args, size_t first,
                                 const std::set<absl::string_view>& known) {
  Flags flags;
  for (size_t i = first; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      flags["help"] = "";
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", arg, "'"));
    }
    arg.remove_prefix(2);
    std::string name(arg.substr(0, arg.find('=')));
    if (!known.contains(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '--", name, "'"));
    }
    std::string value;
    if (arg.find('=') != absl::string_view::npos) {
      value = std::string(arg.substr(arg.find('=') + 1));
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '--", name, "' needs a value"));
    }
    if (!flags.emplace(name, value).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("flag '--", name, "' given twice"));
    }
  }
  return flags;
}

}  // namespace ballast::app
