// ballast/net/redis_client.h
//
// A small asynchronous Redis client on a Boost.Asio io_context: one
// connection per server, plain TCP or TLS (`rediss://`), commands sent as
// pipelines (all commands in one write, all replies read back: one round
// trip). hiredis is used only for the RESP encoding and parsing.
//
//   RedisOptions options{.host = "127.0.0.1", .port = 6379};
//   RedisClient client(io, options);
//   client.Pipeline({{"LLEN", "celery"}, {"HLEN", "unacked"}},
//                   [](absl::StatusOr<std::vector<RedisReply>> replies) {
//                     if (!replies.ok()) { ... }  // names host:port
//                     (*replies)[0].integer;      // or an error reply
//                   });
//   io.run();
//
//   // For the CLI (`ballast probe`): its own io_context, blocking.
//   absl::StatusOr<std::vector<RedisReply>> r =
//       RunPipelineSync(options, {{"PING"}});
#ifndef BALLAST_NET_REDIS_CLIENT_H_
#define BALLAST_NET_REDIS_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/net/redis_options.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::net {

// One RESP reply. An error reply (e.g. "WRONGTYPE Operation against a key
// holding the wrong kind of value") is a reply like any other: it concerns
// one command, not the connection.
struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };

  Type type = Type::kNil;
  std::string str;                   // kString, kStatus, kError
  int64_t integer = 0;               // kInteger
  std::vector<RedisReply> elements;  // kArray

  bool is_error() const { return type == Type::kError; }
  // For an error reply: a status whose code follows the error's first word
  // (WRONGTYPE: FailedPrecondition, NOPERM: PermissionDenied, LOADING, BUSY,
  // MASTERDOWN, TRYAGAIN: Unavailable, else Internal) and whose message is
  // "<context>: <error text>". OK for any other reply.
  absl::Status ToStatus(absl::string_view context) const;
  // A short description for error messages: the text of a string, status or
  // error reply, the number of an integer, "nil", or "array of N".
  std::string DebugString() const;
};

// An asynchronous client for one server. Thread-safe: Pipeline() may be
// called from any thread; everything inside runs on one strand of `io`, and
// callbacks are invoked on that strand. Pipelines run one after the other
// on the single connection, in the order they were submitted.
//
// Destroy the client on its io_context's thread (or when the io_context is
// not running): callbacks still pending are then dropped, not invoked.
class RedisClient {
 public:
  using Replies = std::vector<RedisReply>;
  using Callback = absl::AnyInvocable<void(absl::StatusOr<Replies>)>;

  RedisClient(boost::asio::io_context& io, RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends every command (each an argv: {"LLEN", "celery"}) in one write and
  // reads one reply per command, in order. Connects first if needed (TCP,
  // TLS handshake, AUTH, SELECT). `done` gets one reply per command, or:
  // - Unavailable: connection refused or lost, a read or write failed, or
  //   the client is backing off after a failure ("reconnecting in 400ms");
  // - DeadlineExceeded: no connection within connect_timeout, or not every
  //   reply within command_timeout;
  // - Unauthenticated: AUTH was refused; FailedPrecondition: SELECT was;
  // - Internal: the server sent something that is not RESP.
  // Every message starts with "redis host:port: ". After any failure the
  // connection is closed; a later call reconnects once the backoff expired.
  // An empty `commands` completes with no replies and no I/O.
  void Pipeline(std::vector<std::vector<std::string>> commands, Callback done);

  // Runs `fn` on the client's strand, where callbacks run: for callers that
  // keep state touched by their callbacks (see CeleryRedisSource).
  void Post(absl::AnyInvocable<void()> fn);

  const RedisOptions& options() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

// Runs one pipeline on a fresh client and io_context and waits for it; for
// command-line use. The statuses are Pipeline()'s.
absl::StatusOr<std::vector<RedisReply>> RunPipelineSync(
    const RedisOptions& options,
    std::vector<std::vector<std::string>> commands);

}  // namespace ballast::net

#endif  // BALLAST_NET_REDIS_CLIENT_H_
