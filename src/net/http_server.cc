// HttpServer on Boost.Beast with C++20 coroutines: one coroutine per
// connection on its own strand, one accept loop on the acceptor's strand.
// Boost error codes and exceptions end here and become absl::Status or an
// HTTP status; nothing is thrown out of this file.
#include "ballast/net/http_server.h"

#include "ballast/core/clock.h"
#include "ballast/net/listen_address.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <chrono>
#include <exception>
#include <limits>
#include <set>
#include <thread>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "await.h"
#include "ballast/net/asio_time.h"
#include "server_tls_stream.h"

namespace ballast::net {

namespace http = beast::http;

namespace {

constexpr absl::Duration kTlsShutdownTimeout = absl::Seconds(1);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

absl::StatusOr<std::string> PercentDecode(absl::string_view text,
                                          bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      const int hi = i + 2 < text.size() ? HexValue(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? HexValue(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "malformed percent-escape at byte ", i, " of \"", text, "\""));
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

std::string OpenSslErrors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// Trusts every certificate of `pem` as a client CA of `native` and names
// them in the certificate request. InvalidArgument when there is none.
absl::Status AddClientCas(SSL_CTX* native, absl::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (bio == nullptr) return absl::ResourceExhaustedError("BIO_new_mem_buf");
  X509_STORE* store = SSL_CTX_get_cert_store(native);
  STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
  int count = 0;
  while (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store, cert);
    sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(cert)));
    X509_free(cert);
    ++count;
  }
  BIO_free(bio);
  ERR_clear_error();  // the end of the PEM data reads as an error
  if (count == 0) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    return absl::InvalidArgumentError(
        "no PEM certificate in the client CA data");
  }
  SSL_CTX_set_client_CA_list(native, names);  // takes ownership
  return absl::OkStatus();
}

// `client_ca_pem`, when not empty, is the client CA instead of the file.
absl::StatusOr<std::shared_ptr<ssl::context>> BuildTlsContext(
    const TlsFiles& files, const std::string& client_ca_pem) {
  ERR_clear_error();
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION |
                                  SSL_OP_CIPHER_SERVER_PREFERENCE |
                                  SSL_OP_NO_RENEGOTIATION);
  // OpenSSL frees a connection's record buffers while it has nothing
  // buffered: an idle keep-alive connection holds none.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  auto fail = [](absl::string_view what, absl::string_view file) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", file, ": ", OpenSslErrors()));
  };
  if (SSL_CTX_use_certificate_chain_file(native, files.cert_file.c_str()) !=
      1) {
    return fail("cannot load the certificate chain", files.cert_file);
  }
  if (SSL_CTX_use_PrivateKey_file(native, files.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return fail("cannot load the private key", files.key_file);
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail("the private key does not match the certificate",
                files.key_file);
  }
  if (!client_ca_pem.empty()) {
    absl::Status added = AddClientCas(native, client_ca_pem);
    if (!added.ok()) return added;
  } else if (!files.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, files.client_ca_file.c_str(),
                                      nullptr) != 1) {
      return fail("cannot load the client CA", files.client_ca_file);
    }
    STACK_OF(X509_NAME)* names =
        SSL_load_client_CA_file(files.client_ca_file.c_str());
    if (names == nullptr) {
      return fail("no CA certificate in", files.client_ca_file);
    }
    SSL_CTX_set_client_CA_list(native, names);  // takes ownership
  }
  if (!client_ca_pem.empty() || !files.client_ca_file.empty()) {
    // Ask for a certificate but never fail the handshake over it: the
    // verification result is read after the handshake (PeerInfo), so that
    // an unauthenticated client gets a 401 Status rather than a TLS alert.
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER,
                       [](int, X509_STORE_CTX*) { return 1; });
    static constexpr unsigned char kSessionContext[] = "ballast";
    SSL_CTX_set_session_id_context(native, kSessionContext,
                                   sizeof(kSessionContext) - 1);
  }
  SSL_CTX_set_alpn_select_cb(
      native,
      [](SSL*, const unsigned char** out, unsigned char* outlen,
         const unsigned char* in, unsigned int inlen, void*) {
        static constexpr unsigned char kHttp11[] = "\x08http/1.1";
        unsigned char* selected = nullptr;
        if (SSL_select_next_proto(&selected, outlen, kHttp11,
                                  sizeof(kHttp11) - 1, in,
                                  inlen) != OPENSSL_NPN_NEGOTIATED) {
          return SSL_TLSEXT_ERR_NOACK;
        }
        *out = selected;
        return SSL_TLSEXT_ERR_OK;
      },
      nullptr);
  return ctx;
}

