// src/net/server_tls_stream.h (private to the net module)
//
// ServerTlsStream: the server side of TLS over a beast::tcp_stream, holding
// no buffer while it waits. Asio's ssl::stream keeps four 17 KiB buffers per
// connection for its whole life (its engine's two and its BIO pair's two):
// ~70 KiB for every idle keep-alive connection. Here OpenSSL reads and
// writes through a BIO of our own: what it asks to read is read from the
// socket exactly (a record header, then its body), what it writes is sent
// at once, and with SSL_MODE_RELEASE_BUFFERS (set on the context) OpenSSL
// frees its own record buffers when they are empty. An idle connection
// holds the SSL object and the session, as nginx's do.
//
//   ServerTlsStream tls(std::move(tcp_stream), ssl_context);
//   co_await tls.async_handshake(ssl::stream_base::server, Await(ec));
//   co_await http::async_read(tls, buffer, parser, Await(ec));  // Beast
//   co_await tls.async_shutdown(Await(ec));
//
// An AsyncStream as Beast wants one (async_read_some, async_write_some,
// get_executor, next_layer: beast::get_lowest_layer finds the tcp_stream,
// whose expires_after() bounds every operation; a timeout fails it with
// beast::error::timeout). Errors: the socket's, ssl::error::stream_truncated
// for an EOF without close_notify, asio::error::eof after one, OpenSSL's (in
// Asio's SSL category) for a protocol failure. One operation at a time (the
// HTTP session reads, then writes), on the stream's executor.
#ifndef BALLAST_SRC_NET_SERVER_TLS_STREAM_H_
#define BALLAST_SRC_NET_SERVER_TLS_STREAM_H_

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "await.h"

namespace ballast::net {

class ServerTlsStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using next_layer_type = beast::tcp_stream;

