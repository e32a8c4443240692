// CeleryRedisSource: the per-server poller of Celery backlogs.
#include <fnmatch.h>

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "ballast/source/celery_backlog.h"

namespace ballast::source {
namespace {

bool IsPattern(absl::string_view queue) {
  return queue.find_first_of("*?[") != absl::string_view::npos;
}

// Whether `status` is a failure of the connection (after which the client
// backs off) rather than an error reply.
bool IsConnectionError(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

}  // namespace

// Lives on the client's strand: every member below `client_` is touched only
// from tasks posted to it and from the client's callbacks.
class CeleryRedisSource::State {
 public:
  State(boost::asio::io_context& io, CeleryRedisSourceOptions options,
        std::vector<CeleryInputSpec> inputs)
      : options_(std::move(options)),
        inputs_(std::move(inputs)),
        prefix_(absl::StrCat("redis ", options_.redis.Address(), ": ")),
        client_(io, options_.redis) {}

  const net::RedisOptions& redis_options() const { return client_.options(); }

  // Destroys `self` on its client's strand, after the tasks already queued
  // there, so that no callback of a read in flight runs into a destroyed
  // State (the client's contract: destroy it on its strand). If the
  // io_context never runs again, the task is destroyed with it, and `self`.
  static void DestroyOnStrand(std::unique_ptr<State> self) {
    net::RedisClient& client = self->client_;
    client.Post([owned = std::move(self)]() mutable { owned.reset(); });
  }

  void SetInputs(std::vector<CeleryInputSpec> inputs) {
    client_.Post([this, inputs = std::move(inputs)]() mutable {
      inputs_ = std::move(inputs);
    });
  }

  void Poll(absl::AnyInvocable<void(CeleryPollResult)> done) {
    client_.Post([this, done = std::move(done)]() mutable {
      if (done_) {
        return done(Failed(
            inputs_.size(),
            absl::UnavailableError(prefix_ +
                                   "the previous poll is still running")));
      }
      done_ = std::move(done);
      poll_inputs_ = inputs_;
      now_ = options_.clock();
      MaybeDiscover();
    });
  }

 private:
  static CeleryPollResult Failed(size_t inputs, const absl::Status& status) {
    CeleryPollResult result;
    result.inputs.assign(inputs, status);
    result.unacked = status;
    return result;
  }

  bool WantsReserved() const {
    for (const CeleryInputSpec& in : poll_inputs_) {
      if (in.include_reserved) return true;
    }
    return false;
  }

  bool HasPatterns() const {
    for (const CeleryInputSpec& in : poll_inputs_) {
      for (const std::string& q : in.queues) {
        if (IsPattern(q)) return true;
      }
    }
    return false;
  }

  void MaybeDiscover() {
    if (!HasPatterns() ||
        (discovered_ && now_ - discovered_at_ < options_.discovery_interval)) {
      return ReadBacklog();
    }
    DiscoverQueues(
        client_, options_.broker,
        [this](absl::StatusOr<std::set<std::string>> queues) {
          if (queues.ok()) {
            discovered_ = *std::move(queues);
            discovered_at_ = now_;
            discovery_error_ = absl::OkStatus();
          } else {
            discovery_error_ = queues.status();
            // The connection failed: so would the backlog read.
            if (IsConnectionError(discovery_error_)) {
              return Finish(Failed(poll_inputs_.size(), discovery_error_));
            }
          }
          ReadBacklog();
        });
  }

  // The queues of `input`, patterns expanded over the discovered queues.
  absl::StatusOr<std::set<std::string>> QueuesOf(
      const CeleryInputSpec& input) const {
    std::set<std::string> queues;
    for (const std::string& q : input.queues) {
      if (!IsPattern(q)) {
        queues.insert(q);
        continue;
      }
      if (!discovered_) {
        return absl::UnavailableError(absl::StrCat(
            prefix_, "queue pattern '", q, "': no queue discovery yet",
            discovery_error_.ok()
                ? ""
                : absl::StrCat(" (", discovery_error_.message(), ")")));
      }
      for (const std::string& d : *discovered_) {
        if (fnmatch(q.c_str(), d.c_str(), 0) == 0) queues.insert(d);
      }
    }
    return queues;
  }

  void ReadBacklog() {
    std::set<std::string> all;
    for (const CeleryInputSpec& in : poll_inputs_) {
      absl::StatusOr<std::set<std::string>> queues = QueuesOf(in);
      if (queues.ok()) all.insert(queues->begin(), queues->end());
    }
    auto queues =
        std::make_shared<std::vector<std::string>>(all.begin(), all.end());
    client_.Pipeline(
        BacklogCommands(*queues, options_.broker),
        [this, queues](absl::StatusOr<net::RedisClient::Replies> replies) {
          if (!replies.ok())
            return Finish(Failed(poll_inputs_.size(), replies.status()));
          absl::StatusOr<Backlog> backlog =
              ParseBacklog(*queues, options_.broker, *replies);
          if (!backlog.ok()) {
            return Finish(
                Failed(poll_inputs_.size(),
                       absl::Status(
                           backlog.status().code(),
                           prefix_ + std::string(backlog.status().message()))));
          }
          backlog_ = *std::move(backlog);
          MaybeSplit();
        });
  }