PeerInfo TlsPeer(SSL* ssl, std::string remote) {
  PeerInfo peer{.remote_address = std::move(remote), .tls = true};
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return peer;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    peer.client_cert_verified = true;
    X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
      ASN1_STRING* data =
          X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
      unsigned char* utf8 = nullptr;
      const int length = ASN1_STRING_to_UTF8(&utf8, data);
      if (length >= 0) {
        peer.client_common_name.assign(reinterpret_cast<char*>(utf8),
                                       static_cast<size_t>(length));
        OPENSSL_free(utf8);
      }
    }
  }
  X509_free(cert);
  return peer;
}

absl::StatusOr<tcp::endpoint> ParseListen(absl::string_view listen) {
  absl::StatusOr<ListenAddress> parsed = ParseListenAddress(listen);
  if (!parsed.ok()) return parsed.status();
  error_code ec;
  const asio::ip::address address = asio::ip::make_address(parsed->ip, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", listen, "\": ", ec.message()));
  }
  return tcp::endpoint(address, static_cast<uint16_t>(parsed->port));
}

bool IsHttpParseError(const error_code& ec) {
  return ec.category() ==
         http::make_error_code(http::error::bad_method).category();
}

}  // namespace

absl::StatusOr<std::string> DecodeQueryComponent(absl::string_view text) {
  return PercentDecode(text, /*plus_is_space=*/true);
}

absl::StatusOr<std::string> DecodePathSegment(absl::string_view text) {
  return PercentDecode(text, /*plus_is_space=*/false);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseQuery(
    absl::string_view query) {
  std::vector<std::pair<std::string, std::string>> params;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    absl::StatusOr<std::string> key = DecodeQueryComponent(kv.first);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> value = DecodeQueryComponent(kv.second);
    if (!value.ok()) return value.status();
    params.emplace_back(*std::move(key), *std::move(value));
  }
  return params;
}

// ---------------------------------------------------------------------------
// TlsContextSource

TlsContextSource::TlsContextSource(TlsFiles files, Options options)
    : files_(std::move(files)), options_(std::move(options)) {}

TlsContextSource::FileIds TlsContextSource::StatFiles() const {
  FileIds ids;
  for (const std::string* path :
       {&files_.cert_file, &files_.key_file, &files_.client_ca_file}) {
    absl::StatusOr<FileStamp> stamp =
        path->empty() ? FileStamp{} : StatFile(*path);
    ids.push_back(stamp.ok() ? *stamp : FileStamp{});
  }
  return ids;
}

absl::StatusOr<std::shared_ptr<TlsContextSource>> TlsContextSource::Create(
    TlsFiles files, Options options) {
  for (const std::string* path :
       {&files.cert_file, &files.key_file, &files.client_ca_file}) {
    if (!path->empty() && !StatFile(*path).ok()) {
      return absl::NotFoundError(
          absl::StrCat("TLS file ", *path, " not found"));
    }
  }
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs a certificate and a key file");
  }
  auto source =
      std::make_shared<TlsContextSource>(std::move(files), std::move(options));
  FileIds ids = source->StatFiles();
  absl::StatusOr<std::shared_ptr<ssl::context>> ctx =
      BuildTlsContext(source->files_, /*client_ca_pem=*/"");
  if (!ctx.ok()) return ctx.status();
  absl::MutexLock lock(&source->mu_);
  source->current_ = *std::move(ctx);
  source->loaded_ = std::move(ids);
  source->next_check_ = MonotonicNow() + source->options_.check_interval;
  return source;
}