  // Takes a reference on `context`'s SSL_CTX.
  ServerTlsStream(beast::tcp_stream stream, ssl::context& context)
      : tcp_(std::move(stream)), ssl_(SSL_new(context.native_handle())) {
    static BIO_METHOD* const method = MakeBioMethod();
    BIO* bio = BIO_new(method);
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);  // the SSL owns the BIO
    SSL_set_accept_state(ssl_);
  }
  ~ServerTlsStream() { SSL_free(ssl_); }
  ServerTlsStream(const ServerTlsStream&) = delete;
  ServerTlsStream& operator=(const ServerTlsStream&) = delete;

  executor_type get_executor() { return tcp_.get_executor(); }
  beast::tcp_stream& next_layer() { return tcp_; }
  SSL* native_handle() { return ssl_; }

  template <class Token>
  auto async_handshake(ssl::stream_base::handshake_type, Token&& token) {
    return Start<void(error_code)>(
        std::forward<Token>(token),
        [this](error_code& ec) -> asio::awaitable<void> {
          co_await Drive([this](size_t*) { return SSL_do_handshake(ssl_); },
                         ec);
        });
  }

  template <class Token>
  auto async_shutdown(Token&& token) {
    // Sends close_notify; does not wait for the peer's (nginx does not
    // either): the connection is closed next.
    return Start<void(error_code)>(
        std::forward<Token>(token),
        [this](error_code& ec) -> asio::awaitable<void> {
          SSL_shutdown(ssl_);
          co_await Flush(ec);
        });
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const asio::mutable_buffer first = *asio::buffer_sequence_begin(buffers);
    return Start<void(error_code, size_t)>(
        std::forward<Token>(token),
        [this, first](error_code& ec) -> asio::awaitable<size_t> {
          size_t n = 0;
          if (first.size() == 0) co_return 0;
          const int r = co_await Drive(
              [this, first](size_t* done) {
                return SSL_read_ex(ssl_, first.data(), first.size(), done);
              },
              ec, &n);
          if (r <= 0 && !ec) ec = asio::error::eof;
          co_return n;
        });
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    // One record for the whole sequence (Beast's serializer hands the
    // header and the body as separate buffers).
    std::string data = beast::buffers_to_string(buffers);
    return Start<void(error_code, size_t)>(
        std::forward<Token>(token),
        [this,
         data = std::move(data)](error_code& ec) -> asio::awaitable<size_t> {
          size_t n = 0;
          if (data.empty()) co_return 0;
          co_await Drive(
              [this, &data](size_t* done) {
                return SSL_write_ex(ssl_, data.data(), data.size(), done);
              },
              ec, &n);
          co_return ec ? 0 : n;
        });
  }

 private:
  // Runs `body` (a coroutine filling an error_code, returning R) on the
  // stream's executor and completes `token` with (ec) or (ec, R) on the
  // handler's executor (at once when that is the stream's strand), never
  // inside the initiating call: co_spawn posts the coroutine's start.
  template <class Signature, class Token, class Body>
  auto Start(Token&& token, Body body) {
    return asio::async_initiate<Token, Signature>(
        [this](auto handler, Body op) {
          asio::co_spawn(
              tcp_.get_executor(),
              [this, handler = std::move(handler),
               body = std::move(op)]() mutable -> asio::awaitable<void> {
                error_code ec;
                auto ex =
                    asio::get_associated_executor(handler, tcp_.get_executor());
                if constexpr (std::is_same_v<Signature, void(error_code)>) {
                  co_await body(ec);
                  asio::dispatch(
                      ex, [h = std::move(handler), ec]() mutable { h(ec); });
                } else {
                  const size_t n = co_await body(ec);
                  asio::dispatch(ex, [h = std::move(handler), ec, n]() mutable {
                    h(ec, n);
                  });
                }
              },
              asio::detached);
        },
        token, std::move(body));
  }

  // Calls `op` (an SSL call; size_t* receives the bytes of _ex calls) until
  // it succeeds or fails for good, sending what OpenSSL wrote after each
  // call and reading what it asks for. Returns op's last result.
  template <class Op>
  asio::awaitable<int> Drive(Op op, error_code& ec, size_t* n = nullptr) {
    size_t ignored = 0;
    for (;;) {
      ERR_clear_error();
      const int r = op(n != nullptr ? n : &ignored);
      const int err = r > 0 ? SSL_ERROR_NONE : SSL_get_error(ssl_, r);
      const unsigned long queued = ERR_peek_last_error();
      co_await Flush(ec);
      if (ec) co_return r;
      switch (err) {
        case SSL_ERROR_NONE:
          co_return r;
        case SSL_ERROR_WANT_READ:
          co_await Fill(ec);
          if (ec) co_return r;
          continue;
        case SSL_ERROR_WANT_WRITE:
          continue;  // our BIO never refuses a write; flushed above
        case SSL_ERROR_ZERO_RETURN:
          ec = asio::error::eof;  // the peer's close_notify
          co_return r;
        default:
          ec = queued != 0 ? error_code(static_cast<int>(queued),
                                        asio::error::get_ssl_category())
                           : error_code(ssl::error::stream_truncated);
          co_return r;
      }
    }
  }

  // Sends what OpenSSL wrote, then lets the buffer go.
  asio::awaitable<void> Flush(error_code& ec) {
    if (out_.empty()) co_return;
    co_await asio::async_write(tcp_, asio::buffer(out_), Await(ec));
    std::string().swap(out_);
  }

  // Reads from the socket what OpenSSL last asked for (at least a byte): a
  // record header (5 bytes) while idle, so an idle connection holds no
  // buffer. An EOF is stream_truncated: TLS data ends with close_notify.
  asio::awaitable<void> Fill(error_code& ec) {
    const size_t want = std::max<size_t>(wanted_, 1);
    in_.resize(want);
    const size_t got = co_await tcp_.async_read_some(
        asio::buffer(in_.data(), want), Await(ec));
    in_.resize(ec ? 0 : got);
    in_pos_ = 0;
    if (ec == asio::error::eof) ec = ssl::error::stream_truncated;
  }

  static int BioRead(BIO* bio, char* out, int size) {
    auto* self = static_cast<ServerTlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    const size_t available = self->in_.size() - self->in_pos_;
    if (available == 0) {
      self->wanted_ = static_cast<size_t>(std::max(size, 0));
      BIO_set_retry_read(bio);
      return -1;
    }
    const size_t n = std::min(available, static_cast<size_t>(size));
    std::copy_n(self->in_.data() + self->in_pos_, n, out);
    self->in_pos_ += n;
    if (self->in_pos_ == self->in_.size()) {
      std::string().swap(self->in_);
      self->in_pos_ = 0;
    }
    return static_cast<int>(n);
  }

  static int BioWrite(BIO* bio, const char* data, int size) {
    auto* self = static_cast<ServerTlsStream*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    self->out_.append(data, static_cast<size_t>(std::max(size, 0)));
    return size;
  }

  static long BioCtrl(BIO*, int cmd, long, void*) {  // NOLINT(runtime/int)
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
  }

  static BIO_METHOD* MakeBioMethod() {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "ballast server TLS");
    BIO_meth_set_read(m, &BioRead);
    BIO_meth_set_write(m, &BioWrite);
    BIO_meth_set_ctrl(m, &BioCtrl);
    return m;
  }

  beast::tcp_stream tcp_;
  SSL* ssl_;
  std::string in_;  // read from the socket, not yet taken by OpenSSL
  size_t in_pos_ = 0;
  std::string out_;  // written by OpenSSL, not yet sent
  size_t wanted_ = 5;
};

}  // namespace ballast::net

#endif  // BALLAST_SRC_NET_SERVER_TLS_STREAM_H_
