#include "integration/faults/net_client.h"

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace ballast::testing {

int64_t SetNoFileLimit(int64_t want) {
  struct rlimit limit {};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = std::min<rlim_t>(static_cast<rlim_t>(want), limit.rlim_max);
  setrlimit(RLIMIT_NOFILE, &limit);
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<int64_t>(limit.rlim_cur);
}

int64_t HardNoFileLimit() {
  struct rlimit limit {};
  getrlimit(RLIMIT_NOFILE, &limit);
  return static_cast<int64_t>(limit.rlim_max);
}

int CountFds(pid_t pid) {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it(
           absl::StrCat("/proc/", pid, "/fd"), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

namespace {

std::string ProcFile(pid_t pid, const std::string& name) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/", name));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::pair<int64_t, int64_t> NoFileLimitsOf(pid_t pid) {
  for (absl::string_view line : absl::StrSplit(ProcFile(pid, "limits"), '\n')) {
    if (!absl::ConsumePrefix(&line, "Max open files")) continue;
    std::vector<absl::string_view> f =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    int64_t soft = 0, hard = 0;
    if (f.size() >= 2 && absl::SimpleAtoi(f[0], &soft) &&
        absl::SimpleAtoi(f[1], &hard)) {
      return {soft, hard};
    }
  }
  return {-1, -1};
}

int64_t RssKib(pid_t pid) {
  for (absl::string_view line : absl::StrSplit(ProcFile(pid, "status"), '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    int64_t kib = 0;
    if (absl::SimpleAtoi(
            absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib)) {
      return kib;
    }
  }
  return -1;
}

std::string ClientHelloBytes() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);  // takes both
  SSL_set_tlsext_host_name(ssl, "127.0.0.1");
  SSL_connect(ssl);  // wants to read the ServerHello: the hello is in `out`
  std::string hello;
  char buf[4096];
  int n;
  while ((n = BIO_read(out, buf, sizeof(buf))) > 0) hello.append(buf, n);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

// ---------------------------------------------------------------------------

IsActiveStream::IsActiveStream(int grpc_port, const std::string& target)
    : channel_(grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port),
                                   grpc::InsecureChannelCredentials())),
      stub_(externalscaler::ExternalScaler::NewStub(channel_)) {
  externalscaler::ScaledObjectRef ref;
  ref.set_name(target);
  ref.set_namespace_("speech");
  (*ref.mutable_scalermetadata())["target"] = target;
  reader_ = std::thread([this, ref] {
    std::unique_ptr<grpc::ClientReader<externalscaler::IsActiveResponse>>
        reader = stub_->StreamIsActive(&context_, ref);
    externalscaler::IsActiveResponse response;
    while (reader->Read(&response)) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(response.result());
    }
    grpc::Status status = reader->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    ended_ = true;
    ended_at_ = absl::Now();
  });
}

IsActiveStream::~IsActiveStream() {
  context_.TryCancel();
  reader_.join();
}

std::vector<bool> IsActiveStream::results() {
  std::lock_guard<std::mutex> lock(mu_);
  return results_;
}

bool IsActiveStream::ended() {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_;
}

grpc::Status IsActiveStream::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

absl::Time IsActiveStream::ended_at() {
  std::lock_guard<std::mutex> lock(mu_);
  return ended_at_;
}

bool IsActiveStream::WaitForResults(size_t count, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (results_.size() >= count) return true;
      if (ended_) return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool IsActiveStream::WaitEnded(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (ended()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ended();
}

}  // namespace ballast::testing
