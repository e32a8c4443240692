// tests/integration/faults/fault_proxy.h
//
// A TCP proxy on 127.0.0.1 between ballast and a real server, for the faults
// a real server cannot produce on demand: an answer slower than the client's
// timeout, a canned answer (a 5xx, garbage), a reply cut short and the
// connection reset, every open connection dropped. It forwards bytes as they
// are (TLS passes through), one thread per direction and connection; the
// mode is read at every chunk, so it applies to open keep-alive connections
// too.
//
//   FaultProxy proxy;
//   ASSERT_TRUE(proxy.Start(redis.port()).ok());   // point ballast at
//   ...                                            // proxy.port()
//   proxy.Cut("", 7, /*times=*/1);  // the next reply: 7 bytes, then a reset
#ifndef BALLAST_TESTS_INTEGRATION_FAULTS_FAULT_PROXY_H_
#define BALLAST_TESTS_INTEGRATION_FAULTS_FAULT_PROXY_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ballast::testing {

class FaultProxy {
 public:
  FaultProxy() = default;
  ~FaultProxy() { Stop(); }
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // Listens on a free loopback port; each connection accepted is connected
  // to 127.0.0.1:upstream_port.
  absl::Status Start(int upstream_port);
  // Closes everything and joins every thread.
  void Stop();
  int port() const { return port_; }

  // Forwards both ways (the initial mode).
  void Pass();
  // Holds each chunk a client sends for `delay` before it forwards it.
  void Delay(absl::Duration delay);
  // Answers each chunk a client sends with `response` itself (the upstream
  // sees nothing), then closes the connection.
  void Answer(std::string response);
  // Cuts the next `times` replies (-1: until the mode changes): forwards
  // the reply up to `after` bytes past the first `marker` in it ("" : from
  // its first byte), waits 100 ms (so that the client reads them), then
  // resets the client's connection (RST) and closes the upstream's.
  void Cut(std::string marker, size_t after, int times = -1);
  // Closes every open connection (FIN), as a server closing idle ones.
  void DropAll();

  // Connections accepted so far.
  int connections() const;
  // Replies cut so far, the time of the last cut, and, for the last cut,
  // how many bytes of the reply were forwarded and how many had arrived
  // from the upstream.
  int cuts() const;
  absl::Time last_cut() const;
  size_t last_cut_forwarded() const;
  size_t last_cut_received() const;
  // Every byte the clients sent, in the order it arrived.
  std::string client_bytes() const;

 private:
  enum class Mode { kPass, kDelay, kAnswer, kCut };
  struct Conn {
    int client = -1;
    int upstream = -1;
    bool finished = false;  // both sockets shut down
    int pumps = 2;          // pump threads still running
  };

  void AcceptLoop();
  void ClientToUpstream(std::shared_ptr<Conn> conn);
  void UpstreamToClient(std::shared_ptr<Conn> conn);
  // Shuts both sockets down (waking both pumps): `reset` sends the client
  // an RST when its socket is closed, else a FIN now.
  void Finish(Conn& conn, bool reset);
  // Called by each pump as it ends; the last one closes the sockets.
  void PumpDone(Conn& conn);
  // Sleeps up to `d`; false if the proxy stopped meanwhile.
  bool Sleep(absl::Duration d);

  int port_ = 0;
  int upstream_port_ = 0;
  int listen_fd_ = -1;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable stopped_cv_;
  bool stopping_ = false;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<std::thread> threads_;
  Mode mode_ = Mode::kPass;
  absl::Duration delay_;
  std::string answer_;
  std::string cut_marker_;
  size_t cut_after_ = 0;
  int cut_times_ = 0;
  int connections_ = 0;
  int cuts_ = 0;
  absl::Time last_cut_ = absl::InfinitePast();
  size_t last_cut_forwarded_ = 0;
  size_t last_cut_received_ = 0;
  std::string client_bytes_;
};

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_FAULTS_FAULT_PROXY_H_
