// src/net/await.h (private to the net module)
//
// What the coroutine-based clients (http_client.cc, redis_client.cc) share:
// the completion token that puts an error in an error_code instead of
// throwing, a TCP-or-TLS stream whose deadline is the Beast stream's
// expiry, and a resolve that gives up at a deadline.
//
//   boost::system::error_code ec;
//   auto endpoints = co_await ResolveBefore(resolver, host, "6379",
//                                           deadline, ec);
//   stream.Tcp().expires_at(deadline);
//   co_await stream.Tcp().async_connect(endpoints, Await(ec));
//   co_await stream.With([&](auto& s) {
//     return asio::async_write(s, asio::buffer(bytes), Await(ec));
//   });
#ifndef BALLAST_SRC_NET_AWAIT_H_
#define BALLAST_SRC_NET_AWAIT_H_

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <string>

namespace ballast::net {

// The short names net's .cc files use for Boost's namespaces.
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;

// co_await op(..., Await(ec)): the error goes to `ec`, nothing is thrown.
inline auto Await(boost::system::error_code& ec) {
  return boost::asio::redirect_error(boost::asio::use_awaitable, ec);
}

// One connection, plain TCP or TLS; Tcp().expires_at() bounds the reads
// and writes that follow (Beast closes the socket when it passes and the
// operation fails with beast::error::timeout).
struct TcpOrTlsStream {
  std::unique_ptr<boost::beast::tcp_stream> plain;
  std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls;

  boost::beast::tcp_stream& Tcp() {
    return tls ? boost::beast::get_lowest_layer(*tls) : *plain;
  }
  // Calls f with the stream to read and write.
  template <class F>
  auto With(F&& f) {
    return tls ? f(*tls) : f(*plain);
  }
};

// Resolves host:service, cancelling the resolve at `deadline`: `ec` is then
// asio::error::timed_out (operation_aborted when something else cancelled
// `resolver`). The deadline's timer may fire after the resolve finished and
// the caller's frame is gone, so it holds the resolver weakly.
inline boost::asio::awaitable<boost::asio::ip::tcp::resolver::results_type>
ResolveBefore(std::shared_ptr<boost::asio::ip::tcp::resolver> resolver,
              const std::string& host, const std::string& service,
              std::chrono::steady_clock::time_point deadline,
              boost::system::error_code& ec) {
  boost::asio::steady_timer timer(resolver->get_executor(), deadline);
  timer.async_wait([weak = std::weak_ptr<boost::asio::ip::tcp::resolver>(
                        resolver)](boost::system::error_code e) {
    if (auto r = weak.lock(); r != nullptr && !e) r->cancel();
  });
  boost::asio::ip::tcp::resolver::results_type results =
      co_await resolver->async_resolve(host, service, Await(ec));
  timer.cancel();
  if (ec == boost::asio::error::operation_aborted &&
      std::chrono::steady_clock::now() >= deadline) {
    ec = boost::asio::error::timed_out;
  }
  co_return results;
}

}  // namespace ballast::net

#endif  // BALLAST_SRC_NET_AWAIT_H_
