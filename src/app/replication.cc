#include "replication.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ballast/core/error_kind.h"
#include "ballast/source/kubernetes_client.h"
#include "boost/asio/post.hpp"

namespace ballast::app {
namespace {

namespace asio = boost::asio;
using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "ballast";
  return name;
}

// The pod's namespace: POD_NAMESPACE (downward API), else the service
// account's namespace file, else "default".
std::string PodNamespace() {
  if (const char* ns = std::getenv("POD_NAMESPACE"); ns && *ns) return ns;
  std::ifstream in("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
  std::string ns;
  if (in >> ns && !ns.empty()) return ns;
  return "default";
}

// The default staleness: a failover (lease duration, then a tick) must not
// make the followers unready, and neither may one slow tick.
absl::Duration StaleAfter(const config::StateConfig& c, absl::Duration poll) {
  if (c.stale_after) return *c.stale_after;
  return std::max(c.lease_duration + 2 * poll, 3 * poll);
}

}  // namespace

std::string ReplicaIdentity(const config::StateConfig& config) {
  if (!config.identity_env.empty()) {
    if (const char* v = std::getenv(config.identity_env.c_str()); v && *v) {
      return v;
    }
  }
  return HostName();
}

absl::StatusOr<std::unique_ptr<Replication>> Replication::Create(
    asio::io_context& io, Strand strand, const config::Config& config,
    control::ControlLoop& loop, Logger& log, prometheus::Registry& registry,
    Clock clock) {
  const config::StateConfig& c = *config.state;
  net::RedisOptions redis = c.redis;
  absl::StatusOr<std::string> password =
      config::ReadSecret(c.password, "state.redis.password");
  if (!password.ok()) return password.status();
  redis.password = *std::move(password);
  std::unique_ptr<Replication> r(new Replication(
      io, std::move(strand), c,
      absl::Seconds(config.server.poll_interval_seconds), redis,
      ReplicaIdentity(c), loop, log, registry, std::move(clock)));
  loop.set_identity(r->identity_);
  state::ElectionOptions election{
      .identity = r->identity_,
      .lease_duration = c.lease_duration,
      .renew_deadline = c.renew_deadline,
      .retry_period = c.retry_period,
      .clock = r->clock_,
      .on_error = [r = r.get()](const absl::Status& s) {
        asio::post(r->strand_, [r, s] { r->ElectionFailed(s); });
      }};
  absl::StatusOr<std::unique_ptr<state::Elector>> elector;
  if (c.lock == config::StateConfig::Lock::kKubernetes) {
    absl::StatusOr<net::HttpClientOptions> api =
        source::KubernetesClientOptions(config.kubernetes);
    if (!api.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "state.leaderElection.lock kubernetes: ", api.status().message()));
    }
    elector = state::MakeLeaseElector(
        io, *std::move(api),
        c.lease_namespace.empty() ? PodNamespace() : c.lease_namespace,
        c.lease_name, election);
  } else {
    elector = state::MakeRedisLockElector(
        io, redis, absl::StrCat(c.key_prefix, c.lease_name, ":"), election,
        absl::StrCat(c.key_prefix, "fence"));
  }
  if (!elector.ok()) return elector.status();
  r->elector_ = *std::move(elector);
  return r;
}

Replication::Replication(asio::io_context& io, Strand strand,
                         const config::StateConfig& config, absl::Duration poll,
                         net::RedisOptions redis, std::string identity,
                         control::ControlLoop& loop, Logger& log,
                         prometheus::Registry& registry, Clock clock)
    : config_(config),
      poll_interval_(poll),
      stale_after_(StaleAfter(config, poll)),
      identity_(std::move(identity)),
      strand_(std::move(strand)),
      loop_(loop),
      log_(log),
      clock_(std::move(clock)),
      store_(io, std::move(redis), config.key_prefix),
      is_leader_(BuildGauge()
                     .Name("ballast_leader")
                     .Help("1 while this replica leads (polls, ticks and "
                           "writes the state store), 0 while it follows")
                     .Register(registry)
                     .Add({})),
      transitions_(BuildCounter()
                       .Name("ballast_leader_transitions_total")
                       .Help("Times this replica started or stopped leading")
                       .Register(registry)
                       .Add({})),
      writes_(BuildCounter()
                  .Name("ballast_state_writes_total")
                  .Help("State store writes by result (ok, fenced, error)")
                  .Register(registry)),
      reads_(BuildCounter()
                 .Name("ballast_state_reads_total")
                 .Help("State store reads by result (ok, error)")
                 .Register(registry)),
      write_duration_(
          BuildHistogram()
              .Name("ballast_state_write_duration_seconds")
              .Help("Time to write every target's record (one round trip)")
              .Register(registry)
              .Add({},
                   prometheus::Histogram::BucketBoundaries{
                       0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                       0.25, 0.5, 1, 2.5})),
      discarded_(BuildCounter()
                     .Name("ballast_state_records_discarded_total")
                     .Help("Stored records not used, by reason (corrupt, "
                           "version, incompatible), once per target until "
                           "its record is taken again; the target starts "
                           "seeded instead")
                     .Register(registry)),
      election_errors_(BuildCounter()
                           .Name("ballast_leader_election_errors_total")
                           .Help("Failed tries to acquire or renew the "
                                 "leader's lease, by kind")
                           .Register(registry)),
      state_bytes_(BuildGauge()
                       .Name("ballast_state_bytes")
                       .Help("Bytes of every target's record, as last "
                             "written or read")
                       .Register(registry)
                       .Add({})) {}