std::shared_ptr<ssl::context> TlsContextSource::Current() {
  bool due = false;
  {
    absl::MutexLock lock(&mu_);
    due = MonotonicNow() >= next_check_;
    if (!due) return current_;
  }
  CheckNow().IgnoreError();  // reported to on_reload
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::Status TlsContextSource::SetClientCaPem(std::string pem) {
  if (pem.empty()) {
    return absl::InvalidArgumentError("the client CA data is empty");
  }
  const FileIds ids = StatFiles();
  absl::StatusOr<std::shared_ptr<ssl::context>> ctx =
      BuildTlsContext(files_, pem);
  if (!ctx.ok()) return ctx.status();
  absl::MutexLock lock(&mu_);
  current_ = *std::move(ctx);
  client_ca_pem_ = std::move(pem);
  loaded_ = ids;
  failed_.clear();
  return absl::OkStatus();
}

absl::Status TlsContextSource::CheckNow() {
  FileIds ids = StatFiles();
  {
    absl::MutexLock lock(&mu_);
    next_check_ = MonotonicNow() + options_.check_interval;
    if (ids == loaded_ || ids == failed_) {
      return ids == loaded_ ? absl::OkStatus()
                            : absl::FailedPreconditionError(
                                  "the changed TLS files failed to load");
    }
  }
  std::string pem;
  {
    absl::MutexLock lock(&mu_);
    pem = client_ca_pem_;
  }
  // Built outside the lock: reading files and keys takes a while, and
  // connections meanwhile keep getting the old context.
  absl::StatusOr<std::shared_ptr<ssl::context>> ctx =
      BuildTlsContext(files_, pem);
  absl::Status status = ctx.status();
  {
    absl::MutexLock lock(&mu_);
    if (ctx.ok()) {
      current_ = *std::move(ctx);
      loaded_ = ids;
      failed_.clear();
    } else {
      failed_ = ids;
    }
  }
  if (options_.on_reload) options_.on_reload(status);
  return status;
}

// ---------------------------------------------------------------------------
// Connections

namespace {

class Connection {
 public:
  virtual ~Connection() = default;
  // Both post to the connection's strand. BeginStop closes an idle
  // connection and makes a busy one close after its response.
  virtual void BeginStop() = 0;
  virtual void ForceClose() = 0;
};

}  // namespace

struct HttpServer::Core : std::enable_shared_from_this<HttpServer::Core> {
  Core(asio::io_context& io_context, HttpServerOptions opts, HttpHandler h,
       AsyncHttpHandler ah)
      : io(io_context),
        options(std::move(opts)),
        handler(std::move(h)),
        async_handler(std::move(ah)),
        strand(asio::make_strand(io_context)),
        acceptor(strand),
        grace_timer(strand) {}

  void Reject(int status) {
    if (options.on_rejected) options.on_rejected(status);
  }

  void HandshakeFailed(const error_code& ec) {
    if (!options.on_handshake_failed) return;
    if (ec == beast::error::timeout) {
      options.on_handshake_failed("timeout");
    } else if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
               ec == asio::error::connection_reset ||
               ec == asio::error::operation_aborted) {
      options.on_handshake_failed("closed");
    } else {
      options.on_handshake_failed("protocol");
    }
  }

  HttpResponse CallHandler(const HttpRequest& request, const PeerInfo& peer) {
    absl::ReaderMutexLock lock(&handler_mu);
    if (!handler) {
      return {.status = 503, .body = "server is shutting down\n"};
    }
    try {
      return handler(request, peer);
    } catch (const std::exception& e) {
      return {.status = 500,
              .body = absl::StrCat("internal error: ", e.what())};
    } catch (...) {
      return {.status = 500, .body = "internal error\n"};
    }
  }

  // Calls the asynchronous handler; `reply` gets exactly one response.
  void CallAsyncHandler(const HttpRequest& request, const PeerInfo& peer,
                        const HttpReply& reply) {
    absl::ReaderMutexLock lock(&handler_mu);
    if (!async_handler) {
      reply({.status = 503, .body = "server is shutting down\n"});
      return;
    }
    try {
      async_handler(request, peer, reply);
    } catch (const std::exception& e) {
      reply(
          {.status = 500, .body = absl::StrCat("internal error: ", e.what())});
    } catch (...) {
      reply({.status = 500, .body = "internal error\n"});
    }
  }

  // Registers a connection; false when stopping (the caller drops it).
  bool Add(Connection* c) {
    absl::MutexLock lock(&mu);
    if (stopping) return false;
    connections.insert(c);
    return true;
  }

  void Remove(Connection* c) {
    std::vector<std::function<void()>> done;
    {
      absl::MutexLock lock(&mu);
      connections.erase(c);
      done = TakeDoneIfFinished();
    }
    for (auto& f : done) f();
  }

  std::vector<std::function<void()>> TakeDoneIfFinished()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (!stopping || !acceptor_closed || !connections.empty()) return {};
    finished = true;
    asio::post(strand,
               [self = shared_from_this()] { self->grace_timer.cancel(); });
    return std::exchange(stop_done, {});
  }

  void Stop(absl::Duration grace, std::function<void()> done) {
    std::vector<Connection*> open;
    {
      absl::MutexLock lock(&mu);
      if (finished) {
        if (done) asio::post(io, std::move(done));
        return;
      }
      if (done) stop_done.push_back(std::move(done));
      if (stopping) return;
      stopping = true;
      open.assign(connections.begin(), connections.end());
      // Calling BeginStop under the lock keeps every connection alive:
      // Remove() needs the lock before the connection can go away.
      for (Connection* c : open) c->BeginStop();
    }
    asio::post(strand, [self = shared_from_this(), grace] {
      error_code ignored;
      self->acceptor.close(ignored);
      self->grace_timer.expires_after(ToChrono(grace));
      self->grace_timer.async_wait([self](const error_code& ec) {
        if (ec) return;
        absl::MutexLock lock(&self->mu);
        for (Connection* c : self->connections) c->ForceClose();
      });
      std::vector<std::function<void()>> finished_done;
      {
        absl::MutexLock lock(&self->mu);
        self->acceptor_closed = true;
        finished_done = self->TakeDoneIfFinished();
      }
      for (auto& f : finished_done) f();
    });
  }

  asio::awaitable<void> AcceptLoop();

  asio::io_context& io;
  const HttpServerOptions options;
  absl::Mutex handler_mu;
  HttpHandler handler ABSL_GUARDED_BY(handler_mu);
  AsyncHttpHandler async_handler ABSL_GUARDED_BY(handler_mu);
  const bool is_async = static_cast<bool>(async_handler);
  asio::strand<asio::io_context::executor_type> strand;
  tcp::acceptor acceptor;          // on `strand`
  asio::steady_timer grace_timer;  // on `strand`
  mutable absl::Mutex mu;
  std::set<Connection*> connections ABSL_GUARDED_BY(mu);
  bool stopping ABSL_GUARDED_BY(mu) = false;
  bool acceptor_closed ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
  std::vector<std::function<void()>> stop_done ABSL_GUARDED_BY(mu);
};

