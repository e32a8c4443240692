#include "integration/faults/net_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "integration/common/process.h"

namespace ballast::testing {

absl::Status MakeServingPki(const std::string& dir) {
  return RunCommand({"/bin/bash", "-ec",
                     absl::StrReplaceAll(R"(
cd DIR
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2"
openssl req -x509 $ec -keyout ca.key -out ca.crt -subj /CN=serving-ca 2>/dev/null
openssl req -x509 $ec -keyout proxy-ca.key -out proxy-ca.crt -subj /CN=front-proxy-ca 2>/dev/null
openssl req -new $ec -keyout server.key -out server.csr -subj /CN=ballast 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.crt 2>/dev/null
openssl req -new $ec -keyout proxy.key -out proxy.csr -subj /CN=front-proxy-client 2>/dev/null
openssl x509 -req -in proxy.csr -CA proxy-ca.crt -CAkey proxy-ca.key -CAcreateserial -days 2 -out proxy.crt 2>/dev/null
)",
                                         {{"DIR", dir}})})
      .status();
}

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

timeval SocketTimeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
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

int ConnectTcp(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool ServerClosed(int fd, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[16384];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{.fd = fd, .events = POLLIN | POLLRDHUP, .revents = 0};
    const int r =
        poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP)) return true;
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
  }
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

TlsConnection::~TlsConnection() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

void TlsConnection::SetTimeout(absl::Duration timeout) {
  const timeval tv = SocketTimeval(timeout);
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

absl::Status TlsConnection::Connect(int port, const std::string& ca_file,
                                    const std::string& cert,
                                    const std::string& key,
                                    absl::Duration timeout) {
  fd_ = ConnectTcp(port);
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("connect: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SetTimeout(timeout);
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) {
    return absl::InvalidArgumentError("cannot load " + ca_file);
  }
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  if (!cert.empty() &&
      (SSL_CTX_use_certificate_chain_file(ctx_, cert.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, key.c_str(), SSL_FILETYPE_PEM) != 1)) {
    return absl::InvalidArgumentError("cannot load " + cert);
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  SSL_set1_host(ssl_, "127.0.0.1");
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    return absl::UnavailableError("TLS handshake failed");
  }
  return absl::OkStatus();
}

absl::Status TlsConnection::Write(absl::string_view bytes) {
  while (!bytes.empty()) {
    const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
    if (n <= 0) {
      ERR_clear_error();
      return absl::UnavailableError("TLS write failed");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsResponse> TlsConnection::Get(const std::string& path,
                                               absl::Duration timeout) {
  SetTimeout(timeout);
  if (absl::Status s = Write(absl::StrCat(
          "GET ", path,
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
          "X-Remote-User: system:serviceaccount:kube-system:"
          "horizontal-pod-autoscaler\r\n"
          "X-Remote-Group: system:serviceaccounts\r\n\r\n"));
      !s.ok()) {
    return s;
  }
  return ReadResponse(timeout);
}

absl::StatusOr<TlsResponse> TlsConnection::ReadResponse(
    absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto fill = [&]() -> absl::Status {
    if (absl::Now() > deadline) return absl::DeadlineExceededError("timeout");
    char buf[16384];
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n <= 0) {
      ERR_clear_error();
      return absl::UnavailableError("the server closed the connection");
    }
    pending_.append(buf, static_cast<size_t>(n));
    return absl::OkStatus();
  };
  size_t end;
  while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
    if (absl::Status s = fill(); !s.ok()) return s;
  }
  TlsResponse r;
  std::vector<std::string> lines =
      absl::StrSplit(pending_.substr(0, end), "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &r.status)) {
    return absl::DataLossError("bad status line: " + lines[0]);
  }
  size_t length = 0;
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    const std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    const std::string value(
        absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    if (name == "content-length") (void)absl::SimpleAtoi(value, &length);
    if (name == "connection" && absl::EqualsIgnoreCase(value, "close")) {
      r.close = true;
    }
  }
  while (pending_.size() < end + 4 + length) {
    if (absl::Status s = fill(); !s.ok()) return s;
  }
  r.body = pending_.substr(end + 4, length);
  pending_.erase(0, end + 4 + length);
  return r;
}

bool TlsConnection::WaitClosed(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[16384];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    SetTimeout(left);
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) continue;
    const int error = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if ((error == SSL_ERROR_SYSCALL || error == SSL_ERROR_WANT_READ) &&
        (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return false;  // SO_RCVTIMEO ran out: still open
    }
    return true;  // close_notify, EOF or reset
  }
}

TimedResponse FreshGet(int port, const std::string& ca_file,
                       const std::string& path, const std::string& cert,
                       const std::string& key) {
  const absl::Time start = absl::Now();
  TlsConnection c;
  absl::Status s = c.Connect(port, ca_file, cert, key);
  if (!s.ok()) return {s, absl::Now() - start};
  absl::StatusOr<TlsResponse> r = c.Get(path);
  return {std::move(r), absl::Now() - start};
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
