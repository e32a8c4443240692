#include "ballast/net/redis_client.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "ballast/net/asio_time.h"

namespace ballast::net {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using boost::system::error_code;
using Commands = std::vector<std::vector<std::string>>;
using Strand = asio::strand<asio::io_context::executor_type>;

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
      out.type = RedisReply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
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
absl::Status AppendCommand(const std::vector<std::string>& argv,
                           std::string* out) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  args.reserve(argv.size());
  lens.reserve(argv.size());
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  const int len = redisFormatCommandArgv(&cmd, static_cast<int>(argv.size()),
                                         args.data(), lens.data());
  if (len < 0 || cmd == nullptr) {
    return absl::ResourceExhaustedError("cannot encode a command");
  }
  out->append(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
  return absl::OkStatus();
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

// All state lives on `strand_`. Each connection is a separate object that
// the pending I/O handlers share, so that closing one never destroys a
// stream an operation still refers to; a handler whose connection is no
// longer `conn_` is stale and does nothing.
class RedisClient::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(asio::io_context& io, RedisOptions options)
      : strand_(asio::make_strand(io)),
        options_(std::move(options)),
        address_(options_.Address()),
        ssl_ctx_(ssl::context::tls_client),
        resolver_(strand_),
        timer_(strand_) {
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

  // Closes the connection and drops every pending callback. Called by the
  // owner's destructor, on the strand or with the io_context stopped.
  void Shutdown() {
    shut_down_ = true;
    queue_.clear();
    Close();
  }

 private:
  struct Request {
    Commands commands;
    Callback done;
  };

  struct Connection {
    Connection(const Strand& strand, ssl::context& ctx)
        : stream(strand, ctx), reader(redisReaderCreate()) {}
    ssl::stream<tcp::socket> stream;
    std::unique_ptr<redisReader, ReaderDeleter> reader;
    std::array<char, 16 * 1024> read_buf;
  };
  using ConnPtr = std::shared_ptr<Connection>;
  // What to do with the replies of the exchange in progress.
  using OnReplies = absl::AnyInvocable<void(RedisClient::Replies)>;

  // Runs `f` on the connection's stream: the TLS stream, or the plain socket
  // under it.
  template <typename F>
  void WithStream(Connection& conn, F&& f) {
    if (options_.tls) {
      f(conn.stream);
    } else {
      f(conn.stream.next_layer());
    }
  }

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
    if (!conn_) {
      if (absl::Status s = BackoffStatus(); !s.ok()) return done(s);
    }
    queue_.push_back({std::move(commands), std::move(done)});
    if (!busy_) StartNext();
  }

  // Unavailable while the backoff after a failure runs, else OK.
  absl::Status BackoffStatus() const {
    const auto now = std::chrono::steady_clock::now();
    if (now >= retry_at_) return absl::OkStatus();
    const absl::Duration left = absl::FromChrono(retry_at_ - now);
    return absl::UnavailableError(absl::StrCat(
        Prefix(), "reconnecting in ",
        absl::FormatDuration(absl::Ceil(left, absl::Milliseconds(1))),
        " (last error: ", last_failure_, ")"));
  }

  void StartNext() {
    if (shut_down_ || busy_ || queue_.empty()) return;
    busy_ = true;
    if (conn_) {
      Send();
    } else {
      Connect();
    }
  }

  void Send() {
    const Commands& commands = queue_.front().commands;
    phase_ = commands.size() == 1
                 ? commands[0][0]
                 : absl::StrCat("pipeline of ", commands.size(), " commands (",
                                DescribeCommands(commands), ")");
    ArmTimer(options_.command_timeout);
    Exchange(commands, [this](Replies replies) {
      backoff_ = absl::ZeroDuration();
      timer_.cancel();
      Complete(std::move(replies));
    });
  }

  void Connect() {
    conn_ = std::make_shared<Connection>(strand_, ssl_ctx_);
    phase_ = "resolve";
    ArmTimer(options_.connect_timeout);
    resolver_.async_resolve(
        options_.host, std::to_string(options_.port),
        [this, self = shared_from_this(), conn = conn_](
            const error_code& ec, tcp::resolver::results_type results) {
          if (conn != conn_) return;
          if (ec) return Fail(IoError("resolve", ec));
          phase_ = "TCP connect";
          asio::async_connect(
              conn->stream.next_layer(), results,
              [this, self, conn](const error_code& ec2, const tcp::endpoint&) {
                if (conn != conn_) return;
                if (ec2) return Fail(IoError("connect", ec2));
                error_code ignored;
                conn->stream.next_layer().set_option(tcp::no_delay(true),
                                                     ignored);
                if (options_.tls) return Handshake(conn);
                OnTransportReady(conn);
              });
        });
  }

  void Handshake(const ConnPtr& conn) {
    phase_ = "TLS handshake";
    const std::string& name =
        options_.server_name.empty() ? options_.host : options_.server_name;
    SSL_set_tlsext_host_name(conn->stream.native_handle(), name.c_str());
    if (!options_.insecure_skip_verify) {
      conn->stream.set_verify_callback(ssl::host_name_verification(name));
    }
    conn->stream.async_handshake(
        ssl::stream_base::client,
        [this, self = shared_from_this(), conn](const error_code& ec) {
          if (conn != conn_) return;
          if (ec) return Fail(IoError("TLS handshake", ec));
          OnTransportReady(conn);
        });
  }

  // Starts the read loop, then AUTH and SELECT when configured.
  void OnTransportReady(const ConnPtr& conn) {
    ReadLoop(conn);
    Commands setup;
    if (!options_.password.empty()) {
      setup.push_back({"AUTH"});
      if (!options_.username.empty()) setup.back().push_back(options_.username);
      setup.back().push_back(options_.password);
    }
    if (options_.db != 0)
      setup.push_back({"SELECT", std::to_string(options_.db)});
    if (setup.empty()) return OnConnected();
    phase_ = "AUTH/SELECT";
    const bool has_auth = !options_.password.empty();
    Exchange(setup, [this, has_auth](Replies replies) {
      for (size_t i = 0; i < replies.size(); ++i) {
        if (!replies[i].is_error()) continue;
        const bool auth = has_auth && i == 0;
        const std::string what = absl::StrCat(auth ? "AUTH" : "SELECT",
                                              " refused: ", replies[i].str);
        return Fail(auth ? absl::UnauthenticatedError(Prefix() + what)
                         : absl::FailedPreconditionError(Prefix() + what));
      }
      OnConnected();
    });
  }

  void OnConnected() {
    timer_.cancel();
    Send();
  }

  // Writes `commands` and hands their replies to `on_replies` once all have
  // arrived (the read loop collects them).
  void Exchange(const Commands& commands, OnReplies on_replies) {
    ConnPtr conn = conn_;
    auto buf = std::make_shared<std::string>();
    for (const auto& argv : commands) {
      if (absl::Status s = AppendCommand(argv, buf.get()); !s.ok()) {
        return Fail(
            absl::Status(s.code(), Prefix() + std::string(s.message())));
      }
    }
    expected_ = commands.size();
    replies_.clear();
    on_replies_ = std::move(on_replies);
    WithStream(*conn, [&](auto& stream) {
      asio::async_write(stream, asio::buffer(*buf),
                        [this, self = shared_from_this(), conn, buf](
                            const error_code& ec, size_t) {
                          if (conn != conn_) return;
                          if (ec) Fail(IoError("write", ec));
                        });
    });
  }

  // Always one read outstanding while connected, also when idle, so that a
  // connection the server closed is noticed before the next pipeline uses it.
  void ReadLoop(const ConnPtr& conn) {
    WithStream(*conn, [&](auto& stream) {
      stream.async_read_some(
          asio::buffer(conn->read_buf), [this, self = shared_from_this(), conn](
                                            const error_code& ec, size_t n) {
            if (conn != conn_) return;
            if (ec) {
              if (busy_) return Fail(IoError("read", ec));
              return Close();  // idle: reconnect at the next call, no backoff
            }
            if (OnData(*conn, n)) ReadLoop(conn);
          });
    });
  }

  // Parses what arrived; false if the connection was closed meanwhile.
  bool OnData(Connection& conn, size_t n) {
    redisReader* reader = conn.reader.get();
    if (redisReaderFeed(reader, conn.read_buf.data(), n) != REDIS_OK) {
      Fail(absl::ResourceExhaustedError(Prefix() +
                                        "reply buffer: out of memory"));
      return false;
    }
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader, &raw) != REDIS_OK) {
        Fail(absl::InternalError(
            absl::StrCat(Prefix(), "protocol error: ", reader->errstr)));
        return false;
      }
      if (raw == nullptr) return true;
      std::unique_ptr<void, ReplyDeleter> owned(raw);
      if (!on_replies_) {
        Fail(absl::InternalError(Prefix() + "unexpected reply"));
        return false;
      }
      replies_.push_back(ConvertReply(*static_cast<redisReply*>(raw)));
      if (replies_.size() == expected_) {
        OnReplies done = std::move(on_replies_);
        on_replies_ = nullptr;
        done(std::move(replies_));
        if (!conn_ || conn_.get() != &conn) return false;
      }
    }
  }

  void ArmTimer(absl::Duration timeout) {
    const uint64_t seq = ++timer_seq_;
    timer_.expires_after(ToChrono(timeout));
    timer_.async_wait(
        [this, self = shared_from_this(), seq, timeout](const error_code& ec) {
          if (ec || seq != timer_seq_ || !busy_) return;
          std::string what = absl::StrCat(phase_, ": no answer within ",
                                          absl::FormatDuration(timeout));
          if (on_replies_ && expected_ > 1) {
            absl::StrAppend(&what, " (", replies_.size(), " of ", expected_,
                            " replies received)");
          }
          Fail(absl::DeadlineExceededError(Prefix() + what));
        });
  }

  absl::Status IoError(absl::string_view what, const error_code& ec) const {
    const std::string reason = ec == asio::error::eof
                                   ? "connection closed by the server"
                                   : ec.message();
    return absl::UnavailableError(absl::StrCat(Prefix(), what, ": ", reason));
  }

  void Close() {
    ++timer_seq_;
    timer_.cancel();
    resolver_.cancel();
    on_replies_ = nullptr;
    replies_.clear();
    if (conn_) {
      error_code ignored;
      conn_->stream.next_layer().close(ignored);
      conn_.reset();
    }
  }

  // Closes the connection, starts the backoff, fails the request in
  // progress with `status` and the queued ones with the backoff status.
  void Fail(absl::Status status) {
    Close();
    backoff_ = backoff_ == absl::ZeroDuration()
                   ? options_.backoff_initial
                   : std::min(backoff_ * 2, options_.backoff_max);
    retry_at_ = std::chrono::steady_clock::now() + ToChrono(backoff_);
    last_failure_ = std::string(absl::StripPrefix(status.message(), Prefix()));
    std::deque<Request> failed = std::exchange(queue_, {});
    busy_ = false;
    const absl::Status later = BackoffStatus();
    for (size_t i = 0; i < failed.size(); ++i) {
      failed[i].done(i == 0 ? status : later);
    }
  }

  void Complete(Replies replies) {
    Request request = std::move(queue_.front());
    queue_.pop_front();
    busy_ = false;
    request.done(std::move(replies));
    StartNext();
  }

  Strand strand_;
  const RedisOptions options_;
  const std::string address_;
  ssl::context ssl_ctx_;
  absl::Status config_error_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  uint64_t timer_seq_ = 0;

  ConnPtr conn_;               // null when disconnected
  std::deque<Request> queue_;  // front() is in progress when busy_
  bool busy_ = false;
  bool shut_down_ = false;
  std::string phase_;  // what the request in progress is doing, for messages

  // The exchange in progress: replies expected, received, and their consumer.
  size_t expected_ = 0;
  Replies replies_;
  OnReplies on_replies_;

  absl::Duration backoff_ = absl::ZeroDuration();
  std::chrono::steady_clock::time_point retry_at_;
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