namespace {

using Core = HttpServer::Core;

// A TLS session builds its stream (OpenSSL's SSL object; see
// server_tls_stream.h) only once the client's first byte has arrived: until
// then a connection holds a socket and this object. A plain session has its
// stream from the start.
template <class Stream>
class Session : public Connection,
                public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;
  using Executor = beast::tcp_stream::executor_type;

  Session(std::shared_ptr<Core> core, beast::tcp_stream tcp,
          std::shared_ptr<ssl::context> tls_context)
      : core_(std::move(core)),
        tls_context_(std::move(tls_context)),
        executor_(tcp.get_executor()) {
    if constexpr (kTls) {
      tcp_.emplace(std::move(tcp));
    } else {
      stream_.emplace(std::move(tcp));
    }
  }

  void BeginStop() override {
    asio::post(executor_, [self = this->shared_from_this()] {
      self->stopping_ = true;
      if (self->idle_) self->Lowest().close();
    });
  }
  void ForceClose() override {
    asio::post(executor_,
               [self = this->shared_from_this()] { self->Lowest().close(); });
  }

  const Executor& executor() const { return executor_; }

  // `self` keeps the session alive until the coroutine ends.
  asio::awaitable<void> Run(std::shared_ptr<Session> self) {
    try {
      co_await self->Serve();
    } catch (...) {
      // A Boost exception escaping an await: close the connection below.
    }
    error_code ignored;
    self->Lowest().socket().close(ignored);
    self->core_->Remove(self.get());
  }

 private:
  // The TCP stream, inside the TLS stream once that is built.
  beast::tcp_stream& Lowest() {
    return stream_ ? beast::get_lowest_layer(*stream_) : *tcp_;
  }

