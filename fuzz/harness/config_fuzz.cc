// The YAML policy config, through the entry `ballast check-config` uses
// (LoadConfigFile reads the file, then calls ParseConfig on its text).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "ballast/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ballast::config::ConfigErrors errors;
  std::optional<ballast::config::Config> config =
      ballast::config::ParseConfig(text, "fuzz.yaml", &errors);
  // A config is valid exactly when no error was reported.
  if (config.has_value() != errors.empty()) std::abort();
  for (const ballast::config::ConfigError& e : errors) (void)e.ToString();
  if (config) {
    for (const ballast::config::ConfigError& w : config->warnings) {
      (void)w.ToString();
    }
  }
  return 0;
}
