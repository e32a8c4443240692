// HttpClient on Boost.Beast with C++20 coroutines. All state of a client
// lives on one strand; each request runs as a coroutine on it. Boost error
// codes (and any exception) become absl::Status here and go no further.
#include "ballast/net/http_client.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <exception>
#include <optional>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "await.h"
#include "ballast/net/asio_time.h"
#include "ballast/version.h"

namespace ballast::net {

namespace http = beast::http;
using Strand = asio::strand<asio::io_context::executor_type>;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxTargetInMessage = 120;

bool IsIpAddress(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// One keep-alive connection, plain or TLS.
struct Connection : TcpOrTlsStream {
  beast::flat_buffer buffer;  // bytes read past a response stay for the next
};

// Why a request attempt failed, before it is worded for the caller.
struct Failure {
  boost::system::error_code ec;
  absl::string_view stage;      // "connect", "TLS handshake", "read", ...
  bool before_response = true;  // no byte of a response was received
};

}  // namespace

class HttpClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, HttpClientOptions options, Url url,
       std::unique_ptr<ssl::context> tls)
      : strand_(asio::make_strand(io)),
        options_(std::move(options)),
        url_(std::move(url)),
        tls_(std::move(tls)) {
    if (!options_.bearer_token_file.empty()) {
      token_.emplace(options_.bearer_token_file);
    }
    if (!options_.basic_auth_password_file.empty()) {
      password_file_.emplace(options_.basic_auth_password_file);
    }
  }

  const HttpClientOptions& options() const { return options_; }

  void Send(HttpRequest request, Callback done) {
    asio::post(strand_,
               [self = shared_from_this(),
                p = Pending{std::move(request), std::move(done)}]() mutable {
                 if (self->shut_down_) {
                   std::move(p.done)(self->Cancelled(p.request));
                   return;
                 }
                 self->queue_.push_back(std::move(p));
                 self->Pump();
               });
  }

  // Fails queued requests, aborts those in flight, closes idle connections.
  void Shutdown() {
    asio::post(strand_, [self = shared_from_this()] {
      self->shut_down_ = true;
      std::deque<Pending> queued = std::exchange(self->queue_, {});
      for (Pending& p : queued) std::move(p.done)(self->Cancelled(p.request));
      for (Connection* c : self->active_) {
        if (c->plain != nullptr || c->tls != nullptr) c->Tcp().close();
      }
      self->idle_.clear();
    });
  }

 private:
  struct Pending {
    HttpRequest request;
    Callback done;
  };

  // Starts queued requests while there is room.
  void Pump() {
    while (in_flight_ < options_.max_in_flight && !queue_.empty()) {
      ++in_flight_;
      Pending p = std::move(queue_.front());
      queue_.pop_front();
      asio::co_spawn(strand_, Run(shared_from_this(), std::move(p)),
                     asio::detached);
    }
  }

  static asio::awaitable<void> Run(std::shared_ptr<Impl> self, Pending p) {
    absl::StatusOr<HttpResponse> result;
    try {
      result = co_await self->Execute(p.request);
    } catch (const std::exception& e) {
      result = self->Error(p.request, absl::StatusCode::kInternal, e.what());
    }
    --self->in_flight_;
    std::move(p.done)(std::move(result));
    self->Pump();
  }

  absl::Status Cancelled(const HttpRequest& request) const {
    return Error(request, absl::StatusCode::kCancelled,
                 "the HTTP client was shut down");
  }

  // "GET http://host:port/path?query: what", the target shortened.
  absl::Status Error(const HttpRequest& request, absl::StatusCode code,
                     absl::string_view what) const {
    return absl::Status(code,
                        absl::StrCat(request.method, " ", url_.Origin(),
                                     Shorten(url_.path_prefix + request.target,
                                             kMaxTargetInMessage),
                                     ": ", what));
  }

  absl::Status FailureStatus(const HttpRequest& request,
                             const Failure& f) const {
    const boost::system::error_code& ec = f.ec;
    if (shut_down_) return Cancelled(request);
    if (ec == beast::error::timeout || ec == asio::error::timed_out) {
      return Error(request, absl::StatusCode::kDeadlineExceeded,
                   absl::StrCat("no response within ",
                                absl::FormatDuration(options_.timeout),
                                " (timed out in ", f.stage, ")"));
    }
    if (ec == http::error::body_limit) {
      return Error(request, absl::StatusCode::kResourceExhausted,
                   absl::StrCat("response body exceeds the limit of ",
                                options_.max_body_bytes, " bytes"));
    }
    if (!f.before_response &&
        (ec == http::error::partial_message ||
         ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset)) {
      return Error(request, absl::StatusCode::kDataLoss,
                   absl::StrCat("response truncated: ", ec.message()));
    }
    if (ec.category() ==
        http::make_error_code(http::error::body_limit).category()) {
      return Error(request, absl::StatusCode::kDataLoss,
                   absl::StrCat("malformed HTTP response: ", ec.message()));
    }
    if (ec == http::error::end_of_stream) {
      return Error(request, absl::StatusCode::kUnavailable,
                   "the server closed the connection without a response");
    }
    return Error(request, absl::StatusCode::kUnavailable,
                 absl::StrCat(f.stage, " failed: ", ec.message()));
  }

  absl::StatusOr<http::request<http::string_body>> BuildMessage(
      const HttpRequest& request) {
    http::verb verb = http::string_to_verb(request.method);
    if (verb != http::verb::get && verb != http::verb::post &&
        verb != http::verb::put) {
      return Error(request, absl::StatusCode::kInvalidArgument,
                   "only GET, POST and PUT are supported");
    }
    http::request<http::string_body> msg(verb,
                                         url_.path_prefix + request.target, 11);
    const std::string origin = url_.Origin();
    msg.set(http::field::host, origin.substr(origin.find("//") + 2));
    msg.set(http::field::user_agent, absl::StrCat("ballast/", kVersion));
    msg.set(http::field::accept, "application/json");
    for (const auto& [name, value] : options_.headers) msg.set(name, value);
    for (const auto& [name, value] : request.headers) msg.set(name, value);
    if (token_.has_value()) {
      absl::StatusOr<std::string> token = token_->Get();
      if (!token.ok()) {
        return Error(request, absl::StatusCode::kFailedPrecondition,
                     absl::StrCat("bearer token: ", token.status().message()));
      }
      msg.set(http::field::authorization, absl::StrCat("Bearer ", *token));
    }
    if (!options_.basic_auth_user.empty()) {
      absl::StatusOr<std::string> password = BasicAuthPassword();
      if (!password.ok()) {
        return Error(
            request, absl::StatusCode::kFailedPrecondition,
            absl::StrCat("basic auth password: ", password.status().message()));
      }
      msg.set(http::field::authorization,
              absl::StrCat("Basic ",
                           absl::Base64Escape(absl::StrCat(
                               options_.basic_auth_user, ":", *password))));
    }
    if (!request.body.empty()) {
      msg.set(http::field::content_type, request.content_type);
      msg.body() = request.body;
    }
    msg.keep_alive(true);
    msg.prepare_payload();
    return msg;
  }

  absl::StatusOr<std::string> BasicAuthPassword() {
    if (!options_.basic_auth_password_env.empty()) {
      const char* value = std::getenv(options_.basic_auth_password_env.c_str());
      if (value != nullptr && *value != '\0') return std::string(value);
      if (!password_file_.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("environment variable ",
                         options_.basic_auth_password_env, " is not set"));
      }
    }
    if (password_file_.has_value()) return password_file_->Get();
    return std::string();
  }

  asio::awaitable<std::optional<Failure>> Connect(Connection& conn,
                                                  Clock::time_point deadline) {
    boost::system::error_code ec;
    const tcp::resolver::results_type endpoints = co_await ResolveBefore(
        std::make_shared<tcp::resolver>(strand_), url_.host,
        std::to_string(url_.port), deadline, ec);
    if (ec) co_return Failure{ec, "resolve"};

    if (tls_ != nullptr) {
      conn.tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(strand_,
                                                                        *tls_);
    } else {
      conn.plain = std::make_unique<beast::tcp_stream>(strand_);
    }
    conn.Tcp().expires_at(deadline);
    co_await conn.Tcp().async_connect(endpoints, Await(ec));
    if (ec) co_return Failure{ec, "connect"};
    if (tls_ == nullptr) co_return std::nullopt;

    const std::string& name =
        options_.tls_server_name.empty() ? url_.host : options_.tls_server_name;
    // RFC 6066: SNI carries host names only, never IP literals.
    if (!IsIpAddress(name)) {
      SSL_set_tlsext_host_name(conn.tls->native_handle(), name.c_str());
    }
    if (options_.verify_peer) {
      conn.tls->set_verify_callback(ssl::host_name_verification(name), ec);
      if (ec) co_return Failure{ec, "TLS setup"};
    }
    co_await conn.tls->async_handshake(ssl::stream_base::client, Await(ec));
    if (ec) co_return Failure{ec, "TLS handshake"};
    co_return std::nullopt;
  }

  // One request/response exchange on a connected stream.
  asio::awaitable<std::optional<Failure>> Exchange(
      Connection& conn, http::request<http::string_body>& msg,
      Clock::time_point deadline, HttpResponse& out, bool& reusable) {
    boost::system::error_code ec;
    conn.Tcp().expires_at(deadline);
    co_await conn.With([&](auto& stream) {
      return http::async_write(stream, msg, Await(ec));
    });
    if (ec) co_return Failure{ec, "write"};

    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    // Header first: Boost 1.74's parser loses its body_limit error when the
    // body arrives in the same read as the header (eager parsing), so the
    // Content-Length is checked here.
    co_await conn.With([&](auto& stream) {
      return http::async_read_header(stream, conn.buffer, parser, Await(ec));
    });
    if (!ec && parser.content_length().value_or(0) > options_.max_body_bytes) {
      ec = http::error::body_limit;
    }
    if (!ec && !parser.is_done()) {
      co_await conn.With([&](auto& stream) {
        return http::async_read(stream, conn.buffer, parser, Await(ec));
      });
    }
    if (ec) co_return Failure{ec, "read", !parser.got_some()};

    http::response<http::string_body> response = parser.release();
    out.status = static_cast<int>(response.result_int());
    out.content_type = std::string(response[http::field::content_type]);
    out.body = std::move(response.body());
    reusable = response.keep_alive() && !response.need_eof();
    co_return std::nullopt;
  }

  asio::awaitable<absl::StatusOr<HttpResponse>> Execute(
      const HttpRequest& request) {
    absl::StatusOr<http::request<http::string_body>> msg =
        BuildMessage(request);
    if (!msg.ok()) co_return msg.status();
    const Clock::time_point deadline =
        Clock::now() + ToChrono(options_.timeout);
    // A reused keep-alive connection may have been closed by the server;
    // when it fails before any byte of a response, try a new one once.
    while (true) {
      std::unique_ptr<Connection> conn;
      const bool reused = !idle_.empty();
      if (reused) {
        conn = std::move(idle_.back());
        idle_.pop_back();
      } else {
        conn = std::make_unique<Connection>();
      }
      active_.insert(conn.get());
      std::optional<Failure> failure;
      if (!reused) failure = co_await Connect(*conn, deadline);
      HttpResponse response;
      bool reusable = false;
      if (!failure.has_value() && !shut_down_) {
        failure = co_await Exchange(*conn, *msg, deadline, response, reusable);
      }
      active_.erase(conn.get());
      if (shut_down_) co_return Cancelled(request);
      if (!failure.has_value()) {
        if (reusable) idle_.push_back(std::move(conn));
        co_return response;
      }
      const bool stale = reused && failure->before_response &&
                         failure->ec != beast::error::timeout;
      if (!stale) co_return FailureStatus(request, *failure);
    }
  }

  Strand strand_;
  const HttpClientOptions options_;
  const Url url_;
  const std::unique_ptr<ssl::context> tls_;  // null for http
  std::optional<SecretFile> token_;
  std::optional<SecretFile> password_file_;
  // Touched on strand_ only.
  std::deque<Pending> queue_;
  int in_flight_ = 0;
  std::vector<std::unique_ptr<Connection>> idle_;
  std::set<Connection*> active_;
  bool shut_down_ = false;
};

