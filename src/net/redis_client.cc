// RedisClient on Boost.Asio with C++20 coroutines, in the style of
// http_client.cc: all state of a client lives on one strand, where one
// coroutine at a time owns the connection. It connects (resolve, TCP, TLS,
// AUTH, SELECT), runs the queued pipelines one after the other, and while
// there is nothing to do keeps a read outstanding, so that a connection
// the server closed is noticed before the next pipeline would use it.
// hiredis only encodes the commands and parses the replies.
#include "ballast/net/redis_client.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "await.h"
#include "ballast/net/asio_time.h"

namespace ballast::net {
namespace {

using Commands = std::vector<std::vector<std::string>>;
using Strand = asio::strand<asio::io_context::executor_type>;
using Clock = std::chrono::steady_clock;

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct ReplyDeleter {
  void operator()(void* r) const { freeReplyObject(r); }
};

RedisReply ConvertReply(const redisReply& r) {
  RedisReply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      out.type = r.type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                 : r.type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                : RedisReply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(r.elements);
      for (size_t i = 0; i < r.elements; ++i) {
        out.elements.push_back(ConvertReply(*r.element[i]));
      }
      break;
    default:
      out.type = RedisReply::Type::kNil;
  }
  return out;
}

// Appends the RESP encoding of `argv` to `out`.
// (An array of bulk strings: "*<n>\r\n" then "$<len>\r\n<arg>\r\n" per
// argument; written here, not with hiredis's redisFormatCommandArgv, whose
// printf of every length was most of a 40,000-command pipeline's cost.)
void AppendCommand(const std::vector<std::string>& argv, std::string* out) {
  absl::StrAppend(out, "*", argv.size(), "\r\n");
  for (const std::string& a : argv) {
    absl::StrAppend(out, "$", a.size(), "\r\n", a, "\r\n");
  }
}

// "LLEN ×3, HLEN": the command names of a pipeline, for messages. Never the
// arguments, which may hold a password (AUTH).
std::string DescribeCommands(const Commands& commands) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < commands.size();) {
    size_t j = i;
    while (j < commands.size() && commands[j][0] == commands[i][0]) ++j;
    parts.push_back(j - i > 1 ? absl::StrCat(commands[i][0], " x", j - i)
                              : commands[i][0]);
    i = j;
  }
  return absl::StrJoin(parts, ", ");
}

}  // namespace

std::string RedisReply::DebugString() const {
  switch (type) {
    case Type::kNil:
      return "nil";
    case Type::kInteger:
      return absl::StrCat(integer);
    case Type::kArray:
      return absl::StrCat("array of ", elements.size());
    default:
      return str;
  }
}