  // Waits, up to the request timeout, for the first byte of a new TLS
  // connection; false (the failure counted) when none came.
  asio::awaitable<bool> AwaitFirstByte() {
    struct Wait {
      explicit Wait(const Executor& executor) : timer(executor) {}
      asio::steady_timer timer;
      bool done = false;
      bool timed_out = false;
    };
    auto wait = std::make_shared<Wait>(executor_);
    wait->timer.expires_after(ToChrono(core_->options.request_timeout));
    wait->timer.async_wait(
        [self = this->shared_from_this(), wait](const error_code& ec) {
          if (ec || wait->done) return;
          wait->timed_out = true;
          self->Lowest().close();
        });
    idle_ = true;  // Stop closes a connection that has sent nothing
    error_code ec;
    co_await tcp_->socket().async_wait(tcp::socket::wait_read, Await(ec));
    idle_ = false;
    wait->done = true;
    wait->timer.cancel();
    if (wait->timed_out) ec = beast::error::timeout;
    if (!ec && !stopping_) co_return true;
    if (!stopping_) core_->HandshakeFailed(ec);
    co_return false;
  }

  asio::awaitable<void> Serve() {
    const HttpServerOptions& options = core_->options;
    error_code ec;
    const tcp::endpoint remote = Lowest().socket().remote_endpoint(ec);
    std::string remote_address =
        ec ? "unknown"
           : absl::StrCat(remote.address().to_string(), ":", remote.port());
    PeerInfo peer{.remote_address = remote_address};
    if constexpr (kTls) {
      if (!co_await AwaitFirstByte()) co_return;
      stream_.emplace(std::move(*tcp_), *tls_context_);
      tcp_.reset();
      Lowest().expires_after(ToChrono(options.request_timeout));
      co_await stream_->async_handshake(ssl::stream_base::server, Await(ec));
      if (ec) {
        core_->HandshakeFailed(ec);
        co_return;
      }
      peer = TlsPeer(stream_->native_handle(), std::move(remote_address));
    }
    beast::flat_buffer buffer;
    bool first = true;
    bool keep_alive = true;
    while (keep_alive && !stopping_) {
      if (buffer.size() == 0) {
        // Waiting for the next request: the idle timeout applies (the
        // request timeout for the first one), and Stop may close us.
        idle_ = true;
        Lowest().expires_after(
            ToChrono(first ? options.request_timeout : options.idle_timeout));
        const size_t n =
            co_await stream_->async_read_some(buffer.prepare(4096), Await(ec));
        idle_ = false;
        if (ec) break;
        buffer.commit(n);
      }
      first = false;
      Lowest().expires_after(ToChrono(options.request_timeout));
      std::optional<http::response<http::string_body>> response;
      co_await ReadAndHandle(buffer, peer, response);
      if (!response) break;  // the client went away or timed out
      keep_alive = response->keep_alive() && !stopping_;
      response->keep_alive(keep_alive);
      co_await http::async_write(*stream_, *response, Await(ec));
      if (ec) co_return;
      // Nothing of the next request yet: give the buffer back while idle.
      if (buffer.size() == 0) buffer.shrink_to_fit();
    }
    if constexpr (kTls) {
      Lowest().expires_after(ToChrono(kTlsShutdownTimeout));
      co_await stream_->async_shutdown(Await(ec));
    } else {
      Lowest().socket().shutdown(tcp::socket::shutdown_send, ec);
    }
  }

