#include <iostream>
#include <string>
#include <string_view>

#include "ballast/app/commands.h"
#include "ballast/version.h"

namespace ballast::app {
namespace {

constexpr std::string_view kUsage =
    R"(usage: ballast <command> [options]

commands:
  serve --config FILE    the daemon: poll, recommend, serve (HPA, KEDA, gRPC)
  check-config FILE      validate a policy config; print every error
  probe --config FILE    read every input once and print it (or its error)
  simulate               replay a load trace through the engine
                         (ballast simulate --help)
  trace convert          turn a public trace into simulate's CSV format
                         (ballast trace convert --help)
  explain TARGET         ask a running ballast why TARGET has its
                         recommendation (ballast explain --help)
  version                print the version
)";

}  // namespace

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string_view command = argv[1];
  Args args(argv + 2, argv + argc);
  if (command == "check-config")
    return RunCheckConfig(args, std::cout, std::cerr);
  if (command == "simulate") return RunSimulate(args, std::cout, std::cerr);
  if (command == "trace") return RunTrace(args, std::cout, std::cerr);
  if (command == "explain") return RunExplain(args, std::cout, std::cerr);
  if (command == "probe") return RunProbe(args, std::cout, std::cerr);
  if (command == "serve") return RunServe(args, std::cout, std::cerr);
  if (command == "version" || command == "--version") {
    std::cout << "ballast " << kVersion << "\n";
    return 0;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    std::cout << kUsage;
    return 0;
  }
  std::cerr << "ballast: unknown command '" << command << "'\n" << kUsage;
  return 2;
}

}  // namespace ballast::app
