#include "integration/common/tls_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "integration/common/process.h"

namespace ballast::testing {
namespace {

timeval SocketTimeval(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

}  // namespace

std::string HpaGetRequest(const std::string& path, bool close) {
  return absl::StrCat(
      "GET ", path,
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
      "X-Remote-User: system:serviceaccount:kube-system:"
      "horizontal-pod-autoscaler\r\n"
      "X-Remote-Group: system:serviceaccounts\r\n",
      close ? "Connection: close\r\n" : "", "\r\n");
}

bool ServerClosed(int fd, absl::Duration timeout, std::string* received) {
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
    const ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0 && received != nullptr) {
      received->append(buf, static_cast<size_t>(n));
    }
    if (n == 0) return true;
    if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
    if (n < 0 && (p.revents & (POLLERR | POLLHUP))) return true;
  }
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
  ClientTls tls{.ca_file = ca_file};
  if (!cert.empty()) tls.client = KeyPair{cert, key};
  return Connect(port, tls, timeout);
}

absl::Status TlsConnection::Connect(int port, const ClientTls& tls,
                                    absl::Duration timeout) {
  // A write to a connection the server reset is an error, not SIGPIPE
  // (ChildProcess restores the default for the servers it starts).
  static const bool ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
  (void)ignored;
  fd_ = ConnectTcp(port);
  if (fd_ < 0) {
    return absl::UnavailableError(
        absl::StrCat("connect: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  SetTimeout(timeout);
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx_, tls.ca_file.c_str(), nullptr) !=
        1) {
      return absl::InvalidArgumentError("cannot load " + tls.ca_file);
    }
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
  }
  if (tls.client &&
      (SSL_CTX_use_certificate_chain_file(ctx_,
                                          tls.client->cert_file.c_str()) != 1 ||
       SSL_CTX_use_PrivateKey_file(ctx_, tls.client->key_file.c_str(),
                                   SSL_FILETYPE_PEM) != 1)) {
    return absl::InvalidArgumentError("cannot load " + tls.client->cert_file);
  }
  ssl_ = SSL_new(ctx_);
  SSL_set_fd(ssl_, fd_);
  if (!tls.ca_file.empty()) SSL_set1_host(ssl_, "127.0.0.1");
  if (SSL_connect(ssl_) != 1) {
    ERR_clear_error();
    return absl::UnavailableError("TLS handshake failed");
  }
  return absl::OkStatus();
}

std::string TlsConnection::ServerCn() const {
  char buf[256] = {0};
  if (X509* cert = SSL_get1_peer_certificate(ssl_)) {
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
                              sizeof(buf));
    X509_free(cert);
  }
  return buf;
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

absl::StatusOr<HttpReply> TlsConnection::Get(const std::string& path,
                                             absl::Duration timeout) {
  SetTimeout(timeout);
  if (absl::Status s = Write(HpaGetRequest(path, /*close=*/false)); !s.ok()) {
    return s;
  }
  return ReadResponse(timeout);
}

absl::StatusOr<HttpReply> TlsConnection::ReadResponse(absl::Duration timeout) {
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
  HttpReply r;
  if (!ParseHead(absl::string_view(pending_).substr(0, end), r)) {
    return absl::DataLossError("bad status line: " +
                               pending_.substr(0, pending_.find("\r\n")));
  }
  size_t length = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    (void)absl::SimpleAtoi(it->second, &length);
  }
  while (pending_.size() < end + 4 + length) {
    if (absl::Status s = fill(); !s.ok()) return s;
  }
  r.body = pending_.substr(end + 4, length);
  pending_.erase(0, end + 4 + length);
  return r;
}

bool TlsConnection::WaitClosed(absl::Duration timeout, std::string* received) {
  const absl::Time deadline = absl::Now() + timeout;
  char buf[16384];
  for (;;) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    SetTimeout(left);
    const int n = SSL_read(ssl_, buf, sizeof(buf));
    if (n > 0) {
      if (received != nullptr) received->append(buf, static_cast<size_t>(n));
      continue;
    }
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
  absl::StatusOr<HttpReply> r = c.Get(path);
  return {std::move(r), absl::Now() - start};
}

// ---------------------------------------------------------------------------

absl::StatusOr<Exchange> RawExchange(int port, const ClientTls* tls,
                                     const std::string& bytes,
                                     absl::Duration timeout) {
  const absl::Time start = absl::Now();
  Exchange out;
  if (tls == nullptr) {
    const int fd = ConnectTcp(port);
    if (fd < 0) {
      return absl::UnavailableError(
          absl::StrCat("connect: ", std::strerror(errno)));
    }
    for (absl::string_view left = bytes; !left.empty();) {
      const ssize_t n = send(fd, left.data(), left.size(), MSG_NOSIGNAL);
      if (n <= 0) break;  // the server has closed: read what it sent
      left.remove_prefix(static_cast<size_t>(n));
    }
    out.closed_by_server = ServerClosed(fd, timeout, &out.received);
    close(fd);
  } else {
    TlsConnection c;
    if (absl::Status s = c.Connect(port, *tls, timeout); !s.ok()) return s;
    out.server_cn = c.ServerCn();
    // A write the server refuses halfway: read what it answered.
    if (!bytes.empty()) (void)c.Write(bytes);
    out.closed_by_server =
        c.WaitClosed(timeout - (absl::Now() - start), &out.received);
  }
  out.elapsed = absl::Now() - start;
  return out;
}

absl::StatusOr<HttpReply> Get(int port, const ClientTls* tls,
                              const std::string& target) {
  absl::StatusOr<Exchange> e =
      RawExchange(port, tls, HpaGetRequest(target, /*close=*/true));
  if (!e.ok()) return e.status();
  HttpReply reply = ParseReply(e->received);
  if (reply.status == 0) {
    return absl::DataLossError("no HTTP response in: " + e->received);
  }
  return reply;
}

}  // namespace ballast::testing
