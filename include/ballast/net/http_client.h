// ballast/net/http_client.h
//
// An asynchronous HTTP/1.1 client for one endpoint (a base URL), shared by
// the Prometheus and Kubernetes sources: http and https (OpenSSL, CA file,
// SNI, peer and host name verification), keep-alive connections reused
// between requests, a deadline per request (resolve + connect + TLS + write +
// read), a response body size limit, a limit on requests in flight (the rest
// wait in FIFO order), extra headers, a bearer token read from a file (read
// again when the file changes, as Kubernetes rotates projected tokens) and
// basic auth. Errors are absl::Status values naming the method, host and path;
// no exception leaves this module. Credentials never appear in a status.
//
//   boost::asio::io_context io;
//   HttpClientOptions options{.base_url = "http://127.0.0.1:9090"};
//   absl::StatusOr<std::unique_ptr<HttpClient>> client =
//       HttpClient::Create(io, options);
//   (*client)->Send({.target = "/-/ready"},
//                   [](absl::StatusOr<HttpResponse> r) { ... });
//   io.run();
//
//   // Blocking, with its own io_context (for `ballast probe`):
//   absl::StatusOr<HttpResponse> r = HttpClient::Fetch(options, {.target="/"});
#ifndef BALLAST_NET_HTTP_CLIENT_H_
#define BALLAST_NET_HTTP_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/net/file_stamp.h"
#include "ballast/net/http_message.h"
#include "ballast/net/http_options.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::net {

// A parsed base URL: scheme://host[:port][/path-prefix]. IPv6 literals are
// written in brackets; `host` keeps them off.
struct Url {
  bool tls = false;  // https
  std::string host;
  uint16_t port = 0;        // defaulted to 80 / 443 when absent
  std::string path_prefix;  // "" or "/prefix" (no trailing slash)

  // "http://127.0.0.1:9090", brackets around IPv6 hosts.
  std::string Origin() const;
};

// InvalidArgument for anything but http/https with a host, a valid port and
// no query or fragment.
absl::StatusOr<Url> ParseUrl(absl::string_view url);

// Percent-encodes all but RFC 3986 unreserved characters (A-Z a-z 0-9 -._~).
std::string UrlEncode(absl::string_view text);

// "k1=v1&k2=v2", each name and value UrlEncode()d: valid both as a URL query
// and as an application/x-www-form-urlencoded body.
std::string EncodeQuery(
    const std::vector<std::pair<std::string, std::string>>& params);

// The status code for an HTTP error status (>= 400), shared by the sources:
// 401 Unauthenticated, 403 PermissionDenied, 404 NotFound, 408 and 504
// DeadlineExceeded, 429 and other 5xx Unavailable, other 4xx
// InvalidArgument. Callers override what means something else to them.
absl::StatusCode CodeForHttpStatus(int http_status);

// The first `max_bytes` of `text` (then "..."), with control characters
// shown as '?', for quoting bodies and queries in error messages.
std::string Shorten(absl::string_view text, size_t max_bytes = 120);

// The contents of a secret file (a bearer token), read again whenever its
// modification time, size or inode changes; surrounding whitespace is
// trimmed. Thread-safe.
class SecretFile {
 public:
  explicit SecretFile(std::string path) : path_(std::move(path)) {}

  // FailedPrecondition naming the path when it cannot be read or is empty.
  absl::StatusOr<std::string> Get();
  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  absl::Mutex mu_;
  FileStamp stamp_ ABSL_GUARDED_BY(mu_);
  std::string value_ ABSL_GUARDED_BY(mu_);
};

class HttpClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<HttpResponse>) &&>;

  // InvalidArgument for a bad base URL or limits; FailedPrecondition when
  // the CA or the client certificate cannot be loaded.
  static absl::StatusOr<std::unique_ptr<HttpClient>> Create(
      boost::asio::io_context& io, HttpClientOptions options);

  // Destroying the client closes its connections; requests not finished get
  // their callback with Cancelled (when the io_context runs again).
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request`; `done` runs exactly once on the io_context, with the
  // response (any status code), or:
  //   Unavailable       resolve/connect/TLS failure, connection reset
  //   DeadlineExceeded  not finished within options.timeout
  //   ResourceExhausted body larger than options.max_body_bytes
  //   DataLoss          malformed or truncated HTTP response
  //   FailedPrecondition unreadable token or password file
  //   Cancelled         the client was destroyed
  // GET, POST and PUT; another method is InvalidArgument.
  // A request that fails on a reused keep-alive connection before any byte
  // of a response arrives (the server closed it while idle) is sent once
  // more on a new connection; every method alike, as the sources only send
  // idempotent queries and the Lease elector's PUTs carry a resourceVersion
  // (a PUT applied twice fails the second time with 409 Conflict).
  // Thread-safe: may be called from any thread.
  void Send(HttpRequest request, Callback done);

  // Runs one request to completion on a private io_context.
  static absl::StatusOr<HttpResponse> Fetch(HttpClientOptions options,
                                            HttpRequest request);

  const HttpClientOptions& options() const;

  class Impl;

 private:
  explicit HttpClient(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace ballast::net

#endif  // BALLAST_NET_HTTP_CLIENT_H_
