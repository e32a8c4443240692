// ballast/net/http_server.h
//
// A small HTTP/1.1 server core on Boost.Beast, shared by the external metrics
// API (TLS) and the telemetry endpoint (plain TCP), plus the TLS context that
// reloads its certificate files.
//
//   boost::asio::io_context io;
//   HttpServerOptions options{.name = "telemetry", .listen = "127.0.0.1:0"};
//   absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
//       io, options, [](const HttpRequest& req, const PeerInfo& peer) {
//         return HttpResponse{.status = 200, .body = "ok\n"};
//       });
//   int port = (*server)->port();  // the bound port, also when listen said 0
//   ... io.run() on one or more threads ...
//   (*server)->Stop(absl::Seconds(5), [] { /* every connection is gone */ });
//
// Behaviour:
// - Each connection runs on its own strand (a C++20 coroutine), so the
//   io_context may run on several threads. The handler is called on that
//   strand; it must not block.
// - Keep-alive. A new connection, and every request once its first byte has
//   arrived, must complete within `request_timeout` (the TLS handshake
//   included); between requests a connection may stay idle for
//   `idle_timeout`. A client that stalls or sends nothing is disconnected.
// - A request larger than `max_request_bytes` (headers and body) gets 431
//   (headers) or 413 (body); malformed HTTP gets 400. All three close the
//   connection. A throwing handler gets 500.
// - Beyond `max_connections` open connections a new connection is accepted
//   and closed at once, without a response: for TLS, a 503 would first cost
//   a handshake, which is what an overloaded server can least afford.
// - Stop(): stops accepting, closes idle connections at once, lets requests
//   in flight finish with `Connection: close`, and closes what is left after
//   the grace period.
//
// Thread-safety: Start, Stop, port and the destructor may be called from any
// thread. Stop the server (and let `done` run) before destroying it; the
// destructor otherwise closes every connection itself and waits only for
// handler calls in progress, so the handler's captures must outlive it.
#ifndef BALLAST_NET_HTTP_SERVER_H_
#define BALLAST_NET_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/net/file_stamp.h"
#include "ballast/net/http_message.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}  // namespace ssl
}  // namespace boost::asio

namespace ballast::net {

// Who is at the other end of a connection.
struct PeerInfo {
  std::string remote_address;  // "127.0.0.1:54321"
  bool tls = false;
  // The client presented a certificate and its chain verified against the
  // context's client CA.
  bool client_cert_verified = false;
  // The verified certificate's subject common name; empty when there is no
  // verified certificate.
  std::string client_common_name;
};

using HttpHandler =
    std::function<HttpResponse(const HttpRequest&, const PeerInfo&)>;

// A handler that answers later: it must call `reply` exactly once, from any
// thread (for a response that waits on another server, e.g. an
// authorization check). A reply that has not come within the request
// timeout is answered with 504 by the server; a late reply is dropped.
using HttpReply = std::function<void(HttpResponse)>;
using AsyncHttpHandler =
    std::function<void(const HttpRequest&, const PeerInfo&, HttpReply reply)>;

// Percent-decodes one query-string component; `+` is a space.
// InvalidArgument on a malformed escape.
absl::StatusOr<std::string> DecodeQueryComponent(absl::string_view text);
// Percent-decodes a path segment (`+` stays `+`).
absl::StatusOr<std::string> DecodePathSegment(absl::string_view text);
// "a=1&b=x+y" -> {{"a","1"},{"b","x y"}}, decoded, in order; a parameter
// without '=' has an empty value. InvalidArgument on a malformed escape.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query);

struct TlsFiles {
  std::string cert_file;  // PEM, the chain (leaf first)
  std::string key_file;   // PEM
  // PEM CA bundle. Set: clients are asked (not required) for a certificate,
  // which is verified against it (PeerInfo says whether it verified; the
  // handshake never fails because of it). Empty: no client certificate is
  // asked for.
  std::string client_ca_file;
};

// A server TLS context built from files and rebuilt when any of them
// changes (device, inode, size or mtime, as a Kubernetes Secret volume's
// atomic symlink swap changes them). The files are checked with stat() at
// most every `check_interval`, when a connection asks for the context. A new
// set that fails to load is reported to `on_reload` and the previous context
// stays in use; the same failed set is not retried until it changes again.
//
// TLS 1.2 and 1.3 only; ALPN selects http/1.1 when the client offers it.
//
// Thread-safety: every method may be called from any thread.
class TlsContextSource {
 public:
  struct Options {
    absl::Duration check_interval = absl::Seconds(2);
    // Called after each reload attempt (not at creation) with its result.
    std::function<void(const absl::Status&)> on_reload;
  };