  // Reads one request and sets `out` to the response for it; leaves `out`
  // empty when the connection is unusable (EOF, timeout, reset).
  asio::awaitable<void> ReadAndHandle(
      beast::flat_buffer& buffer, const PeerInfo& peer,
      std::optional<http::response<http::string_body>>& out) {
    const HttpServerOptions& options = core_->options;
    const size_t limit = options.max_request_bytes;
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(
        std::min<size_t>(limit, std::numeric_limits<uint32_t>::max())));
    parser.body_limit(limit);
    error_code ec;
    const size_t header_bytes =
        co_await http::async_read_header(*stream_, buffer, parser, Await(ec));
    if (!ec) {
      // Beast ignores body_limit for a body that arrived with the headers.
      const boost::optional<uint64_t> length = parser.content_length();
      if (length && header_bytes + *length > limit) {
        ec = http::error::body_limit;
      } else if (!parser.is_done()) {
        co_await http::async_read(*stream_, buffer, parser, Await(ec));
      }
    }
    if (!ec && header_bytes + parser.get().body().size() > limit) {
      ec = http::error::body_limit;
    }
    if (ec) {
      int status = 0;
      std::string message;
      if (ec == http::error::header_limit ||
          ec == http::error::buffer_overflow) {
        status = 431;
        message = "request headers too large";
      } else if (ec == http::error::body_limit) {
        status = 413;
        message = "request too large";
      } else if (IsHttpParseError(ec) && ec != http::error::end_of_stream &&
                 ec != http::error::partial_message) {
        status = 400;
        message = absl::StrCat("malformed HTTP request: ", ec.message());
      }
      if (status != 0) {
        core_->Reject(status);
        out = MakeResponse(11, {.status = status, .body = message + "\n"});
        out->keep_alive(false);
      }
      co_return;
    }
    const http::request<http::string_body>& req = parser.get();
    HttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    const size_t question = request.target.find('?');
    request.path = request.target.substr(0, question);
    if (question != std::string::npos) {
      request.query = request.target.substr(question + 1);
    }
    for (const auto& field : req) {
      request.headers.emplace_back(
          absl::AsciiStrToLower(std::string(field.name_string())),
          std::string(field.value()));
    }
    request.body = req.body();
    // Not a conditional expression: GCC 12 destroys the temporaries of a
    // co_await inside `?:` twice.
    HttpResponse response;
    if (core_->is_async) {
      response = co_await AwaitReply(request, peer);
    } else {
      response = core_->CallHandler(request, peer);
    }
    out = MakeResponse(req.version(), std::move(response));
    out->keep_alive(req.keep_alive());
  }

  // Runs the asynchronous handler and waits for its reply on this strand:
  // a timer that the reply cancels, bounded by the request timeout.
  asio::awaitable<HttpResponse> AwaitReply(const HttpRequest& request,
                                           const PeerInfo& peer) {
    struct Pending {
      explicit Pending(const Executor& executor) : timer(executor) {}
      asio::steady_timer timer;
      std::optional<HttpResponse> response;
      bool replied = false;
      // Set while the handler runs on this strand's thread: a reply made
      // inside the call (an answer that waits on nothing) is taken as is,
      // without a timer or a trip through the queue.
      std::atomic<std::thread::id> calling{};
    };
    auto pending = std::make_shared<Pending>(executor_);
    pending->calling = std::this_thread::get_id();
    core_->CallAsyncHandler(request, peer, [pending](HttpResponse r) {
      if (pending->calling.load() == std::this_thread::get_id()) {
        if (pending->replied) return;  // repeated
        pending->replied = true;
        pending->response = std::move(r);
        return;
      }
      asio::post(pending->timer.get_executor(),
                 [pending, r = std::move(r)]() mutable {
                   if (pending->replied) return;  // late or repeated
                   pending->replied = true;
                   pending->response = std::move(r);
                   pending->timer.cancel();
                 });
    });
    pending->calling = std::thread::id();
    if (pending->response) co_return std::move(*pending->response);
    pending->timer.expires_after(ToChrono(core_->options.request_timeout));
    error_code ec;
    co_await pending->timer.async_wait(Await(ec));
    pending->replied = true;  // from now on, a reply is dropped
    if (pending->response) co_return std::move(*pending->response);
    co_return HttpResponse{.status = 504,
                           .body = "the handler did not answer in time\n"};
  }

  static http::response<http::string_body> MakeResponse(unsigned version,
                                                        HttpResponse r) {
    http::response<http::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(r.status));
    res.set(http::field::server, "ballast");
    res.set(http::field::content_type, r.content_type);
    for (auto& [name, value] : r.headers) res.set(name, value);
    res.body() = std::move(r.body);
    res.prepare_payload();
    return res;
  }

  std::shared_ptr<Core> core_;
  std::shared_ptr<ssl::context> tls_context_;  // outlives stream_
  Executor executor_;                          // the connection's strand
  std::optional<beast::tcp_stream> tcp_;       // TLS: until the first byte
  std::optional<Stream> stream_;
  bool idle_ = false;      // on the strand
  bool stopping_ = false;  // on the strand
};

