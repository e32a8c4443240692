#include "integration/common/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ballast::testing {
namespace {

absl::Status Errno(absl::string_view what) {
  return absl::InternalError(absl::StrCat(what, ": ", std::strerror(errno)));
}

}  // namespace

sockaddr_in LoopbackAddr(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

int ConnectTcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr = LoopbackAddr(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

absl::StatusOr<int> FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Errno("socket");
  sockaddr_in addr = LoopbackAddr(0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return Errno("bind");
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

absl::Status WaitForPort(int port, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = LoopbackAddr(port);
    const bool ok =
        connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (ok) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("nothing listens on 127.0.0.1:", port, " after ",
                   absl::FormatDuration(timeout)));
}

absl::StatusOr<std::string> FindBinary(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (access(name.c_str(), X_OK) == 0) return name;
    return absl::NotFoundError(absl::StrCat(name, " is not executable"));
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  // Debian installs servers under /usr/sbin and /usr/bin.
  absl::StrAppend(&dirs, ":/usr/sbin:/usr/bin:/sbin:/bin");
  for (absl::string_view dir : absl::StrSplit(dirs, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(
      "'", name,
      "' not found on PATH: install its Debian package (scripts/test "
      "does), a missing server is a failure, not a skip"));
}

TempDir::TempDir() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "ballast-XXXXXX");
  char* made = mkdtemp(tmpl.data());
  path_ = made ? made : "";
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

ChildProcess::~ChildProcess() { Stop(); }

absl::Status ChildProcess::Start(
    const std::vector<std::string>& argv, const std::string& log_path,
    const std::map<std::string, std::string>& env) {
  if (argv.empty()) return absl::InvalidArgumentError("empty argv");
  Stop();
  const std::string log = log_path.empty() ? "/dev/null" : log_path;
  const pid_t pid = fork();
  if (pid < 0) return Errno("fork");
  if (pid == 0) {
    setpgid(0, 0);
    signal(SIGPIPE, SIG_DFL);  // the test client may ignore it
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv)
      args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  setpgid(pid, pid);
  pid_ = pid;
  return absl::OkStatus();
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0) kill(-pid_, signal);
}

bool ChildProcess::Exited() {
  if (pid_ <= 0) return true;
  const pid_t r = waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) {
    kill(-pid_, SIGKILL);  // stragglers of the group
    pid_ = -1;
    return true;
  }
  return false;
}

int ChildProcess::Stop() {
  if (pid_ <= 0) return status_;
  Signal(SIGTERM);
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    if (Exited()) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Signal(SIGKILL);
  waitpid(pid_, &status_, 0);
  pid_ = -1;
  return status_;
}

void RedisServer::Kill() {
  process_.Signal(SIGKILL);
  process_.Stop();
}

absl::Status RedisServer::Start(const std::vector<std::string>& extra_args) {
  absl::StatusOr<std::string> binary = FindBinary("redis-server");
  if (!binary.ok()) return binary.status();
  if (port_ == 0) {
    absl::StatusOr<int> port = FreePort();
    if (!port.ok()) return port.status();
    port_ = *port;
  }
  std::vector<std::string> argv = {
      *binary,    "--port", std::to_string(port_), "--bind", "127.0.0.1",
      "--save",   "",       "--appendonly",        "no",     "--dir",
      dir_.path()};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (absl::Status s = process_.Start(argv, dir_.path() + "/redis.log");
      !s.ok()) {
    return s;
  }
  return WaitForPort(port_, absl::Seconds(10));
}

absl::StatusOr<std::string> RunCommand(const std::vector<std::string>& argv,
                                       absl::Duration timeout) {
  TempDir dir;
  const std::string out = dir.path() + "/out";
  ChildProcess child;
  if (absl::Status s = child.Start(argv, out); !s.ok()) return s;
  const absl::Time deadline = absl::Now() + timeout;
  while (!child.Exited()) {
    if (absl::Now() > deadline) {
      child.Stop();
      return absl::DeadlineExceededError(absl::StrCat(
          argv[0], " did not finish in ", absl::FormatDuration(timeout)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const int status = child.Stop();
  std::string text;
  if (FILE* f = fopen(out.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) text.append(buf, n);
    fclose(f);
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(
        absl::StrCat(argv[0], " failed (status ", status, "): ", text));
  }
  return text;
}

}  // namespace ballast::testing
