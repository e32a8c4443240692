#include "integration/faults/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "integration/common/process.h"

namespace ballast::testing {
namespace {

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

ssize_t Recv(int fd, char* buf, size_t size) {
  while (true) {
    const ssize_t n = recv(fd, buf, size, 0);
    if (n < 0 && errno == EINTR) continue;
    return n;
  }
}

}  // namespace

absl::Status FaultProxy::Start(int upstream_port) {
  upstream_port_ = upstream_port;
  listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) {
    return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
  }
  const int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr = LoopbackAddr(0);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(listen_fd_);
    listen_fd_ = -1;
    return absl::InternalError(absl::StrCat("listen: ", std::strerror(err)));
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void FaultProxy::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_ || listen_fd_ < 0) return;
    stopping_ = true;
    for (const std::shared_ptr<Conn>& c : conns_) {
      if (!c->finished) {
        c->finished = true;
        shutdown(c->client, SHUT_RDWR);
        shutdown(c->upstream, SHUT_RDWR);
      }
    }
  }
  stopped_cv_.notify_all();
  shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  close(listen_fd_);
  // The acceptor is gone: no thread is added any more.
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void FaultProxy::Pass() {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = Mode::kPass;
}

void FaultProxy::Delay(absl::Duration delay) {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = Mode::kDelay;
  delay_ = delay;
}

void FaultProxy::Answer(std::string response) {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = Mode::kAnswer;
  answer_ = std::move(response);
}

void FaultProxy::Cut(std::string marker, size_t after, int times) {
  std::lock_guard<std::mutex> lock(mu_);
  mode_ = Mode::kCut;
  cut_marker_ = std::move(marker);
  cut_after_ = after;
  cut_times_ = times;
}

void FaultProxy::DropAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::shared_ptr<Conn>& c : conns_) {
    if (c->finished) continue;
    c->finished = true;
    shutdown(c->client, SHUT_RDWR);
    shutdown(c->upstream, SHUT_RDWR);
  }
}

int FaultProxy::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

int FaultProxy::cuts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cuts_;
}

absl::Time FaultProxy::last_cut() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_cut_;
}

size_t FaultProxy::last_cut_forwarded() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_cut_forwarded_;
}

size_t FaultProxy::last_cut_received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_cut_received_;
}

std::string FaultProxy::client_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return client_bytes_;
}

void FaultProxy::AcceptLoop() {
  while (true) {
    const int client = accept(listen_fd_, nullptr, nullptr);
    if (client < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down by Stop()
    }
    const int upstream = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = LoopbackAddr(upstream_port_);
    if (upstream < 0 || connect(upstream, reinterpret_cast<sockaddr*>(&addr),
                                sizeof(addr)) != 0) {
      if (upstream >= 0) close(upstream);
      close(client);
      continue;
    }
    const int one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    setsockopt(upstream, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_shared<Conn>();
    conn->client = client;
    conn->upstream = upstream;
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      close(client);
      close(upstream);
      return;
    }
    ++connections_;
    conns_.push_back(conn);
    threads_.emplace_back([this, conn] { ClientToUpstream(conn); });
    threads_.emplace_back([this, conn] { UpstreamToClient(conn); });
  }
}

void FaultProxy::ClientToUpstream(std::shared_ptr<Conn> conn) {
  char buf[16384];
  while (true) {
    const ssize_t n = Recv(conn->client, buf, sizeof(buf));
    if (n <= 0) break;
    Mode mode;
    absl::Duration delay;
    std::string answer;
    {
      std::lock_guard<std::mutex> lock(mu_);
      client_bytes_.append(buf, static_cast<size_t>(n));
      mode = mode_;
      delay = delay_;
      answer = answer_;
    }
    if (mode == Mode::kAnswer) {
      SendAll(conn->client, answer.data(), answer.size());
      break;
    }
    if (mode == Mode::kDelay && !Sleep(delay)) break;
    if (!SendAll(conn->upstream, buf, static_cast<size_t>(n))) break;
  }
  Finish(*conn, /*reset=*/false);
  PumpDone(*conn);
}

void FaultProxy::UpstreamToClient(std::shared_ptr<Conn> conn) {
  char buf[16384];
  bool cutting = false;
  std::string marker;
  size_t after = 0;
  std::string reply;     // of the reply being cut, every byte so far
  size_t forwarded = 0;  // of `reply`
  bool reset = false;
  while (true) {
    const ssize_t n = Recv(conn->upstream, buf, sizeof(buf));
    if (n <= 0) break;
    if (!cutting) {
      std::lock_guard<std::mutex> lock(mu_);
      if (mode_ == Mode::kCut && cut_times_ != 0) {
        cutting = true;
        if (cut_times_ > 0) --cut_times_;
        marker = cut_marker_;
        after = cut_after_;
        reply.clear();
        forwarded = 0;
      }
    }
    if (!cutting) {
      if (!SendAll(conn->client, buf, static_cast<size_t>(n))) break;
      continue;
    }
    reply.append(buf, static_cast<size_t>(n));
    const size_t at = marker.empty() ? 0 : reply.find(marker);
    const size_t limit =
        at == std::string::npos
            ? reply.size()
            : std::min(reply.size(), at + marker.size() + after);
    if (!SendAll(conn->client, reply.data() + forwarded, limit - forwarded)) {
      break;
    }
    forwarded = limit;
    if (at == std::string::npos || limit < at + marker.size() + after) {
      continue;  // not yet at the cut
    }
    Sleep(absl::Milliseconds(100));
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++cuts_;
      last_cut_ = absl::Now();
      last_cut_forwarded_ = forwarded;
      last_cut_received_ = reply.size();
    }
    reset = true;
    break;
  }
  Finish(*conn, reset);
  PumpDone(*conn);
}

void FaultProxy::Finish(Conn& conn, bool reset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn.finished) return;
  conn.finished = true;
  if (reset) {
    // Closing with a zero linger sends an RST instead of a FIN; until then
    // only the reading side is shut, which wakes the other pump.
    const linger abort{.l_onoff = 1, .l_linger = 0};
    setsockopt(conn.client, SOL_SOCKET, SO_LINGER, &abort, sizeof(abort));
    shutdown(conn.client, SHUT_RD);
  } else {
    shutdown(conn.client, SHUT_RDWR);
  }
  shutdown(conn.upstream, SHUT_RDWR);
}

void FaultProxy::PumpDone(Conn& conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (--conn.pumps > 0) return;
  close(conn.client);
  close(conn.upstream);
  std::erase_if(
      conns_, [&](const std::shared_ptr<Conn>& c) { return c.get() == &conn; });
}

bool FaultProxy::Sleep(absl::Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !stopped_cv_.wait_for(lock, absl::ToChronoNanoseconds(d),
                               [this] { return stopping_; });
}

}  // namespace ballast::testing
