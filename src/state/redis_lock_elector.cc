// The Redis lock elector: a key naming the holder that expires after
// lease_duration, and a counter of holdings as the term. Each try and the
// release are one EVAL (atomic on the server). The timing is the shared
// Campaign's (election.cc).
//
// Unlike the Lease, the record's expiry is Redis's own: the server drops
// the key lease_duration after the last SET or PEXPIRE, by its clock, and a
// follower takes the lock as soon as the key is gone, not after watching it
// unchanged for lease_duration on its own clock. The leader still steps
// down by its own clock (renew_deadline < lease_duration after the start of
// its last successful renewal), before the server can let it expire.

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "ballast/net/redis_client.h"
#include "ballast/state/election.h"
#include "ballast/state/leader.h"

namespace ballast::state {
namespace {

// KEYS[1] the holder key, KEYS[2] the term counter, KEYS[3] a floor for new
// terms (the state store's fence: a counter lost to a FLUSHALL or a
// restarted server must not hand out a term the fence would refuse, nor
// one an earlier leader used); ARGV[1] this replica's identity, ARGV[2] the
// lease in milliseconds. Returns {1, term} when this replica holds the lock
// now, {0, holder} when another does.
constexpr char kAcquireScript[] = R"lua(
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
  local term = redis.call('INCR', KEYS[2])
  if term <= floor then
    term = floor + 1
    redis.call('SET', KEYS[2], term)
  end
  return {1, term}
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
return {0, holder}
)lua";

// Compare and delete: only this replica's own lock. Returns 1 if deleted.
constexpr char kReleaseScript[] = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

class RedisLock : public LockBackend {
 public:
  RedisLock(boost::asio::io_context& io, net::RedisOptions redis,
            const std::string& prefix, const std::string& term_floor_key,
            const ElectionOptions& options)
      : client_(io, std::move(redis)),
        key_(absl::StrCat(prefix, "leader")),
        term_key_(absl::StrCat(prefix, "leader-term")),
        // Without a floor, the counter is its own (a no-op).
        floor_key_(term_floor_key.empty() ? term_key_ : term_floor_key),
        identity_(options.identity),
        lease_ms_(absl::StrCat(std::max<int64_t>(
            1, absl::ToInt64Milliseconds(options.lease_duration)))) {}

  void TryAcquireOrRenew(AttemptDone done) override {
    client_.Pipeline(
        {{"EVAL", kAcquireScript, "3", key_, term_key_, floor_key_, identity_,
          lease_ms_}},
        [this, done = std::move(done)](
            absl::StatusOr<net::RedisClient::Replies> replies) mutable {
          std::move(done)(Parse(std::move(replies)));
        });
  }

  void Release(ReleaseDone done) override {
    client_.Pipeline(
        {{"EVAL", kReleaseScript, "1", key_, identity_}},
        [this, done = std::move(done)](
            absl::StatusOr<net::RedisClient::Replies> replies) mutable {
          if (!replies.ok()) {
            std::move(done)(replies.status());
            return;
          }
          std::move(done)(replies->at(0).ToStatus(absl::StrCat(
              "redis ", client_.options().Address(), ": release ", key_)));
        });
  }

 private:
  absl::StatusOr<LockState> Parse(
      absl::StatusOr<net::RedisClient::Replies> replies) const {
    if (!replies.ok()) return replies.status();
    const std::string context =
        absl::StrCat("redis ", client_.options().Address(), ": acquire ", key_);
    const net::RedisReply& reply = replies->at(0);
    if (reply.is_error()) return reply.ToStatus(context);
    using Type = net::RedisReply::Type;
    if (reply.type != Type::kArray || reply.elements.size() != 2 ||
        reply.elements[0].type != Type::kInteger) {
      return absl::DataLossError(
          absl::StrCat(context, ": unexpected reply ", reply.DebugString()));
    }
    const net::RedisReply& value = reply.elements[1];
    if (reply.elements[0].integer == 0) {
      if (value.type != Type::kString) {
        return absl::DataLossError(
            absl::StrCat(context, ": unexpected holder ", value.DebugString()));
      }
      return LockState{.holder = value.str};
    }
    if (value.type != Type::kInteger || value.integer < 1) {
      // The counter was deleted or overwritten under a held lock: a term
      // from it could repeat an earlier one, so none is given.
      return absl::DataLossError(absl::StrCat(
          context, ": ", term_key_, " is not a term: ", value.DebugString()));
    }
    return LockState{.held = true,
                     .term = static_cast<uint64_t>(value.integer),
                     .holder = identity_};
  }

  net::RedisClient client_;
  const std::string key_;
  const std::string term_key_;
  const std::string floor_key_;
  const std::string identity_;
  const std::string lease_ms_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Elector>> MakeRedisLockElector(
    boost::asio::io_context& io, net::RedisOptions redis,
    const std::string& key_prefix, const ElectionOptions& options,
    const std::string& term_floor_key) {
  if (absl::Status s = ValidateElectionOptions(options); !s.ok()) return s;
  // One EVAL per try: its deadline well inside the renew deadline, and a
  // server back after an outage retried within a retry period.
  redis.command_timeout =
      std::min(redis.command_timeout, options.renew_deadline / 2);
  redis.connect_timeout =
      std::min(redis.connect_timeout, options.renew_deadline / 2);
  redis.backoff_max = std::min(redis.backoff_max, options.retry_period);
  redis.backoff_initial = std::min(redis.backoff_initial, redis.backoff_max);
  return MakeElector(
      io,
      std::make_unique<RedisLock>(io, std::move(redis), key_prefix,
                                  term_floor_key, options),
      options);
}

}  // namespace ballast::state