  void MaybeSplit() {
    const bool wanted = WantsReserved();
    const absl::StatusOr<int64_t>& hlen = backlog_.unacked;
    if (!wanted || !hlen.ok()) return Finish(Compute());
    if (*hlen == 0) {
      // Nothing unacked: the split is known without a scan.
      split_ = ReservedSplit();
      split_at_ = now_;
      return Finish(Compute());
    }
    const bool due = !split_ ||
                     now_ - split_at_ >= options_.reserved_interval ||
                     split_->empty();
    if (!due) return Finish(Compute());
    ScanReservedSplit(client_, options_.broker,
                      [this](absl::StatusOr<ReservedSplit> split) {
                        if (split.ok()) {
                          split_ = *std::move(split);
                          split_at_ = now_;
                          split_error_ = absl::OkStatus();
                        } else {
                          split_error_ = split.status();
                        }
                        Finish(Compute());
                      });
  }

  // Reserved messages of `queues`: see the rule in the header.
  absl::StatusOr<double> Reserved(const std::set<std::string>& queues) const {
    const absl::StatusOr<int64_t>& hlen = backlog_.unacked;
    if (!hlen.ok()) return hlen.status();
    if (*hlen == 0) return 0.0;
    if (!split_) {
      return absl::UnavailableError(absl::StrCat(
          prefix_, "no split of the unacked hash yet",
          split_error_.ok() ? ""
                            : absl::StrCat(" (", split_error_.message(), ")")));
    }
    return EstimateReserved(*hlen, *split_, queues);
  }

  absl::StatusOr<double> Value(const CeleryInputSpec& input) const {
    absl::StatusOr<std::set<std::string>> queues = QueuesOf(input);
    if (!queues.ok()) return queues.status();
    double value = 0;
    for (const std::string& q : *queues) {
      const absl::StatusOr<int64_t>& waiting = backlog_.waiting.at(q);
      if (!waiting.ok()) return waiting.status();
      value += static_cast<double>(*waiting);
    }
    if (!input.include_reserved) return value;
    absl::StatusOr<double> reserved = Reserved(*queues);
    if (!reserved.ok()) return reserved.status();
    return value + *reserved;
  }

  CeleryPollResult Compute() {
    // Per-key errors come from ParseBacklog without the server's name.
    auto named = [&](absl::StatusOr<int64_t>& v) {
      if (!v.ok()) {
        v = absl::Status(v.status().code(),
                         absl::StrCat(prefix_, v.status().message()));
      }
    };
    for (auto& [queue, waiting] : backlog_.waiting) named(waiting);
    named(backlog_.unacked);
    CeleryPollResult result;
    for (const CeleryInputSpec& in : poll_inputs_)
      result.inputs.push_back(Value(in));
    // The next poll parses a new backlog: this one is given away.
    result.waiting = std::move(backlog_.waiting);
    result.unacked = std::move(backlog_.unacked);
    return result;
  }

  void Finish(CeleryPollResult result) {
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }

  const CeleryRedisSourceOptions options_;
  std::vector<CeleryInputSpec> inputs_;              // for the next poll
  std::vector<CeleryInputSpec> poll_inputs_;         // of the poll in progress
  const std::string prefix_;                         // "redis host:port: "
  absl::AnyInvocable<void(CeleryPollResult)> done_;  // set while polling
  absl::Time now_;

  Backlog backlog_;

  std::optional<std::set<std::string>> discovered_;
  absl::Time discovered_at_;
  absl::Status discovery_error_;

  std::optional<ReservedSplit> split_;
  absl::Time split_at_;
  absl::Status split_error_;

  net::RedisClient
      client_;  // last: destroyed first, dropping pending callbacks
};

CeleryRedisSource::CeleryRedisSource(boost::asio::io_context& io,
                                     CeleryRedisSourceOptions options,
                                     std::vector<CeleryInputSpec> inputs)
    : state_(
          std::make_unique<State>(io, std::move(options), std::move(inputs))) {}

CeleryRedisSource::~CeleryRedisSource() {
  State::DestroyOnStrand(std::move(state_));
}

void CeleryRedisSource::SetInputs(std::vector<CeleryInputSpec> inputs) {
  state_->SetInputs(std::move(inputs));
}

void CeleryRedisSource::Poll(absl::AnyInvocable<void(CeleryPollResult)> done) {
  state_->Poll(std::move(done));
}

const net::RedisOptions& CeleryRedisSource::redis_options() const {
  return state_->redis_options();
}

}  // namespace ballast::source
