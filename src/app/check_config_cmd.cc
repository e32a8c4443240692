// `ballast check-config FILE`: parse and validate a policy config, print
// every error (FILE:LINE:COLUMN: key.path: message) or a one-line summary.
#include <memory>
#include <ostream>
#include <string>

#include "ballast/config/config.h"
#include "cli.h"

namespace ballast::app {
namespace {

int CheckConfig(const std::string& path, const Invocation& call) {
  std::ostream& out = call.out;
  std::ostream& err = call.err;
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

}  // namespace

void AddCheckConfigCommand(Cli& cli) {
  auto path = std::make_shared<std::string>();
  CLI::App* cmd = cli.AddCommand(
      "check-config", "validate a policy config; print every error",
      "Validates a policy config and prints every error, one per line, as\n"
      "FILE:LINE:COLUMN: key.path: message. Exit 0 if valid, 1 if not.",
      [path](const Invocation& call) { return CheckConfig(*path, call); });
  cmd->add_option("FILE", *path, "the policy config")
      ->required()
      ->type_name("");
}

}  // namespace ballast::app
