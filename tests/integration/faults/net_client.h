// tests/integration/faults/net_client.h
//
// Clients for the config and serving faults besides the common TLS client
// (integration/common/tls_client.h): a raw ClientHello, a KEDA
// StreamIsActive stream read on its own thread, and what /proc says about
// the daemon (open descriptors, limits, memory).
#ifndef BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_
#define BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "integration/common/process.h"
#include "integration/common/test_pki.h"
#include "integration/common/tls_client.h"

namespace ballast::testing {

// Sets this process's soft RLIMIT_NOFILE to min(want, hard); returns the
// soft limit now in force.
int64_t SetNoFileLimit(int64_t want);
// The hard RLIMIT_NOFILE of this process.
int64_t HardNoFileLimit();

// /proc/PID: open descriptors, "Max open files" (soft, hard), VmRSS in KiB.
int CountFds(pid_t pid);
std::pair<int64_t, int64_t> NoFileLimitsOf(pid_t pid);
int64_t RssKib(pid_t pid);

// The first TLS record a client sends (a real ClientHello, by OpenSSL).
std::string ClientHelloBytes();

// KEDA's StreamIsActive for one target, read on its own thread until the
// server ends it (or the destructor cancels it).
class IsActiveStream {
 public:
  IsActiveStream(int grpc_port, const std::string& target);
  ~IsActiveStream();
  IsActiveStream(const IsActiveStream&) = delete;
  IsActiveStream& operator=(const IsActiveStream&) = delete;

  // The results pushed so far, in order.
  std::vector<bool> results();
  bool ended();
  // The final status; valid once ended().
  grpc::Status status();
  absl::Time ended_at();
  // Waits until `count` results came (or the stream ended).
  bool WaitForResults(size_t count, absl::Duration timeout);
  bool WaitEnded(absl::Duration timeout);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<externalscaler::ExternalScaler::Stub> stub_;
  grpc::ClientContext context_;
  std::mutex mu_;
  std::vector<bool> results_;
  bool ended_ = false;
  grpc::Status status_;
  absl::Time ended_at_;
  std::thread reader_;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_FAULTS_NET_CLIENT_H_
