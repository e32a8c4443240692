// src/app/cli.h
//
// The one command-line parser of the `ballast` binary (CLI11): every
// subcommand adds itself, its options and what it runs to a `Cli`; `Run`
// parses once and runs the chosen subcommand. Typed options turn a bad value
// into a usage error that names the flag and says what it wants, e.g.
// "--io-threads: 'two' is not a whole number > 0".
//
//   void AddProbeCommand(Cli& cli) {
//     auto flags = std::make_shared<ProbeFlags>();
//     CLI::App* cmd = cli.AddCommand(
//         "probe", "read every input once", "Longer prose for --help.",
//         [flags](const Invocation& call) { return Probe(*flags, call); });
//     AddRequired(cmd, "--config", &flags->config, "FILE", "policy config");
//   }
//
// Exit codes: 0 for --help and --version, 2 for a usage error (what is wrong
// on stderr, then the subcommand's help), else what the subcommand returns.
// CLI11's exceptions stay inside cli.cc and the option callbacks here.
#ifndef BALLAST_SRC_APP_CLI_H_
#define BALLAST_SRC_APP_CLI_H_

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ballast/app/commands.h"

namespace ballast::app {

// A parsed subcommand being run: its streams, and its usage error.
struct Invocation {
  std::ostream& out;
  std::ostream& err;
  const CLI::App& command;

  // "ballast probe" for the probe subcommand.
  std::string Name() const;
  // The subcommand's help (usage line, description, options).
  std::string Help() const;
  // Writes "ballast CMD: what", a blank line and the help to `err`; returns 2.
  int UsageError(absl::string_view what) const;
};

using CommandFn = std::function<int(const Invocation&)>;

class Cli {
 public:
  // The root command (`ballast`, --help, --version, `version`, `help`) and
  // every subcommand of commands.h.
  Cli();

  // Adds a subcommand of `parent` (of the root when null) that runs `run`
  // once the command line parsed; `description` is its one-line summary in
  // the parent's help, `details` the prose under it in its own help.
  CLI::App* AddCommand(const std::string& name, const std::string& description,
                       const std::string& details, CommandFn run,
                       CLI::App* parent = nullptr);

  // Parses `args` (without the program name) and runs the subcommand. Call
  // once.
  int Run(const Args& args, std::ostream& out, std::ostream& err);

 private:
  CLI::App app_;
  std::map<const CLI::App*, CommandFn> runs_;
};

// Typed options. Each may be given once, as `--name VALUE` or
// `--name=VALUE`; a bad value is a usage error naming the flag.

// A string that must be given and not be empty ("--config is required").
CLI::Option* AddRequired(CLI::App* cmd, const std::string& name,
                         std::string* value, const std::string& type,
                         const std::string& help);
// A string, unset when not given.
CLI::Option* AddString(CLI::App* cmd, const std::string& name,
                       std::optional<std::string>* value,
                       const std::string& type, const std::string& help);
// One of `choices` ("--output: 'yaml' is not table or json"); `*value`
// keeps its default when not given.
CLI::Option* AddChoice(CLI::App* cmd, const std::string& name,
                       std::string* value, std::vector<std::string> choices,
                       const std::string& help);
// A number >= `min` (> `min` when `strict`), as sim::ParseNumber reads it.
CLI::Option* AddNumber(CLI::App* cmd, const std::string& name,
                       std::optional<double>* value, double min, bool strict,
                       const std::string& type, const std::string& help);
// A whole number >= `min`.
CLI::Option* AddWholeNumber(CLI::App* cmd, const std::string& name,
                            std::optional<int32_t>* value, int32_t min,
                            const std::string& help);
// Trace seconds or an RFC 3339 time (sim::ParseTraceTime).
CLI::Option* AddTime(CLI::App* cmd, const std::string& name,
                     std::optional<double>* value, const std::string& help);

// The subcommands, each defined in its *_cmd.cc.
void AddServeCommand(Cli& cli);
void AddCheckConfigCommand(Cli& cli);
void AddProbeCommand(Cli& cli);
void AddSimulateCommand(Cli& cli);
void AddTraceCommand(Cli& cli);
void AddExplainCommand(Cli& cli);

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_CLI_H_
