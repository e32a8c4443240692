#include "integration/ha/control_plane.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ballast/source/kubernetes_client.h"

namespace ballast::testing {
namespace {

constexpr char kReady[] = "control plane ready";
constexpr char kApiserverLine[] = "apiserver   https://127.0.0.1:";

}  // namespace

std::string ControlPlane::Log() const {
  std::ifstream in(temp_.path() + "/harness.log");
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status ControlPlane::Start(absl::Duration timeout) {
  const char* bin = std::getenv("BALLAST_CLUSTER_BIN");
  if (bin == nullptr || *bin == '\0') {
    return absl::FailedPreconditionError(
        "BALLAST_CLUSTER_BIN is not set: run scripts/test, or export "
        "BALLAST_CLUSTER_BIN=$(source scripts/lib.sh; "
        "ballast_cluster_binaries)");
  }
  for (const char* tool :
       {"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"}) {
    const std::string path = absl::StrCat(bin, "/", tool);
    if (access(path.c_str(), X_OK) != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("BALLAST_CLUSTER_BIN=", bin, " has no ", tool));
    }
  }
  if (absl::Status s = harness_.Start(
          {kSystemPython,
           std::string(BALLAST_SOURCE_DIR) + "/tests/cluster/control_plane.py",
           "--bin-dir", bin, "--dir", dir()},
          temp_.path() + "/harness.log", {{"PYTHONUNBUFFERED", "1"}});
      !s.ok()) {
    return s;
  }
  const absl::Time deadline = absl::Now() + timeout;
  for (;;) {
    const std::string log = Log();
    if (absl::StrContains(log, kReady)) {
      const size_t at = log.find(kApiserverLine);
      const std::string port_text =
          at == std::string::npos ? ""
                                  : log.substr(at + sizeof(kApiserverLine) - 1,
                                               log.find('\n', at) - at -
                                                   sizeof(kApiserverLine) + 1);
      if (!absl::SimpleAtoi(port_text, &apiserver_port_)) {
        return absl::InternalError(
            absl::StrCat("no apiserver port in the harness's output:\n", log));
      }
      kubeconfig_ = dir() + "/admin.kubeconfig";
      return absl::OkStatus();
    }
    if (harness_.Exited()) {
      return absl::UnavailableError(
          absl::StrCat("the control plane harness exited:\n", log));
    }
    if (absl::Now() > deadline) {
      return absl::UnavailableError(
          absl::StrCat("the control plane was not ready after ",
                       absl::FormatDuration(timeout), ":\n", log));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void ControlPlane::Stop() {
  // SIGTERM: the harness stops its servers in order (SIGKILL after 5 s).
  if (harness_.running()) harness_.Stop();
}

absl::StatusOr<net::HttpClientOptions> ControlPlane::AdminOptions() const {
  return source::KubernetesClientOptions({.kubeconfig = kubeconfig_});
}

}  // namespace ballast::testing
