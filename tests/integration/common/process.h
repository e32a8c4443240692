// tests/integration/common/process.h
//
// Real servers for integration tests: free loopback ports, child processes
// that are always stopped, and a redis-server on a free port.
//
//   ASSERT_OK_AND_ASSIGN(int port, FreePort());
//   ChildProcess redis;
//   ASSERT_TRUE(redis.Start({FindBinary("redis-server"), "--port", ...}).ok());
//   ASSERT_TRUE(WaitForPort(port, absl::Seconds(10)).ok());
//   ...                    // redis is killed when `redis` goes out of scope
//
// A missing server binary is a test failure, never a skip: FindBinary
// returns NotFound and the tests ASSERT on it.
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_PROCESS_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_PROCESS_H_

#include <netinet/in.h>
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ballast::testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
// released). Good enough for tests that start a server on it at once.
absl::StatusOr<int> FreePort();

// The socket address 127.0.0.1:port.
sockaddr_in LoopbackAddr(int port);

// A TCP connection to 127.0.0.1:port (blocking connect); -1 on failure.
int ConnectTcp(int port);

// Waits until something accepts TCP connections on 127.0.0.1:port.
absl::Status WaitForPort(int port, absl::Duration timeout);

// The absolute path of `name` on PATH (or `name` itself if it is a path).
// NotFound names the Debian package to install when known.
absl::StatusOr<std::string> FindBinary(const std::string& name);

// A fresh temporary directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process in its own process group. Stop() (also run by the
// destructor) sends SIGTERM to the group, waits up to 5 s, then SIGKILLs.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (a path) with argv; stdout and stderr go to `log_path`
  // (or /dev/null when empty); `env` entries are added to the environment.
  absl::Status Start(const std::vector<std::string>& argv,
                     const std::string& log_path = "",
                     const std::map<std::string, std::string>& env = {});
  // Stops the process group; returns the exit status as waitpid gives it.
  int Stop();
  // Sends `signal` to the process group.
  void Signal(int signal);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Whether the child has exited (reaps it if so).
  bool Exited();

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// A redis-server on a free loopback port, no persistence, in a temp dir.
class RedisServer {
 public:
  // Starts it and waits until it accepts connections.
  absl::Status Start(const std::vector<std::string>& extra_args = {});
  // Stops it (data is lost; Start() again gives an empty server on the same
  // port, for outage-and-recovery tests).
  void Stop() { process_.Stop(); }
  // SIGKILLs it (no shutdown of its own) and reaps it; Start() again as
  // after Stop().
  void Kill();
  // Sends `signal` to it: SIGSTOP makes a server that accepts connections
  // and answers nothing (a hung server), SIGCONT resumes it.
  void Signal(int signal) { process_.Signal(signal); }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  TempDir dir_;
  ChildProcess process_;
  int port_ = 0;
};

// Runs a command to completion; returns its stdout. Fails on a non-zero exit.
absl::StatusOr<std::string> RunCommand(
    const std::vector<std::string>& argv,
    absl::Duration timeout = absl::Seconds(60));

// Debian's Python with python3-celery, -redis, -prometheus-client, -grpcio.
// The `python3` on PATH may be another Python without them.
inline constexpr char kSystemPython[] = "/usr/bin/python3";

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_PROCESS_H_
