#include "ballast/state/redis_state_store.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ballast::state {
namespace {

using net::RedisReply;

// KEYS: fence. ARGV: term. Returns {1, fence} when the fence is now `term`
// or was already lower-or-equal, {0, fence} when a newer term holds it.
constexpr char kClaimScript[] = R"lua(
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
local term = tonumber(ARGV[1])
if term < fence then return {0, fence} end
if term > fence then redis.call('SET', KEYS[1], ARGV[1]) end
return {1, term}
)lua";

// KEYS: fence, records, meta. ARGV: term, writer, written_at, the number of
// puts, then name/bytes pairs, then the names to delete. The fence check
// and every write run as one step: a refused write changes nothing.
constexpr char kWriteScript[] = R"lua(
local fence = tonumber(redis.call('GET', KEYS[1]) or '0')
local term = tonumber(ARGV[1])
if term < fence then return {0, fence} end
if term > fence then redis.call('SET', KEYS[1], ARGV[1]) end
local puts = tonumber(ARGV[4])
for i = 0, puts - 1 do
  redis.call('HSET', KEYS[2], ARGV[5 + 2 * i], ARGV[6 + 2 * i])
end
for i = 5 + 2 * puts, #ARGV do
  redis.call('HDEL', KEYS[2], ARGV[i])
end
redis.call('HSET', KEYS[3], 'writer', ARGV[2], 'term', ARGV[1],
           'written_at', ARGV[3])
return {1, term}
)lua";

// A script's {ok, fence} answer as a status.
absl::Status FenceStatus(const RedisReply& reply, uint64_t term,
                         absl::string_view what) {
  if (reply.is_error()) return reply.ToStatus(what);
  if (reply.type != RedisReply::Type::kArray || reply.elements.size() != 2 ||
      reply.elements[0].type != RedisReply::Type::kInteger) {
    return absl::InternalError(absl::StrCat(
        what,
        ": unexpected answer from the state store: ", reply.DebugString()));
  }
  if (reply.elements[0].integer == 1) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": fenced: term ", term, " < ",
                   reply.elements[1].integer, " (a newer leader has written)"));
}

std::string UnixNanos(absl::Time t) {
  return absl::StrCat(absl::ToUnixNanos(t));
}

}  // namespace

RedisStateStore::RedisStateStore(boost::asio::io_context& io,
                                 net::RedisOptions options,
                                 std::string key_prefix)
    : client_(io, std::move(options)), prefix_(std::move(key_prefix)) {}

void RedisStateStore::Claim(uint64_t term, Done done) {
  client_.Pipeline(
      {{"EVAL", kClaimScript, "1", prefix_ + "fence", absl::StrCat(term)}},
      [term, done = std::move(done)](
          absl::StatusOr<net::RedisClient::Replies> replies) mutable {
        if (!replies.ok()) return done(replies.status());
        done(FenceStatus(replies->at(0), term, "state claim"));
      });
}

void RedisStateStore::Write(
    uint64_t term, const RecordMeta& meta,
    // Its strings are moved into the command, element by element.
    // NOLINTNEXTLINE(performance-unnecessary-value-param)
    std::vector<std::pair<std::string, std::string>> put,
    std::vector<std::string> remove, Done done) {
  std::vector<std::string> eval;
  eval.reserve(10 + 2 * put.size() + remove.size());
  eval.insert(
      eval.end(),
      {"EVAL", kWriteScript, "3", prefix_ + "fence", prefix_ + "records",
       prefix_ + "meta", absl::StrCat(term), meta.writer,
       UnixNanos(meta.written_at), absl::StrCat(put.size())});
  for (auto& [name, bytes] : put) {
    eval.push_back(std::move(name));
    eval.push_back(std::move(bytes));
  }
  for (std::string& name : remove) eval.push_back(std::move(name));
  std::vector<std::vector<std::string>> commands;
  commands.push_back(std::move(eval));
  client_.Pipeline(
      std::move(commands),
      [term, done = std::move(done)](
          absl::StatusOr<net::RedisClient::Replies> replies) mutable {
        if (!replies.ok()) return done(replies.status());
        done(FenceStatus(replies->at(0), term, "state write"));
      });
}

void RedisStateStore::ReadAll(
    absl::AnyInvocable<void(absl::StatusOr<StoredState>)> done) {
  client_.Pipeline(
      {{"GET", prefix_ + "fence"},
       {"HGETALL", prefix_ + "meta"},
       {"HGETALL", prefix_ + "records"}},
      [done = std::move(done)](
          absl::StatusOr<net::RedisClient::Replies> replies) mutable {
        if (!replies.ok()) return done(replies.status());
        const RedisReply& fence = replies->at(0);
        const RedisReply& meta = replies->at(1);
        RedisReply& records = replies->at(2);
        for (const RedisReply* r :
             {&fence, &meta, static_cast<const RedisReply*>(&records)}) {
          if (r->is_error()) return done(r->ToStatus("state read"));
        }
        StoredState state;
        if (fence.type == RedisReply::Type::kString &&
            !absl::SimpleAtoi(fence.str, &state.fence)) {
          return done(absl::DataLossError(absl::StrCat(
              "state read: fence is not a number: ", fence.DebugString())));
        }
        if (meta.type != RedisReply::Type::kArray ||
            records.type != RedisReply::Type::kArray) {
          return done(
              absl::DataLossError("state read: meta or records is not a hash"));
        }
        for (size_t i = 0; i + 1 < meta.elements.size(); i += 2) {
          const std::string& key = meta.elements[i].str;
          const std::string& value = meta.elements[i + 1].str;
          if (key == "writer") {
            state.last_write.writer = value;
          } else if (key == "term") {
            (void)absl::SimpleAtoi(value, &state.last_write.term);
          } else if (key == "written_at") {
            int64_t nanos = 0;
            if (absl::SimpleAtoi(value, &nanos)) {
              state.last_write.written_at = absl::FromUnixNanos(nanos);
            }
          }
        }
        for (size_t i = 0; i + 1 < records.elements.size(); i += 2) {
          state.records.emplace(std::move(records.elements[i].str),
                                std::move(records.elements[i + 1].str));
        }
        done(std::move(state));
      });
}

}  // namespace ballast::state