absl::Status RedisReply::ToStatus(absl::string_view context) const {
  if (!is_error()) return absl::OkStatus();
  const std::string message = absl::StrCat(context, ": ", str);
  const absl::string_view code =
      absl::string_view(str).substr(0, str.find(' '));
  if (code == "WRONGTYPE") return absl::FailedPreconditionError(message);
  if (code == "NOPERM") return absl::PermissionDeniedError(message);
  if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" ||
      code == "TRYAGAIN") {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

// All state lives on `strand_`. Run() drains the queue: one coroutine at a
// time, owning `conn_`; it ends when the queue is empty and there is no
// connection (after a failure, or when the server closed an idle one).
class RedisClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, RedisOptions options)
      : strand_(asio::make_strand(io)),
        options_(std::move(options)),
        address_(options_.Address()),
        ssl_ctx_(ssl::context::tls_client) {
    if (options_.tls) ConfigureTls();
  }

  const RedisOptions& options() const { return options_; }

  void Post(absl::AnyInvocable<void()> fn) {
    asio::post(strand_,
               [self = shared_from_this(), fn = std::move(fn)]() mutable {
                 if (!self->shut_down_) fn();
               });
  }

  void Submit(Commands commands, Callback done) {
    Post([this, commands = std::move(commands),
          done = std::move(done)]() mutable {
      Enqueue(std::move(commands), std::move(done));
    });
  }

  // Drops every pending callback and closes the connection: the coroutine
  // wakes up with an error, sees shut_down_ and ends without a callback.
  // Called by the owner's destructor, on the strand or with the io_context
  // stopped.
  void Shutdown() {
    shut_down_ = true;
    current_.reset();
    queue_.clear();
    if (resolver_ != nullptr) resolver_->cancel();
    if (conn_ != nullptr) conn_->Tcp().close();
  }

 private:
  struct Request {
    Commands commands;
    Callback done;
  };

  struct Connection : TcpOrTlsStream {
    std::unique_ptr<redisReader, ReaderDeleter> reader{redisReaderCreate()};
    std::array<char, size_t{16} * 1024> read_buf;
  };

  void ConfigureTls() {
    error_code ec;
    if (options_.insecure_skip_verify) {
      ssl_ctx_.set_verify_mode(ssl::verify_none, ec);
      if (ec) {
        config_error_ = absl::InvalidArgumentError(
            absl::StrCat(Prefix(), "TLS setup: ", ec.message()));
      }
      return;
    }
    ssl_ctx_.set_verify_mode(ssl::verify_peer, ec);
    if (!ec) {
      if (options_.ca_file.empty()) {
        ssl_ctx_.set_default_verify_paths(ec);
      } else {
        ssl_ctx_.load_verify_file(options_.ca_file, ec);
      }
    }
    if (ec) {
      config_error_ = absl::InvalidArgumentError(
          absl::StrCat(Prefix(), "TLS setup (ca_file '", options_.ca_file,
                       "'): ", ec.message()));
    }
  }

  std::string Prefix() const { return absl::StrCat("redis ", address_, ": "); }

  void Enqueue(Commands commands, Callback done) {
    if (!config_error_.ok()) return done(config_error_);
    for (size_t i = 0; i < commands.size(); ++i) {
      if (commands[i].empty()) {
        return done(absl::InvalidArgumentError(absl::StrCat(
            Prefix(), "command ", i, " of the pipeline is empty")));
      }
    }
    if (commands.empty()) return done(Replies{});
    if (!running_) {  // not connected, nor connecting
      if (absl::Status s = BackoffStatus(); !s.ok()) return done(s);
    }
    queue_.push_back({std::move(commands), std::move(done)});
    if (running_) return Wake();
    running_ = true;
    asio::co_spawn(strand_, Run(shared_from_this()), asio::detached);
  }

  // Unavailable while the backoff after a failure runs, else OK.
  absl::Status BackoffStatus() const {
    const auto now = Clock::now();
    if (now >= retry_at_) return absl::OkStatus();
    const absl::Duration left = absl::FromChrono(retry_at_ - now);
    return absl::UnavailableError(absl::StrCat(
        Prefix(), "reconnecting in ",
        absl::FormatDuration(absl::Ceil(left, absl::Milliseconds(1))),
        " (last error: ", last_failure_, ")"));
  }

  static asio::awaitable<void> Run(std::shared_ptr<Impl> self) {
    try {
      co_await self->Drain();
    } catch (const std::exception& e) {
      if (!self->shut_down_) {
        self->Fail(absl::InternalError(absl::StrCat(self->Prefix(), e.what())));
      }
    }
    self->running_ = false;
  }

  asio::awaitable<void> Drain() {
    while (!shut_down_) {
      if (queue_.empty()) {
        if (conn_ == nullptr) co_return;
        co_await Idle();
        continue;
      }
      if (conn_ == nullptr) {
        absl::Status connected = co_await Connect();
        if (shut_down_) co_return;
        if (!connected.ok()) {
          Fail(connected);
          continue;
        }
      }
      current_ = std::move(queue_.front());
      queue_.pop_front();
      const Commands& commands = current_->commands;
      phase_ =
          commands.size() == 1
              ? commands[0][0]
              : absl::StrCat("pipeline of ", commands.size(), " commands (",
                             DescribeCommands(commands), ")");
      const absl::Duration timeout = options_.command_timeout;
      absl::StatusOr<Replies> replies = co_await Exchange(
          commands, Clock::now() + ToChrono(timeout), timeout);
      if (shut_down_) co_return;
      if (!replies.ok()) {
        Fail(replies.status());
        continue;
      }
      backoff_ = absl::ZeroDuration();
      Request request = *std::exchange(current_, std::nullopt);
      request.done(*std::move(replies));
    }
  }

  // Resolve, TCP connect, TLS handshake, AUTH and SELECT, all within
  // connect_timeout. Leaves conn_ set, also on failure (Fail closes it).
  asio::awaitable<absl::Status> Connect() {
    const absl::Duration timeout = options_.connect_timeout;
    const Clock::time_point deadline = Clock::now() + ToChrono(timeout);
    error_code ec;
    phase_ = "resolve";
    resolver_ = std::make_shared<tcp::resolver>(strand_);
    const tcp::resolver::results_type endpoints = co_await ResolveBefore(
        resolver_, options_.host, std::to_string(options_.port), deadline, ec);
    resolver_.reset();
    if (ec == asio::error::timed_out) ec = beast::error::timeout;
    if (ec) co_return IoError("resolve", ec, timeout);
    if (shut_down_) co_return absl::CancelledError();

    conn_ = std::make_unique<Connection>();
    if (options_.tls) {
      conn_->tls = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(
          strand_, ssl_ctx_);
    } else {
      conn_->plain = std::make_unique<beast::tcp_stream>(strand_);
    }
    phase_ = "TCP connect";
    conn_->Tcp().expires_at(deadline);
    co_await conn_->Tcp().async_connect(endpoints, Await(ec));
    if (ec) co_return IoError("connect", ec, timeout);
    error_code ignored;
    conn_->Tcp().socket().set_option(tcp::no_delay(true), ignored);

    if (options_.tls) {
      phase_ = "TLS handshake";
      const std::string& name =
          options_.server_name.empty() ? options_.host : options_.server_name;
      SSL_set_tlsext_host_name(conn_->tls->native_handle(), name.c_str());
      if (!options_.insecure_skip_verify) {
        conn_->tls->set_verify_callback(ssl::host_name_verification(name));
      }
      co_await conn_->tls->async_handshake(ssl::stream_base::client, Await(ec));
      if (ec) co_return IoError("TLS handshake", ec, timeout);
    }

    Commands setup;
    const bool has_auth = !options_.password.empty();
    if (has_auth) {
      setup.push_back({"AUTH"});
      if (!options_.username.empty()) setup.back().push_back(options_.username);
      setup.back().push_back(options_.password);
    }
    if (options_.db != 0) {
      setup.push_back({"SELECT", std::to_string(options_.db)});
    }
    if (setup.empty()) co_return absl::OkStatus();
    phase_ = "AUTH/SELECT";
    absl::StatusOr<Replies> replies =
        co_await Exchange(setup, deadline, timeout);
    if (!replies.ok()) co_return replies.status();
    for (size_t i = 0; i < replies->size(); ++i) {
      if (!(*replies)[i].is_error()) continue;
      const bool auth = has_auth && i == 0;
      const std::string what = absl::StrCat(auth ? "AUTH" : "SELECT",
                                            " refused: ", (*replies)[i].str);
      co_return auth ? absl::UnauthenticatedError(Prefix() + what)
                     : absl::FailedPreconditionError(Prefix() + what);
    }
    co_return absl::OkStatus();
  }

  // Writes `commands` in one write and reads one reply for each, all before
  // `deadline` (`timeout` after the phase started, for the message).
  asio::awaitable<absl::StatusOr<Replies>> Exchange(const Commands& commands,
                                                    Clock::time_point deadline,
                                                    absl::Duration timeout) {
    std::string bytes;
    for (const auto& argv : commands) AppendCommand(argv, &bytes);
    // Shutdown() may drop the request, and `commands`, at a co_await.
    const size_t expected = commands.size();
    Connection& conn = *conn_;
    Replies replies;
    replies.reserve(expected);
    if (absl::Status s = TakeReplies(conn, 0, replies); !s.ok()) co_return s;
    error_code ec;
    conn.Tcp().expires_at(deadline);
    co_await conn.With([&](auto& stream) {
      return asio::async_write(stream, asio::buffer(bytes), Await(ec));
    });
    if (ec) co_return IoError("write", ec, timeout, 0, expected);
    while (replies.size() < expected) {
      const size_t n = co_await conn.With([&](auto& stream) {
        return stream.async_read_some(asio::buffer(conn.read_buf), Await(ec));
      });
      if (ec) co_return IoError("read", ec, timeout, replies.size(), expected);
      if (absl::Status s = Feed(conn, n); !s.ok()) co_return s;
      if (absl::Status s = TakeReplies(conn, expected, replies); !s.ok()) {
        co_return s;
      }
    }
    co_return replies;
  }

  // Connected with nothing to do: waits, without reading, until the socket
  // is readable or a request arrives (Wake() cancels the wait; a wait holds
  // no TLS state, so the cancel is always clean). Readable while idle means
  // the server closed the connection or sent something unasked (RESP2 never
  // does; a TLS peer may send post-handshake messages): it is read within
  // command_timeout, and a connection that ended is closed with no backoff,
  // so the next request connects again at once.
  asio::awaitable<void> Idle() {
    Connection& conn = *conn_;
    conn.Tcp().expires_never();
    while (queue_.empty() && !shut_down_) {
      Replies none;
      if (absl::Status s = TakeReplies(conn, 0, none); !s.ok()) {
        Fail(s);
        co_return;
      }
      error_code ec;
      idle_ = true;
      co_await conn.Tcp().socket().async_wait(tcp::socket::wait_read,
                                              Await(ec));
      idle_ = false;
      if (shut_down_ || ec == asio::error::operation_aborted) continue;
      if (ec) {
        Close();
        co_return;
      }
      conn.Tcp().expires_after(ToChrono(options_.command_timeout));
      const size_t n = co_await conn.With([&](auto& stream) {
        return stream.async_read_some(asio::buffer(conn.read_buf), Await(ec));
      });
      conn.Tcp().expires_never();
      if (ec) {
        Close();
        co_return;
      }
      if (absl::Status s = Feed(conn, n); !s.ok()) {
        Fail(s);
        co_return;
      }
    }
  }

  // Ends the idle wait for the request just queued.
  void Wake() {
    if (!idle_) return;
    error_code ignored;
    conn_->Tcp().socket().cancel(ignored);
  }

  absl::Status Feed(Connection& conn, size_t n) const {
    if (redisReaderFeed(conn.reader.get(), conn.read_buf.data(), n) !=
        REDIS_OK) {
      return absl::ResourceExhaustedError(Prefix() +
                                          "reply buffer: out of memory");
    }
    return absl::OkStatus();
  }

  // Moves the replies parsed so far to `replies`; Internal for a reply past
  // the `expected` ones or bytes that are not RESP.
  absl::Status TakeReplies(Connection& conn, size_t expected,
                           Replies& replies) const {
    redisReader* reader = conn.reader.get();
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
        return absl::InternalError(
            absl::StrCat(Prefix(), "protocol error: ", reader->errstr));
      }
      if (raw == nullptr) return absl::OkStatus();
      std::unique_ptr<void, ReplyDeleter> owned(raw);
      if (replies.size() == expected) {
        return absl::InternalError(Prefix() + "unexpected reply");
      }
      replies.push_back(ConvertReply(*static_cast<redisReply*>(raw)));
    }
  }

  // A failed operation of the phase in progress: DeadlineExceeded when its
  // deadline passed, else Unavailable naming `what` failed.
  absl::Status IoError(absl::string_view what, const error_code& ec,
                       absl::Duration timeout, size_t received = 0,
                       size_t expected = 0) const {
    if (ec == beast::error::timeout) {
      std::string text = absl::StrCat(phase_, ": no answer within ",
                                      absl::FormatDuration(timeout));
      if (expected > 1) {
        absl::StrAppend(&text, " (", received, " of ", expected,
                        " replies received)");
      }
      return absl::DeadlineExceededError(Prefix() + text);
    }
    const std::string reason = ec == asio::error::eof
                                   ? "connection closed by the server"
                                   : ec.message();
    return absl::UnavailableError(absl::StrCat(Prefix(), what, ": ", reason));
  }

  // Only the coroutine closes, when none of its operations is pending.
  void Close() {
    if (conn_ == nullptr) return;
    conn_->Tcp().close();
    conn_.reset();
  }

  // Closes the connection, starts the backoff, fails the request in
  // progress (or the first queued) with `status` and the others with the
  // backoff status.
  void Fail(const absl::Status& status) {
    Close();
    backoff_ = backoff_ == absl::ZeroDuration()
                   ? options_.backoff_initial
                   : std::min(backoff_ * 2, options_.backoff_max);
    retry_at_ = Clock::now() + ToChrono(backoff_);
    last_failure_ = std::string(absl::StripPrefix(status.message(), Prefix()));
    std::deque<Request> failed = std::exchange(queue_, {});
    if (current_.has_value()) {
      failed.push_front(*std::exchange(current_, std::nullopt));
    }
    const absl::Status later = BackoffStatus();
    for (size_t i = 0; i < failed.size() && !shut_down_; ++i) {
      failed[i].done(i == 0 ? status : later);
    }
  }

  Strand strand_;
  const RedisOptions options_;
  const std::string address_;
  ssl::context ssl_ctx_;
  absl::Status config_error_;

  // Touched on strand_ only.
  std::deque<Request> queue_;
  std::optional<Request> current_;  // the request Run() is exchanging
  bool running_ = false;            // Run() is on (owns conn_)
  bool idle_ = false;               // Run() waits in Idle()'s read
  bool shut_down_ = false;
  std::shared_ptr<tcp::resolver> resolver_;  // while resolving
  std::unique_ptr<Connection> conn_;         // null when disconnected
  std::string phase_;  // what Run() is doing, for messages

  absl::Duration backoff_ = absl::ZeroDuration();
  Clock::time_point retry_at_;
  std::string last_failure_;
};

RedisClient::RedisClient(asio::io_context& io, RedisOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(options))) {}

RedisClient::~RedisClient() { impl_->Shutdown(); }

void RedisClient::Pipeline(Commands commands, Callback done) {
  impl_->Submit(std::move(commands), std::move(done));
}

void RedisClient::Post(absl::AnyInvocable<void()> fn) {
  impl_->Post(std::move(fn));
}

const RedisOptions& RedisClient::options() const { return impl_->options(); }

absl::StatusOr<std::vector<RedisReply>> RunPipelineSync(
    const RedisOptions& options, Commands commands) {
  asio::io_context io;
  absl::StatusOr<std::vector<RedisReply>> result =
      absl::InternalError("the pipeline did not complete");
  RedisClient client(io, options);
  client.Pipeline(std::move(commands),
                  [&](absl::StatusOr<std::vector<RedisReply>> r) {
                    result = std::move(r);
                    io.stop();
                  });
  io.run();
  return result;
}

}  // namespace ballast::net
