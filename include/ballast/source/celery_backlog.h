// ballast/source/celery_backlog.h
//
// The backlog of Celery queues kept in Redis by kombu's Redis transport
// (see /work/shared/protocols/celery-redis.md): the key scheme as pure
// helpers, and CeleryRedisSource, which polls one Redis server for the
// inputs of every target that uses it.
//
//   CeleryRedisSource source(io, {.redis = {.host = "10.0.0.5"}},
//                            {{.queues = {"asr"}, .include_reserved = true},
//                             {.queues = {"tts-*"}}});
//   source.Poll([](CeleryPollResult r) {
//     r.inputs[0];  // absl::StatusOr<double>: waiting + reserved of "asr"
//   });
//
// The true backlog of a queue Q is
//   waiting(Q)  = Σ over the priority bands of Q of LLEN(band key)
//   reserved(Q) = entries of the `unacked` hash whose routing key is Q
// (prefetched, ETA and, with acks_late, running tasks). With Celery's
// default direct routing a task's routing key is its queue's name; this
// file assumes it is.
#ifndef BALLAST_SOURCE_CELERY_BACKLOG_H_
#define BALLAST_SOURCE_CELERY_BACKLOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "ballast/source/celery_options.h"

namespace ballast::source {

using RedisCommands = std::vector<std::vector<std::string>>;

// The Redis list of each priority band of `queue`, in priority_steps order:
// step 0 is the bare key prefix+queue, step p > 0 is prefix+queue+sep+p.
std::vector<std::string> BandKeys(absl::string_view queue,
                                  const CeleryBrokerOptions& options);

// prefix + unacked_key: the hash of the messages workers hold unacked.
std::string UnackedKey(const CeleryBrokerOptions& options);

// LLEN of every band of every queue (queue by queue, bands in BandKeys
// order), then HLEN of the unacked hash: one pipeline.
RedisCommands BacklogCommands(const std::vector<std::string>& queues,
                              const CeleryBrokerOptions& options);

// The replies of BacklogCommands(queues, options), read back.
struct Backlog {
  // Per queue: Σ LLEN of its bands, or the error of a band, naming its key
  // (a WRONGTYPE reply is FailedPrecondition, never a zero).
  std::map<std::string, absl::StatusOr<int64_t>> waiting;
  // HLEN of the unacked hash, or its error.
  absl::StatusOr<int64_t> unacked = 0;
};
// Internal if `replies` does not have one reply per command.
absl::StatusOr<Backlog> ParseBacklog(
    const std::vector<std::string>& queues, const CeleryBrokerOptions& options,
    const std::vector<net::RedisReply>& replies);

// The routing key of one value of the unacked hash, which kombu writes as the
// JSON array [message, exchange, routing_key]: the last top-level element,
// which must be a string. InvalidArgument otherwise.
absl::StatusOr<std::string> UnackedRoutingKey(absl::string_view value);

// One member of a `_kombu.binding.<exchange>` set:
// routing_key SEP pattern SEP queue, with SEP the broker's separator.
struct CeleryBinding {
  std::string routing_key;
  std::string pattern;
  std::string queue;
};
// InvalidArgument unless the member has exactly three fields and a queue.
absl::StatusOr<CeleryBinding> ParseBindingMember(
    absl::string_view member, const CeleryBrokerOptions& options);

// Whether the exchange of a binding set is a control or event channel
// (`*.pidbox`, `celeryev`) rather than one that routes tasks.
bool IsControlExchange(absl::string_view exchange);

// The SCAN MATCH pattern of the binding sets: the prefix (glob characters
// escaped) + "_kombu.binding.*".
std::string BindingKeyPattern(const CeleryBrokerOptions& options);

// Routing key -> number of unacked messages. Values that are not a kombu
// array are counted under the empty routing key: they belong to no queue.
using ReservedSplit = std::map<std::string, int64_t>;

// The reserved messages of `queues` from a fresh HLEN `unacked` and a split
// that may be older: round(unacked × s / S), s the split's count for
// `queues`, S its total; exactly `unacked` when the split puts every message
// in `queues` (S == s > 0); 0 when unacked or S is 0.
double EstimateReserved(int64_t unacked, const ReservedSplit& split,
                        const std::set<std::string>& queues);

// HSCANs the unacked hash (COUNT 1000 per round trip) and splits it by
// routing key. `done` runs on the client's strand with the split or the
// first error. `client` must outlive the scan.
void ScanReservedSplit(
    net::RedisClient& client, const CeleryBrokerOptions& options,
    absl::AnyInvocable<void(absl::StatusOr<ReservedSplit>)> done);

// SCANs for the binding sets (never KEYS), reads them with one pipeline of
// SMEMBERS, and returns the queues bound to task exchanges (control and
// event exchanges excluded). `client` must outlive the discovery.
void DiscoverQueues(
    net::RedisClient& client, const CeleryBrokerOptions& options,
    absl::AnyInvocable<void(absl::StatusOr<std::set<std::string>>)> done);

// The outcome of one poll.
struct CeleryPollResult {
  // One per input, in the order given: its backlog, or why it has none
  // (never a zero in place of an error).
  std::vector<absl::StatusOr<double>> inputs;
  // Waiting messages per queue read this tick (for per-queue telemetry).
  std::map<std::string, absl::StatusOr<int64_t>> waiting;
  // HLEN of the unacked hash this tick.
  absl::StatusOr<int64_t> unacked = 0;
};

// Polls one Redis server for a set of inputs. Each Poll() is ONE pipelined
// round trip of LLEN (every band of every queue of every input) + HLEN; it
// is preceded by queue discovery when that is due, and followed by an HSCAN
// of the unacked hash when the split is due.
//
// Reserved messages of an input: with H the fresh HLEN and the latest split
// (at most reserved_interval old), reserved = round(H × s / S) where s is
// the split's count for the input's queues and S the split's total. So when
// the split shows every unacked message belongs to the input's queues, the
// fresh HLEN itself is used; when H is 0, reserved is 0 without a split. The
// split is refreshed early when H > 0 but the split is empty (it cannot
// attribute anything). Until a first split succeeds, inputs that include
// reserved messages fail (unless H is 0).
//
// Thread-safety: Poll() and SetInputs() may be called from any thread; the
// work and the callbacks run on the strand of the source's Redis client.
// The source may be destroyed from any thread: its state is destroyed on
// the client's strand after the tasks queued there, and pending callbacks
// are dropped.
class CeleryRedisSource {
 public:
  CeleryRedisSource(boost::asio::io_context& io,
                    CeleryRedisSourceOptions options,
                    std::vector<CeleryInputSpec> inputs);
  ~CeleryRedisSource();
  CeleryRedisSource(const CeleryRedisSource&) = delete;
  CeleryRedisSource& operator=(const CeleryRedisSource&) = delete;

  // Replaces the inputs (config reload); takes effect at the next Poll().
  void SetInputs(std::vector<CeleryInputSpec> inputs);

  // Reads the backlog of every input. A Poll() while the previous one runs
  // completes at once with Unavailable for every input.
  void Poll(absl::AnyInvocable<void(CeleryPollResult)> done);

  const net::RedisOptions& redis_options() const;

 private:
  class State;
  std::unique_ptr<State> state_;
};

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_CELERY_BACKLOG_H_
