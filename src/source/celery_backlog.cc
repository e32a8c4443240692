// The key scheme of kombu's Redis transport and the scans over it.
#include "ballast/source/celery_backlog.h"

#include <cmath>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ballast/core/json.h"

namespace ballast::source {
namespace {

constexpr char kBindingPrefix[] = "_kombu.binding.";
constexpr char kScanCount[] = "1000";

// The key quoted for a message as redis-cli shows it: separators are
// control bytes.
std::string Quote(absl::string_view key) {
  std::string out = "\"";
  for (unsigned char c : key) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (absl::ascii_isprint(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  out.push_back('"');
  return out;
}

// Runs a SCAN-family command until its cursor returns to 0, handing the
// items of each page to `on_items`.
class CursorLoop : public std::enable_shared_from_this<CursorLoop> {
 public:
  using MakeCommand =
      std::function<std::vector<std::string>(const std::string&)>;
  using OnItems = std::function<void(const std::vector<net::RedisReply>&)>;
  using Done = absl::AnyInvocable<void(absl::Status)>;

  static void Run(net::RedisClient& client, MakeCommand make, OnItems on_items,
                  Done done) {
    auto loop = std::make_shared<CursorLoop>(
        client, std::move(make), std::move(on_items), std::move(done));
    loop->Next("0");
  }

  CursorLoop(net::RedisClient& client, MakeCommand make, OnItems on_items,
             Done done)
      : client_(client),
        make_(std::move(make)),
        on_items_(std::move(on_items)),
        done_(std::move(done)) {}

 private:
  void Next(const std::string& cursor) {
    std::vector<std::string> command = make_(cursor);
    const std::string name = command[0];
    client_.Pipeline(
        {std::move(command)}, [self = shared_from_this(), name](
                                  absl::StatusOr<net::RedisClient::Replies> r) {
          if (!r.ok()) return self->done_(r.status());
          const net::RedisReply& reply = r->front();
          if (absl::Status s = reply.ToStatus(name); !s.ok())
            return self->done_(s);
          if (reply.type != net::RedisReply::Type::kArray ||
              reply.elements.size() != 2 ||
              reply.elements[1].type != net::RedisReply::Type::kArray) {
            return self->done_(absl::InternalError(absl::StrCat(
                name, ": unexpected reply ", reply.DebugString())));
          }
          self->on_items_(reply.elements[1].elements);
          const std::string& next = reply.elements[0].str;
          if (next == "0") return self->done_(absl::OkStatus());
          self->Next(next);
        });
  }

  net::RedisClient& client_;
  MakeCommand make_;
  OnItems on_items_;
  Done done_;
};

}  // namespace

std::vector<std::string> BandKeys(absl::string_view queue,
                                  const CeleryBrokerOptions& options) {
  std::vector<std::string> keys;
  keys.reserve(options.priority_steps.size());
  for (int step : options.priority_steps) {
    keys.push_back(step == 0 ? absl::StrCat(options.global_keyprefix, queue)
                             : absl::StrCat(options.global_keyprefix, queue,
                                            options.separator, step));
  }
  return keys;
}

std::string UnackedKey(const CeleryBrokerOptions& options) {
  return absl::StrCat(options.global_keyprefix, options.unacked_key);
}

RedisCommands BacklogCommands(const std::vector<std::string>& queues,
                              const CeleryBrokerOptions& options) {
  RedisCommands commands;
  commands.reserve(queues.size() * options.priority_steps.size() + 1);
  for (const std::string& queue : queues) {
    for (std::string& key : BandKeys(queue, options)) {
      commands.push_back({"LLEN", std::move(key)});
    }
  }
  commands.push_back({"HLEN", UnackedKey(options)});
  return commands;
}

absl::StatusOr<Backlog> ParseBacklog(
    const std::vector<std::string>& queues, const CeleryBrokerOptions& options,
    const std::vector<net::RedisReply>& replies) {
  const size_t bands = options.priority_steps.size();
  if (replies.size() != queues.size() * bands + 1) {
    return absl::InternalError(absl::StrCat("expected ",
                                            queues.size() * bands + 1,
                                            " replies, got ", replies.size()));
  }
  // An integer reply, or the error of `key` (made only then) naming it.
  auto count = [](const net::RedisReply& reply, absl::string_view command,
                  auto key) -> absl::StatusOr<int64_t> {
    if (reply.type == net::RedisReply::Type::kInteger) return reply.integer;
    const std::string context = absl::StrCat(command, " ", Quote(key()));
    if (absl::Status s = reply.ToStatus(context); !s.ok()) return s;
    return absl::InternalError(
        absl::StrCat(context, ": not an integer: ", reply.DebugString()));
  };
  Backlog backlog;
  size_t next = 0;
  for (const std::string& queue : queues) {
    absl::StatusOr<int64_t> waiting = 0;
    for (size_t band = 0; band < bands; ++band) {
      absl::StatusOr<int64_t> n = count(replies[next++], "LLEN", [&] {
        return BandKeys(queue, options)[band];
      });
      if (!waiting.ok()) continue;
      if (n.ok()) {
        *waiting += *n;
      } else {
        waiting = absl::Status(
            n.status().code(),
            absl::StrCat("queue '", queue, "': ", n.status().message()));
      }
    }
    backlog.waiting.emplace_hint(backlog.waiting.end(), queue,
                                 std::move(waiting));
  }
  backlog.unacked =
      count(replies[next], "HLEN", [&] { return UnackedKey(options); });
  return backlog;
}

absl::StatusOr<std::string> UnackedRoutingKey(absl::string_view value) {
  const absl::string_view text = absl::StripAsciiWhitespace(value);
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unacked value is not a kombu [message, exchange, routing_key] array: ",
        why));
  };
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') {
    return invalid("not a JSON array");
  }
  const absl::string_view inner =
      absl::StripTrailingAsciiWhitespace(text.substr(0, text.size() - 1));
  if (inner.empty() || inner.back() != '"') {
    return invalid("the last element is not a string");
  }
  // Inside a JSON string every quote is escaped, so the opening quote of the
  // last element is the first quote before its end not preceded by an odd
  // number of backslashes.
  const size_t close = inner.size() - 1;
  size_t open = absl::string_view::npos;
  for (size_t i = close; i-- > 0;) {
    if (inner[i] != '"') continue;
    size_t backslashes = 0;
    while (backslashes < i && inner[i - 1 - backslashes] == '\\') ++backslashes;
    if (backslashes % 2 == 0) {
      open = i;
      break;
    }
  }
  if (open == absl::string_view::npos) return invalid("unterminated string");
  const absl::string_view before =
      absl::StripTrailingAsciiWhitespace(inner.substr(0, open));
  if (before.empty() || before.back() != ',') {
    return invalid("the routing key is not a top-level element");
  }
  absl::StatusOr<rapidjson::Document> key =
      ParseJson(inner.substr(open, close - open + 1));
  if (!key.ok() || !key->IsString()) {
    return invalid("bad escape in the routing key");
  }
  return std::string(JsonText(*key));
}

