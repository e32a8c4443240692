#include <iostream>

#include "ballast/app/commands.h"
#include "cli.h"

namespace ballast::app {

int Run(const Args& args, std::ostream& out, std::ostream& err) {
  Cli cli;
  return cli.Run(args, out, err);
}

int Main(int argc, char** argv) {
  return Run(Args(argv + 1, argv + argc), std::cout, std::cerr);
}

}  // namespace ballast::app
