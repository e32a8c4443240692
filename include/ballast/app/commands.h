// ballast/app/commands.h
//
// The `ballast` binary's command line: one entry point that parses it and
// runs the subcommand, with output on the given streams so that tests can
// capture it.
//
//   int code = Run({"check-config", "config/demo.yaml"}, std::cout, std::cerr);
#ifndef BALLAST_APP_COMMANDS_H_
#define BALLAST_APP_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace ballast::app {

using Args = std::vector<std::string>;

// Parses `args` (the command line without the program name) and runs the
// subcommand it names: serve, check-config, probe, simulate, trace convert,
// explain, version (`ballast --help` lists them, `ballast COMMAND --help`
// describes one). Returns the exit code: 0 on success and for --help, 1 when
// the command fails, 2 on a usage error (what is wrong on `err`).
int Run(const Args& args, std::ostream& out, std::ostream& err);

// Run() on argv after the program name, with std::cout and std::cerr.
int Main(int argc, char** argv);

}  // namespace ballast::app

#endif  // BALLAST_APP_COMMANDS_H_
