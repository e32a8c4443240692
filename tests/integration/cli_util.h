// tests/integration/cli_util.h
//
// Runs the real `ballast` binary (BALLAST_BINARY, set by tests/CMakeLists)
// for the CLI tests.
//
//   CliRun r = Ballast(dir, "check-config demo.yaml");
//   EXPECT_EQ(r.exit_code, 0);
#ifndef BALLAST_TESTS_INTEGRATION_CLI_UTIL_H_
#define BALLAST_TESTS_INTEGRATION_CLI_UTIL_H_

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace ballast::testing {

struct CliRun {
  int exit_code;
  std::string output;
};

// Runs `ballast ARGS` in `dir`; captures stderr, and stdout too when
// `keep_stdout` (else stdout is discarded).
inline CliRun Ballast(const std::string& dir, const std::string& args,
                      bool keep_stdout = false) {
  const std::string command = "cd '" + dir + "' && " + BALLAST_BINARY + " " +
                              args +
                              (keep_stdout ? " 2>&1" : " 2>&1 >/dev/null");
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_CLI_UTIL_H_
