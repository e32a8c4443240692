// `ballast check-config` through the real binary: exit codes and the exact
// error lines for every invalid config in tests/testdata/configs.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "integration/cli_util.h"

namespace ballast::testing {
namespace {

const std::string kConfigs =
    std::string(BALLAST_SOURCE_DIR) + "/tests/testdata/configs";

TEST(CheckConfigCli, EveryInvalidConfigPrintsItsExpectedErrorsAndExits1) {
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kConfigs)) {
    const std::string name = entry.path().filename();
    if (!name.starts_with("bad_") || entry.path().extension() != ".yaml") {
      continue;
    }
    std::filesystem::path expected = entry.path();
    expected.replace_extension(".expected");
    const CliRun run = Ballast(kConfigs, "check-config " + name);
    EXPECT_EQ(run.exit_code, 1) << name;
    EXPECT_EQ(run.output, ReadFile(expected)) << name;
    ++checked;
  }
  EXPECT_GE(checked, 15);
}

TEST(CheckConfigCli, ValidConfigsExit0) {
  for (const std::string& file :
       {std::string(BALLAST_SOURCE_DIR) + "/config/example.yaml",
        std::string(BALLAST_SOURCE_DIR) + "/config/demo.yaml",
        kConfigs + "/good_minimal.yaml"}) {
    const CliRun run = Ballast(kConfigs, "check-config " + file, true);
    EXPECT_EQ(run.exit_code, 0) << file << ": " << run.output;
    EXPECT_NE(run.output.find(": ok ("), std::string::npos) << run.output;
  }
}

TEST(CheckConfigCli, WarningsAreShownAndDoNotFail) {
  const CliRun run =
      Ballast(kConfigs, "check-config warn_static_outside_bounds.yaml", true);
  EXPECT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find(
                "warning: warn_static_outside_bounds.yaml:7:31: "
                "targets[0].currentReplicas.static: outside [minReplicas, "
                "maxReplicas] = [2, 10]: the first tick goes to 10\n"),
            std::string::npos)
      << run.output;
  EXPECT_NE(run.output.find(": ok (1 targets)"), std::string::npos)
      << run.output;
}

TEST(CheckConfigCli, MissingFileAndUsageErrors) {
  EXPECT_EQ(Ballast(kConfigs, "check-config no-such-file.yaml").exit_code, 1);
  EXPECT_EQ(Ballast(kConfigs, "check-config").exit_code, 2);
  EXPECT_EQ(Ballast(kConfigs, "no-such-command").exit_code, 2);
}

}  // namespace
}  // namespace ballast::testing