  // Loads the files. InvalidArgument (naming the file and OpenSSL's reason)
  // when they do not make a valid context, NotFound when one is missing.
  static absl::StatusOr<std::shared_ptr<TlsContextSource>> Create(
      TlsFiles files, Options options);

  // The context for a new connection (checks the files when due).
  std::shared_ptr<boost::asio::ssl::context> Current();
  // Replaces the client CA with PEM certificates held in memory (a CA read
  // from the cluster), used instead of `client_ca_file` from now on; new
  // connections are verified against it. InvalidArgument (the old context
  // stays) when `pem` holds no certificate or the context cannot be built.
  absl::Status SetClientCaPem(std::string pem);
  // Checks the files now. OK when unchanged or reloaded; the load error when
  // a changed set failed (the old context stays).
  absl::Status CheckNow();

  TlsContextSource(TlsFiles files, Options options);

 private:
  using FileIds = std::vector<FileStamp>;

  FileIds StatFiles() const;

  const TlsFiles files_;
  const Options options_;
  absl::Mutex mu_;
  std::string client_ca_pem_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<boost::asio::ssl::context> current_ ABSL_GUARDED_BY(mu_);
  FileIds loaded_ ABSL_GUARDED_BY(mu_);
  FileIds failed_ ABSL_GUARDED_BY(mu_);
  absl::Time next_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

struct HttpServerOptions {
  std::string name = "http";  // in error messages
  std::string listen;         // "host:port" or "[v6]:port"; port 0: any
  int32_t max_connections = 256;
  absl::Duration request_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(90);
  size_t max_request_bytes = 65536;       // headers + body
  std::shared_ptr<TlsContextSource> tls;  // null: plain HTTP
  // Called (on a connection's strand) for each request the core refuses by
  // itself: 400, 413, 431 with the code written, and 503 for a connection
  // closed because of max_connections. For metrics; must not block.
  std::function<void(int status)> on_rejected;
  // Called (on a connection's strand) for each TLS handshake that fails,
  // with why: "timeout" (not done within request_timeout), "closed" (the
  // client went away: EOF or reset) or "protocol" (not TLS, or TLS the
  // server refuses). For metrics; must not block.
  std::function<void(absl::string_view reason)> on_handshake_failed;
};

class HttpServer {
 public:
  // Binds `options.listen` and starts accepting on `io`. InvalidArgument for
  // a bad address, Unavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      boost::asio::io_context& io, HttpServerOptions options,
      HttpHandler handler);
  // As above, with a handler that replies asynchronously.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      boost::asio::io_context& io, HttpServerOptions options,
      AsyncHttpHandler handler);

  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound TCP port.
  int port() const { return port_; }

  // Graceful stop (see the file comment); returns at once. `done` runs on an
  // io_context thread once every connection is closed. Calling Stop again
  // only adds `done`.
  void Stop(absl::Duration grace, std::function<void()> done = nullptr);
  // Stop() and wait up to grace + 5 s for it to finish. Must not be called
  // on a thread running the io_context (that would wait for itself).
  void StopAndWait(absl::Duration grace);

  // Open connections right now.
  size_t connections() const;

  // Makes every open connection close after the response it is working on
  // (idle ones at once), without stopping the server: clients reconnect and
  // are authenticated again, e.g. after the client CA changed.
  void RecycleConnections();

  struct Core;  // shared with the connections; defined in http_server.cc

 private:
  static absl::StatusOr<std::unique_ptr<HttpServer>> Listen(
      boost::asio::io_context& io, std::shared_ptr<Core> core);

  explicit HttpServer(std::shared_ptr<Core> core, int port)
      : core_(std::move(core)), port_(port) {}

  std::shared_ptr<Core> core_;
  int port_ = 0;
};

}  // namespace ballast::net

#endif  // BALLAST_NET_HTTP_SERVER_H_
