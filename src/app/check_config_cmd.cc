// `ballast check-config FILE`: parse and validate a policy config, print
// every error (FILE:LINE:COLUMN: key.path: message) or a one-line summary.
#include <ostream>
#include <string>

#include "ballast/app/commands.h"
#include "ballast/config/config.h"

namespace ballast::app {

int RunCheckConfig(const Args& args, std::ostream& out, std::ostream& err) {
  constexpr char kUsage[] =
      "usage: ballast check-config FILE\n"
      "Validates a policy config and prints every error, one per line, as\n"
      "FILE:LINE:COLUMN: key.path: message. Exit 0 if valid, 1 if not.\n";
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h")) {
    out << kUsage;
    return 0;
  }
  if (args.size() != 1 || args[0].empty() || args[0][0] == '-') {
    err << kUsage;
    return 2;
  }
  const std::string& path = args[0];
  config::ConfigErrors errors;
  absl::StatusOr<config::Config> config = config::LoadConfigFile(path, &errors);
  if (config.ok()) {
    // Warnings (e.g. a static current count outside [min, max], which is
    // valid: workloads often start outside an HPA's bounds) do not fail.
    for (const config::ConfigError& w : config->warnings) {
      err << "warning: " << w.ToString() << "\n";
    }
    const size_t n = config->targets.size();
    out << path << ": ok (" << n << " targets)\n";
    return 0;
  }
  if (errors.empty()) {  // the file could not be read
    err << config.status().message() << "\n";
    return 1;
  }
  for (const config::ConfigError& e : errors) err << e.ToString() << "\n";
  return 1;
}

}  // namespace ballast::app
