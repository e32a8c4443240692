// The command line through the real binary: help, the version, and the usage
// errors of every subcommand (exit 2, the flag named and what it wants).
#include <string>
#include <utility>
#include <vector>

#include "ballast/version.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"

namespace ballast::testing {
namespace {

const std::string kDir = BALLAST_SOURCE_DIR;

TEST(UsageCli, HelpListsEveryCommandAndExits0) {
  for (const char* args : {"--help", "-h", "help"}) {
    const CliRun run = Ballast(kDir, args, /*keep_stdout=*/true);
    EXPECT_EQ(run.exit_code, 0) << args;
    EXPECT_NE(run.output.find("Usage: ballast [OPTIONS] [SUBCOMMAND]"),
              std::string::npos)
        << run.output;
    for (const char* command :
         {"\n  serve ", "\n  check-config ", "\n  probe ", "\n  simulate ",
          "\n  trace ", "\n  explain ", "\n  version "}) {
      EXPECT_NE(run.output.find(command), std::string::npos)
          << args << ": " << command << "\n"
          << run.output;
    }
  }
}

TEST(UsageCli, EachCommandsHelpNamesItsOptions) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"serve", {"--config FILE", "--log-level", "--io-threads N"}},
      {"check-config", {"Usage: ballast check-config [OPTIONS] FILE"}},
      {"probe", {"--config FILE", "--output table|json"}},
      {"simulate",
       {"--trace FILE.csv", "--baseline hpa", "--compare-target NAME",
        "--initial-replicas N", "--duration SECONDS"}},
      {"trace", {"convert"}},
      {"trace convert",
       {"--format worldcup98|azure-llm", "--seconds-per-context-token S"}},
      {"explain", {"TARGET", "--server HOST:PORT", "--history N"}},
  };
  for (const auto& [command, wants] : cases) {
    const CliRun run = Ballast(kDir, command + " --help", true);
    EXPECT_EQ(run.exit_code, 0) << command;
    EXPECT_NE(run.output.find("Usage: ballast " + command + " [OPTIONS]"),
              std::string::npos)
        << run.output;
    for (const std::string& want : wants) {
      EXPECT_NE(run.output.find(want), std::string::npos)
          << command << ": " << want << "\n"
          << run.output;
    }
  }
}

TEST(UsageCli, VersionIsTheGeneratedHeaders) {
  for (const char* args : {"--version", "version"}) {
    const CliRun run = Ballast(kDir, args, true);
    EXPECT_EQ(run.exit_code, 0);
    EXPECT_EQ(run.output, std::string("ballast ") + kVersion + "\n");
  }
}

TEST(UsageCli, NoOrUnknownCommandIsAUsageError) {
  CliRun run = Ballast(kDir, "");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(run.output.starts_with("Usage: ballast")) << run.output;
  run = Ballast(kDir, "nope");
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(run.output.starts_with("ballast: unknown command 'nope'\n"))
      << run.output;
}

// Each bad command line exits 2 with its first line saying what is wrong,
// followed by the command's help.
TEST(UsageCli, BadFlagsNameTheFlagAndWhatItWants) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"serve --config c.yaml --io-threads 0",
       "ballast serve: --io-threads: '0' is not a whole number > 0"},
      {"serve --config c.yaml --log-level loud",
       "ballast serve: --log-level: 'loud' is not debug, info, warn or error"},
      {"probe", "ballast probe: --config is required"},
      {"probe --config ''", "ballast probe: --config is required"},
      {"probe --config", "ballast probe: --config: 1 required FILE missing"},
      {"probe --config a --config b",
       "ballast probe: --config: given more than once"},
      {"probe --config c.yaml --output yaml",
       "ballast probe: --output: 'yaml' is not table or json"},
      {"probe --config c.yaml --bogus 1",
       "ballast probe: unknown flag '--bogus'"},
      {"probe --config c.yaml --bogus=1",
       "ballast probe: unknown flag '--bogus'"},
      {"check-config", "ballast check-config: FILE is required"},
      {"check-config a.yaml b.yaml",
       "ballast check-config: unexpected argument 'b.yaml'"},
      {"explain", "ballast explain: TARGET is required"},
      {"explain a --history 0",
       "ballast explain: --history: '0' is not a whole number > 0"},
      {"simulate --config c.yaml --trace t.csv --start noon",
       "ballast simulate: --start: 'noon' is not seconds or an RFC 3339 time"},
      {"simulate --config c.yaml --trace t.csv --duration 0",
       "ballast simulate: --duration: '0' is not a number > 0"},
      {"simulate --config c.yaml --trace t.csv --pod-startup-seconds=-1",
       "ballast simulate: --pod-startup-seconds: '-1' is not a number >= 0"},
      {"simulate --config c.yaml --trace t.csv --initial-replicas 2.5",
       "ballast simulate: --initial-replicas: '2.5' is not a whole number "
       ">= 0"},
      {"simulate --config c.yaml --trace t.csv --baseline keda",
       "ballast simulate: --baseline: 'keda' is not hpa"},
      {"simulate --config c.yaml --trace t.csv --compare-target x",
       "ballast simulate: --compare-target needs --compare FILE"},
      {"trace", "ballast trace: expected 'convert'"},
      {"trace convert --format csv --in a --out b",
       "ballast trace convert: --format: 'csv' is not worldcup98 or "
       "azure-llm"},
      {"trace convert --format worldcup98 --in a --out b --bucket-seconds 2",
       "ballast trace convert: --bucket-seconds does not apply to --format "
       "worldcup98"},
      {"trace convert --format azure-llm --in a --out b --scale 2",
       "ballast trace convert: --scale does not apply to --format azure-llm"},
  };
  for (const auto& [args, first_line] : cases) {
    const CliRun run = Ballast(kDir, args);
    EXPECT_EQ(run.exit_code, 2) << args << "\n" << run.output;
    EXPECT_EQ(run.output.substr(0, run.output.find('\n')), first_line)
        << args << "\n"
        << run.output;
    EXPECT_NE(run.output.find("\nUsage: ballast "), std::string::npos)
        << args << "\n"
        << run.output;
  }
}

}  // namespace
}  // namespace ballast::testing
