// tests/integration/ha/control_plane.h
//
// A real Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager on free loopback ports) for C++ tests: the one
// tests/cluster/control_plane.py builds, run as a child process in its
// scripts/cluster mode, so that certificates and flags are written once.
// The binaries come from $BALLAST_CLUSTER_BIN (scripts/test exports it); a
// missing one is a failure, never a skip.
//
//   ControlPlane cp;
//   ASSERT_TRUE(cp.Start().ok());
//   absl::StatusOr<net::HttpClientOptions> admin = cp.AdminOptions();
//   ...                      // stopped (and its directory removed) at scope
//   end
#ifndef BALLAST_TESTS_INTEGRATION_HA_CONTROL_PLANE_H_
#define BALLAST_TESTS_INTEGRATION_HA_CONTROL_PLANE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/net/http_client.h"
#include "integration/common/process.h"

namespace ballast::testing {

class ControlPlane {
 public:
  ControlPlane() = default;
  ~ControlPlane() { Stop(); }
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Starts it and waits until the apiserver is ready and the controller
  // manager works. FailedPrecondition when BALLAST_CLUSTER_BIN is unset or
  // lacks a binary; Unavailable (with the harness's log) when it does not
  // come up within `timeout`.
  absl::Status Start(absl::Duration timeout = absl::Seconds(240));
  // Stops every server (the harness stops them in order).
  void Stop();

  // The admin's kubeconfig (system:masters) and the apiserver's port.
  const std::string& kubeconfig() const { return kubeconfig_; }
  int apiserver_port() const { return apiserver_port_; }
  // The admin's client options (source::KubernetesClientOptions of the
  // kubeconfig).
  absl::StatusOr<net::HttpClientOptions> AdminOptions() const;
  // The harness's output so far (its servers log under dir()/logs).
  std::string Log() const;
  std::string dir() const { return temp_.path() + "/cp"; }

 private:
  TempDir temp_;
  ChildProcess harness_;
  std::string kubeconfig_;
  int apiserver_port_ = 0;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_HA_CONTROL_PLANE_H_