template <class Stream>
void StartSession(const std::shared_ptr<Core>& core,
                  std::shared_ptr<ssl::context> tls_context,
                  beast::tcp_stream tcp) {
  auto session = std::make_shared<Session<Stream>>(core, std::move(tcp),
                                                   std::move(tls_context));
  if (!core->Add(session.get())) return;
  asio::co_spawn(session->executor(), session->Run(session), asio::detached);
}

}  // namespace

asio::awaitable<void> HttpServer::Core::AcceptLoop() {
  std::shared_ptr<Core> self = shared_from_this();
  for (;;) {
    tcp::socket socket(asio::make_strand(io));
    error_code ec;
    co_await acceptor.async_accept(socket, Await(ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      // Out of file descriptors or similar: back off instead of spinning.
      asio::steady_timer pause(strand, std::chrono::milliseconds(50));
      co_await pause.async_wait(Await(ec));
      continue;
    }
    {
      absl::MutexLock lock(&mu);
      if (stopping) co_return;
      if (connections.size() >=
          static_cast<size_t>(std::max(options.max_connections, 1))) {
        Reject(503);  // before the close, which the client may observe
        socket.close(ec);
        continue;
      }
    }
    socket.set_option(tcp::no_delay(true), ec);
    if (options.tls) {
      std::shared_ptr<ssl::context> ctx = options.tls->Current();
      StartSession<ServerTlsStream>(self, std::move(ctx),
                                    beast::tcp_stream(std::move(socket)));
    } else {
      StartSession<beast::tcp_stream>(self, nullptr,
                                      beast::tcp_stream(std::move(socket)));
    }
  }
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    asio::io_context& io, HttpServerOptions options, HttpHandler handler) {
  return Listen(io, std::make_shared<Core>(io, std::move(options),
                                           std::move(handler), nullptr));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    asio::io_context& io, HttpServerOptions options, AsyncHttpHandler handler) {
  return Listen(io, std::make_shared<Core>(io, std::move(options), nullptr,
                                           std::move(handler)));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Listen(
    asio::io_context& /*io*/, std::shared_ptr<Core> core) {
  absl::StatusOr<tcp::endpoint> endpoint = ParseListen(core->options.listen);
  if (!endpoint.ok()) return endpoint.status();
  error_code ec;
  auto fail = [&](absl::string_view what) {
    return absl::UnavailableError(absl::StrCat(core->options.name, ": cannot ",
                                               what, " ", core->options.listen,
                                               ": ", ec.message()));
  };
  core->acceptor.open(endpoint->protocol(), ec);
  if (ec) return fail("open");
  core->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  core->acceptor.bind(*endpoint, ec);
  if (ec) return fail("bind");
  core->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on");
  const int port = core->acceptor.local_endpoint(ec).port();
  if (ec) return fail("read the port of");
  asio::co_spawn(core->strand, core->AcceptLoop(), asio::detached);
  return std::unique_ptr<HttpServer>(new HttpServer(core, port));
}

// What can throw below is allocation (a vector, asio::post); out of memory in
// a destructor ends the process, as anywhere else in ballast.
// NOLINTNEXTLINE(bugprone-exception-escape)
HttpServer::~HttpServer() {
  core_->Stop(absl::ZeroDuration(), nullptr);
  {
    absl::MutexLock lock(&core_->mu);
    for (Connection* c : core_->connections) c->ForceClose();
  }
  // Waits for handler calls in progress; later requests get 503.
  absl::MutexLock lock(&core_->handler_mu);
  core_->handler = nullptr;
  core_->async_handler = nullptr;
}

void HttpServer::Stop(absl::Duration grace, std::function<void()> done) {
  core_->Stop(grace, std::move(done));
}

void HttpServer::StopAndWait(absl::Duration grace) {
  auto stopped = std::make_shared<absl::Notification>();
  Stop(grace, [stopped] { stopped->Notify(); });
  stopped->WaitForNotificationWithTimeout(grace + absl::Seconds(5));
}

void HttpServer::RecycleConnections() {
  absl::MutexLock lock(&core_->mu);
  for (Connection* c : core_->connections) c->BeginStop();
}

size_t HttpServer::connections() const {
  absl::MutexLock lock(&core_->mu);
  return core_->connections.size();
}

}  // namespace ballast::net
