// ballast/app/commands.h
//
// The subcommands of the `ballast` binary. Each takes the arguments after its
// name and returns the process exit code; output goes to the given streams so
// that tests can capture it.
//
//   int code = RunCheckConfig({"config/demo.yaml"}, std::cout, std::cerr);
#ifndef BALLAST_APP_COMMANDS_H_
#define BALLAST_APP_COMMANDS_H_

#include <ostream>
#include <string>
#include <vector>

namespace ballast::app {

using Args = std::vector<std::string>;

// `ballast check-config FILE`: 0 if valid; 1 and every error on `err`, one
// per line as FILE:LINE:COLUMN: key.path: message; 2 on a usage error.
int RunCheckConfig(const Args& args, std::ostream& out, std::ostream& err);

// `ballast simulate --config FILE --trace FILE.csv [--out DIR]
//  [--baseline hpa] [--pod-startup-seconds N] ...`
int RunSimulate(const Args& args, std::ostream& out, std::ostream& err);

// `ballast trace convert ...`: turns the shipped public traces into
// simulate's CSV format.
int RunTrace(const Args& args, std::ostream& out, std::ostream& err);

// `ballast probe --config FILE [--output table|json]`: reads every input and
// current replica count once; 1 if any read failed.
int RunProbe(const Args& args, std::ostream& out, std::ostream& err);

// `ballast explain TARGET [--server HOST:PORT] [--history N] [--json]`: asks
// a running ballast over gRPC why TARGET has its recommendation. 1 with the
// status message when the call fails; 2 on a usage error.
int RunExplain(const Args& args, std::ostream& out, std::ostream& err);

// `ballast serve --config FILE`: the daemon; returns after SIGTERM/SIGINT.
int RunServe(const Args& args, std::ostream& out, std::ostream& err);

// Dispatches argv[1] to the subcommands above; prints usage otherwise.
int Main(int argc, char** argv);

}  // namespace ballast::app

#endif  // BALLAST_APP_COMMANDS_H_