absl::StatusOr<CeleryBinding> ParseBindingMember(
    absl::string_view member, const CeleryBrokerOptions& options) {
  std::vector<absl::string_view> fields =
      absl::StrSplit(member, options.separator);
  if (fields.size() != 3 || fields[2].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("binding ", Quote(member),
                     " is not routing_key SEP pattern SEP queue"));
  }
  return CeleryBinding{std::string(fields[0]), std::string(fields[1]),
                       std::string(fields[2])};
}

bool IsControlExchange(absl::string_view exchange) {
  return exchange == "celeryev" || absl::EndsWith(exchange, ".pidbox");
}

std::string BindingKeyPattern(const CeleryBrokerOptions& options) {
  std::string pattern;
  for (char c : options.global_keyprefix) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
      pattern.push_back('\\');
    }
    pattern.push_back(c);
  }
  return absl::StrCat(pattern, kBindingPrefix, "*");
}

double EstimateReserved(int64_t unacked, const ReservedSplit& split,
                        const std::set<std::string>& queues) {
  int64_t total = 0;
  int64_t mine = 0;
  for (const auto& [routing_key, n] : split) {
    total += n;
    if (queues.contains(routing_key)) mine += n;
  }
  if (unacked == 0 || total == 0) return 0;
  if (mine == total) return static_cast<double>(unacked);
  return std::round(static_cast<double>(unacked) * static_cast<double>(mine) /
                    static_cast<double>(total));
}

void ScanReservedSplit(
    net::RedisClient& client, const CeleryBrokerOptions& options,
    absl::AnyInvocable<void(absl::StatusOr<ReservedSplit>)> done) {
  auto split = std::make_shared<ReservedSplit>();
  const std::string key = UnackedKey(options);
  CursorLoop::Run(
      client,
      [key](const std::string& cursor) {
        return std::vector<std::string>{"HSCAN", key, cursor, "COUNT",
                                        kScanCount};
      },
      [split](const std::vector<net::RedisReply>& items) {
        // Field, value, field, value...
        for (size_t i = 1; i < items.size(); i += 2) {
          absl::StatusOr<std::string> rk = UnackedRoutingKey(items[i].str);
          ++(*split)[rk.ok() ? *rk : std::string()];
        }
      },
      [split, done = std::move(done)](const absl::Status& status) mutable {
        if (!status.ok()) return done(status);
        done(std::move(*split));
      });
}

void DiscoverQueues(
    net::RedisClient& client, const CeleryBrokerOptions& options,
    absl::AnyInvocable<void(absl::StatusOr<std::set<std::string>>)> done) {
  // SCAN may return a key more than once: a set.
  auto keys = std::make_shared<std::set<std::string>>();
  const std::string pattern = BindingKeyPattern(options);
  CursorLoop::Run(
      client,
      [pattern](const std::string& cursor) {
        return std::vector<std::string>{"SCAN",  cursor,  "MATCH",
                                        pattern, "COUNT", kScanCount};
      },
      [keys](const std::vector<net::RedisReply>& items) {
        for (const net::RedisReply& item : items) keys->insert(item.str);
      },
      [&client, options, keys,
       done = std::move(done)](const absl::Status& status) mutable {
        if (!status.ok()) return done(status);
        const std::string key_prefix =
            absl::StrCat(options.global_keyprefix, kBindingPrefix);
        RedisCommands commands;
        for (const std::string& key : *keys) {
          const absl::string_view exchange =
              absl::string_view(key).substr(key_prefix.size());
          if (!IsControlExchange(exchange))
            commands.push_back({"SMEMBERS", key});
        }
        if (commands.empty()) return done(std::set<std::string>());
        client.Pipeline(
            commands, [commands, options, done = std::move(done)](
                          absl::StatusOr<net::RedisClient::Replies> r) mutable {
              if (!r.ok()) return done(r.status());
              std::set<std::string> queues;
              for (size_t i = 0; i < r->size(); ++i) {
                const net::RedisReply& reply = (*r)[i];
                if (absl::Status s = reply.ToStatus(
                        absl::StrCat("SMEMBERS ", Quote(commands[i][1])));
                    !s.ok()) {
                  return done(s);
                }
                for (const net::RedisReply& member : reply.elements) {
                  absl::StatusOr<CeleryBinding> b =
                      ParseBindingMember(member.str, options);
                  if (b.ok()) queues.insert(b->queue);
                }
              }
              done(std::move(queues));
            });
      });
}

}  // namespace ballast::source
