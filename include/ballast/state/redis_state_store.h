// ballast/state/redis_state_store.h
//
// The state store: every target's record (state/record.h) in one Redis
// hash, written by the leader after each tick in one round trip, read by a
// new leader and by every follower. Writes are fenced: each carries the
// leader's term, and the store refuses it once a newer term has claimed or
// written, so a deposed leader that still runs cannot overwrite its
// successor (one Lua script: the check and the writes are atomic).
//
//   RedisStateStore store(io, redis_options, "ballast:");
//   store.Claim(term, [](absl::Status s) { ... });  // before the first read
//   store.ReadAll([](absl::StatusOr<StoredState> s) { ... });
//   store.Write(term, meta, {{"asr-worker", bytes}}, {"removed"},
//               [](absl::Status s) {
//                 // FailedPrecondition: fenced (a newer term has written)
//               });
//
// Keys, under the prefix: "records" (a hash: target name -> record bytes),
// "fence" (the highest term that claimed or wrote), "meta" (a hash: writer,
// term, written_at in Unix nanoseconds, of the last write).
//
// Thread-safety: as net::RedisClient; callbacks run on its strand.
#ifndef BALLAST_STATE_REDIS_STATE_STORE_H_
#define BALLAST_STATE_REDIS_STATE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "ballast/net/redis_options.h"
#include "ballast/state/record.h"

namespace ballast::state {

// What the store holds.
struct StoredState {
  uint64_t fence = 0;     // the highest term that claimed or wrote; 0: none
  RecordMeta last_write;  // of the last write (term 0: none yet)
  std::map<std::string, std::string> records;  // target -> record bytes
};

class RedisStateStore {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;

  RedisStateStore(boost::asio::io_context& io, net::RedisOptions options,
                  std::string key_prefix);

  // Raises the fence to `term` (no-op if it is higher already), so that
  // writes of older terms are refused from now on. FailedPrecondition when a
  // newer term holds the fence.
  void Claim(uint64_t term, Done done);

  // Sets `put` (target -> bytes) and deletes `remove` in one atomic,
  // fenced step, and records `meta` as the last write. FailedPrecondition
  // ("fenced: term 3 < 4") when a newer term has claimed or written; then
  // nothing is changed. Unavailable/DeadlineExceeded as RedisClient.
  void Write(uint64_t term, const RecordMeta& meta,
             std::vector<std::pair<std::string, std::string>> put,
             std::vector<std::string> remove, Done done);

  // Everything, in one round trip.
  void ReadAll(absl::AnyInvocable<void(absl::StatusOr<StoredState>)> done);

  const std::string& key_prefix() const { return prefix_; }
  const net::RedisOptions& options() const { return client_.options(); }

 private:
  net::RedisClient client_;
  const std::string prefix_;
};

}  // namespace ballast::state

#endif  // BALLAST_STATE_REDIS_STATE_STORE_H_