namespace {

// The client certificate and key of `options`, from files or inline PEM.
absl::Status LoadClientCredentials(const HttpClientOptions& options,
                                   ssl::context& tls) {
  const bool files =
      !options.client_cert_file.empty() || !options.client_key_file.empty();
  const bool inline_pem =
      !options.client_cert_pem.empty() || !options.client_key_pem.empty();
  if (!files && !inline_pem) return absl::OkStatus();
  if (files && inline_pem) {
    return absl::InvalidArgumentError(
        "give the client certificate as files or as PEM, not both");
  }
  boost::system::error_code ec;
  if (files) {
    if (options.client_cert_file.empty() || options.client_key_file.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate needs both a certificate and a key file");
    }
    tls.use_certificate_chain_file(options.client_cert_file, ec);
    if (!ec)
      tls.use_private_key_file(options.client_key_file, ssl::context::pem, ec);
  } else {
    if (options.client_cert_pem.empty() || options.client_key_pem.empty()) {
      return absl::InvalidArgumentError(
          "a client certificate needs both a certificate and a key");
    }
    tls.use_certificate_chain(asio::buffer(options.client_cert_pem.data(),
                                           options.client_cert_pem.size()),
                              ec);
    if (!ec) {
      tls.use_private_key(asio::buffer(options.client_key_pem.data(),
                                       options.client_key_pem.size()),
                          ssl::context::pem, ec);
    }
  }
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot load the client certificate ",
        files ? options.client_cert_file : "(inline PEM)", ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpClient>> HttpClient::Create(
    asio::io_context& io, HttpClientOptions options) {
  absl::StatusOr<Url> url = ParseUrl(options.base_url);
  if (!url.ok()) return url.status();
  if (options.max_in_flight < 1) {
    return absl::InvalidArgumentError("max_in_flight must be at least 1");
  }
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout must be positive");
  }
  std::unique_ptr<ssl::context> tls;
  if (url->tls) {
    tls = std::make_unique<ssl::context>(ssl::context::tls_client);
    boost::system::error_code ec;
    if (!options.ca_pem.empty()) {
      tls->add_certificate_authority(
          asio::buffer(options.ca_pem.data(), options.ca_pem.size()), ec);
    } else if (options.ca_file.empty()) {
      tls->set_default_verify_paths(ec);
    } else {
      tls->load_verify_file(options.ca_file, ec);
    }
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot load CA certificates ",
          options.ca_file.empty() ? "(system default)" : options.ca_file, ": ",
          ec.message()));
    }
    tls->set_verify_mode(options.verify_peer ? ssl::verify_peer
                                             : ssl::verify_none);
    absl::Status client_cert = LoadClientCredentials(options, *tls);
    if (!client_cert.ok()) return client_cert;
  }
  auto impl = std::make_shared<Impl>(io, std::move(options), *std::move(url),
                                     std::move(tls));
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

HttpClient::~HttpClient() { impl_->Shutdown(); }

void HttpClient::Send(HttpRequest request, Callback done) {
  impl_->Send(std::move(request), std::move(done));
}

const HttpClientOptions& HttpClient::options() const {
  return impl_->options();
}

absl::StatusOr<HttpResponse> HttpClient::Fetch(HttpClientOptions options,
                                               HttpRequest request) {
  asio::io_context io;
  absl::StatusOr<std::unique_ptr<HttpClient>> client =
      Create(io, std::move(options));
  if (!client.ok()) return client.status();
  absl::StatusOr<HttpResponse> result =
      absl::InternalError("the request did not complete");
  (*client)->Send(
      std::move(request),
      [&result](absl::StatusOr<HttpResponse> r) { result = std::move(r); });
  io.run();
  return result;
}

}  // namespace ballast::net