Replication::~Replication() = default;

void Replication::Start() {
  log_.Info("campaigning for leadership",
            {{"identity", identity_},
             {"lock", config_.lock == config::StateConfig::Lock::kKubernetes
                          ? "kubernetes"
                          : "redis"},
             {"lease", config_.lease_name}});
  elector_->Start([this](std::optional<uint64_t> term) {
    asio::post(strand_, [this, term] { OnElection(term); });
  });
}

void Replication::Stop(absl::AnyInvocable<void()> done) {
  stopped_ = true;
  ++epoch_;
  elector_->Stop(std::move(done));
}

void Replication::OnElection(std::optional<uint64_t> term) {
  if (stopped_) return;
  ++epoch_;
  transitions_.Increment();
  if (!term) {
    log_.Warn("stopped leading; following",
              {{"identity", identity_},
               {"term", term_ ? absl::StrCat(*term_) : std::string("none")}});
    term_.reset();
    restored_ = false;
    writing_ = false;
    is_leader_.Set(0);
    return;
  }
  log_.Info("leading",
            {{"identity", identity_}, {"term", absl::StrCat(*term)}});
  term_ = *term;
  restored_ = false;
  is_leader_.Set(1);
  TakeOver(*term, epoch_);
}

// Claims the term (older leaders' writes are refused from now on), then
// reads every record and continues from them.
void Replication::TakeOver(uint64_t term, uint64_t epoch) {
  store_.Claim(term, [this, term, epoch](const absl::Status& claimed) {
    asio::post(strand_, [this, term, epoch, claimed] {
      if (epoch != epoch_) return;
      if (absl::IsFailedPrecondition(claimed)) {
        // A newer leader exists: our election result is stale.
        log_.Warn("a newer leader holds the state store; not leading",
                  {{"term", absl::StrCat(term)},
                   {"error", std::string(claimed.message())}});
        writes_.Add({{"result", "fenced"}}).Increment();
        term_.reset();
        is_leader_.Set(0);
        return;
      }
      if (!claimed.ok()) {
        // The store is down: lead from what this replica last followed;
        // the first write that lands claims the term.
        log_.Warn(
            "state store unreachable at takeover; leading from the last "
            "state this replica read",
            {{"error", std::string(claimed.message())}});
        CountRead(claimed);
        restored_ = true;
        return;
      }
      store_.ReadAll([this, epoch](absl::StatusOr<state::StoredState> s) {
        asio::post(strand_, [this, epoch, s = std::move(s)]() mutable {
          if (epoch != epoch_) return;
          CountRead(s.status());
          if (s.ok()) {
            std::set<std::string> configured;
            for (const config::TargetConfig& t : loop_.config().targets) {
              configured.insert(t.spec.name);
            }
            for (const auto& entry : s->records) {
              if (!configured.contains(entry.first)) {
                absent_since_.emplace(entry.first, clock_());
              }
            }
            std::vector<state::TargetRecord> records = Decode(*s);
            const size_t count = records.size();
            Restore(std::move(records));
            log_.Info("state restored",
                      {{"records", absl::StrCat(count)},
                       {"previous_writer", s->last_write.writer},
                       {"previous_term", absl::StrCat(s->last_write.term)}});
          } else {
            log_.Warn(
                "state store unreadable at takeover; leading from the "
                "last state this replica read",
                {{"error", std::string(s.status().message())}});
          }
          restored_ = true;
        });
      });
    });
  });
}

void Replication::Tick() {
  if (stopped_) return;
  if (leading()) {
    loop_.Tick();
  } else if (!term_) {
    Follow();
  }
  // (Between winning and restoring, neither: the next tick leads.)
}

void Replication::Follow() {
  if (reading_) return;
  reading_ = true;
  const uint64_t epoch = epoch_;
  store_.ReadAll([this, epoch](absl::StatusOr<state::StoredState> s) {
    asio::post(strand_, [this, epoch, s = std::move(s)]() mutable {
      reading_ = false;
      if (epoch != epoch_ || term_) return;
      CountRead(s.status());
      if (!s.ok()) return;  // the last snapshot stays, growing older
      Restore(Decode(*s));
      if (s->last_write.term != 0) {
        loop_.PublishSnapshot(s->last_write.written_at, s->last_write.writer);
      }
    });
  });
}

std::vector<state::TargetRecord> Replication::Decode(
    const state::StoredState& stored) {
  std::vector<state::TargetRecord> records;
  records.reserve(stored.records.size());
  size_t bytes = 0;
  for (const auto& [name, data] : stored.records) {
    bytes += data.size();
    absl::StatusOr<state::DecodedRecord> d = state::DecodeRecord(data);
    if (!d.ok()) {
      CountDiscarded(
          name, absl::IsFailedPrecondition(d.status()) ? "version" : "corrupt",
          std::string(d.status().message()));
      continue;
    }
    if (d->record.target != name) {
      CountDiscarded(
          name, "corrupt",
          absl::StrCat("the record names target \"", d->record.target, "\""));
      continue;
    }
    records.push_back(std::move(d->record));
  }
  state_bytes_.Set(static_cast<double>(bytes));
  return records;
}

void Replication::Restore(std::vector<state::TargetRecord> records) {
  std::set<std::string> names;
  for (const state::TargetRecord& r : records) names.insert(r.target);
  for (const std::string& name : loop_.Restore(std::move(records))) {
    names.erase(name);
    CountDiscarded(name, "incompatible", "the target's mode changed");
  }
  // A target whose record was taken again is counted anew if it goes bad.
  for (auto it = discarding_.begin(); it != discarding_.end();) {
    if (names.contains(it->substr(0, it->find('\n')))) {
      it = discarding_.erase(it);
    } else {
      ++it;
    }
  }
}

void Replication::CountDiscarded(const std::string& target,
                                 const std::string& reason,
                                 const std::string& detail) {
  // A follower reads every tick: the same bad record (or a leader whose
  // config gives the target another mode) is counted and logged once, until
  // the target's record is taken again.
  if (!discarding_.insert(absl::StrCat(target, "\n", reason)).second) return;
  discarded_.Add({{"reason", reason}}).Increment();
  log_.Warn("state record discarded; the target starts seeded",
            {{"target", target}, {"reason", reason}, {"error", detail}});
}

void Replication::ElectionFailed(const absl::Status& status) {
  election_errors_.Add({{"kind", ErrorKind(status)}}).Increment();
  if (last_election_error_ == status.code()) return;
  last_election_error_ = status.code();
  log_.Warn(
      "leader election: a try failed",
      {{"kind", ErrorKind(status)}, {"error", std::string(status.message())}});
}

void Replication::CountRead(const absl::Status& status) {
  reads_.Add({{"result", status.ok() ? "ok" : "error"}}).Increment();
  if (status.ok()) {
    if (last_read_error_) log_.Info("state store readable again");
    last_read_error_.reset();
  } else if (last_read_error_ != status.code()) {
    last_read_error_ = status.code();
    log_.Warn("state store read failed; serving the last snapshot",
              {{"kind", ErrorKind(status)},
               {"error", std::string(status.message())}});
  }
}

void Replication::AfterTick() {
  if (!leading() || writing_) return;
  const absl::Time now = clock_();
  const state::RecordMeta meta{
      .term = *term_, .writer = identity_, .written_at = now};
  std::vector<std::pair<std::string, std::string>> put;
  put.reserve(loop_.config().targets.size());
  size_t bytes = 0;
  std::set<std::string> names;
  loop_.ForEachRecord([&](const state::TargetRecord& r) {
    names.insert(r.target);
    put.emplace_back(r.target, state::EncodeRecord(r, meta));
    bytes += put.back().second.size();
  });
  state_bytes_.Set(static_cast<double>(bytes));
  // A reload removed these since the last write: their records are kept
  // for the grace period.
  for (const std::string& name : written_) {
    if (!names.contains(name)) absent_since_.emplace(name, now);
  }
  std::vector<std::string> remove;
  for (auto it = absent_since_.begin(); it != absent_since_.end();) {
    if (names.contains(it->first)) {
      it = absent_since_.erase(it);
    } else if (now - it->second >= config_.removed_target_grace) {
      remove.push_back(it->first);
      it = absent_since_.erase(it);
    } else {
      ++it;
    }
  }
  written_ = std::move(names);
  writing_ = true;
  const uint64_t epoch = epoch_;
  const absl::Time start = absl::Now();
  store_.Write(
      *term_, meta, std::move(put), std::move(remove),
      [this, epoch, start](const absl::Status& s) {
        asio::post(strand_, [this, epoch, start, s] {
          if (epoch != epoch_) return;
          writing_ = false;
          write_duration_.Observe(absl::ToDoubleSeconds(absl::Now() - start));
          if (absl::IsFailedPrecondition(s)) {
            writes_.Add({{"result", "fenced"}}).Increment();
            log_.Warn(
                "state write refused: a newer leader has written; "
                "following",
                {{"error", std::string(s.message())}});
            ++epoch_;
            term_.reset();
            restored_ = false;
            is_leader_.Set(0);
            return;
          }
          writes_.Add({{"result", s.ok() ? "ok" : "error"}}).Increment();
          if (s.ok()) {
            if (last_write_error_) {
              log_.Info("state store writable again; whole state written");
            }
            last_write_error_.reset();
          } else if (last_write_error_ != s.code()) {
            last_write_error_ = s.code();
            log_.Warn(
                "state write failed; computing in memory, retried "
                "each tick",
                {{"kind", ErrorKind(s)}, {"error", std::string(s.message())}});
          }
        });
      });
}

}  // namespace ballast::app
