// src/app/replication.h
//
// `ballast serve` with a `state:` block: durable state and leader election.
// One replica leads: it ticks the control loop (polls the sources, runs the
// engine) and writes every target's record to the state store after each
// tick, fenced by its term. The others follow: each tick they read the
// store and publish its records as their snapshot, so that every replica
// answers every API with the leader's numbers. A new leader (a restart, a
// failover) claims its term, reads the store and continues every target's
// windows from its record.
//
//   Replication r(io, strand, config, loop, log, registry);
//   r.Start();             // campaigns
//   r.Tick();              // every pollIntervalSeconds, on the strand
//   r.Stop(done);          // releases the lease
//
// The store failing: the leader keeps ticking in memory and writes the
// whole state again once the store answers (every write is the whole
// state); followers keep serving their last snapshot, whose age grows
// (/readyz fails once it is stale). Nothing is read as zero.
//
// Not thread-safe: Tick, Start and Stop on the daemon's strand; the store's
// and elector's callbacks are posted there.
#ifndef BALLAST_SRC_APP_REPLICATION_H_
#define BALLAST_SRC_APP_REPLICATION_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/control/control_loop.h"
#include "ballast/core/clock.h"
#include "ballast/state/leader.h"
#include "ballast/state/redis_state_store.h"
#include "boost/asio/io_context.hpp"
#include "boost/asio/strand.hpp"
#include "log.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace ballast::app {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

// This replica's identity: $identity_env, else the host name.
std::string ReplicaIdentity(const config::StateConfig& config);

class Replication {
 public:
  // FailedPrecondition when the state store's password cannot be read or
  // the Kubernetes lock has no API server to reach.
  static absl::StatusOr<std::unique_ptr<Replication>> Create(
      boost::asio::io_context& io, Strand strand, const config::Config& config,
      control::ControlLoop& loop, Logger& log, prometheus::Registry& registry,
      Clock clock);
  ~Replication();

  void Start();
  // Leader: ticks the loop (which calls AfterTick when its snapshot is
  // published). Follower: reads the store and publishes what it holds.
  void Tick();
  // The loop's after_tick: the leader writes every record.
  void AfterTick();
  // Stops campaigning (a leader releases its lease); `done` once released.
  void Stop(absl::AnyInvocable<void()> done);

  bool leading() const { return term_.has_value() && restored_; }
  const std::string& identity() const { return identity_; }
  // How old a snapshot may be before /readyz fails.
  absl::Duration stale_after() const { return stale_after_; }

 private:
  Replication(boost::asio::io_context& io, Strand strand,
              const config::StateConfig& config, absl::Duration poll,
              net::RedisOptions redis, std::string identity,
              control::ControlLoop& loop, Logger& log,
              prometheus::Registry& registry, Clock clock);

  void OnElection(std::optional<uint64_t> term);
  void TakeOver(uint64_t term, uint64_t epoch);
  void Follow();
  // Decodes `stored`'s records; counts and logs those discarded.
  std::vector<state::TargetRecord> Decode(const state::StoredState& stored);
  // Restores `records` into the loop and counts the incompatible ones.
  void Restore(std::vector<state::TargetRecord> records);
  void CountDiscarded(const std::string& target, const std::string& reason,
                      const std::string& detail);
  void CountRead(const absl::Status& status);
  void ElectionFailed(const absl::Status& status);

  const config::StateConfig config_;
  const absl::Duration poll_interval_;
  const absl::Duration stale_after_;
  const std::string identity_;
  Strand strand_;
  control::ControlLoop& loop_;
  Logger& log_;
  Clock clock_;
  state::RedisStateStore store_;
  std::unique_ptr<state::Elector> elector_;

  // The term this replica leads in (from the election), and whether its
  // state has been taken over (claimed and read, or the store was down).
  std::optional<uint64_t> term_;
  bool restored_ = false;
  uint64_t epoch_ = 0;  // bumped on every election change: drops stale work
  bool reading_ = false;
  bool writing_ = false;
  bool stopped_ = false;
  // Store records of targets not in the config, and since when this leader
  // has seen them absent (deleted after removedTargetGraceSeconds).
  std::map<std::string, absl::Time> absent_since_;
  std::set<std::string> written_;  // the targets of the last write
  // Once per target and reason, so a follower does not log every tick.
  // "target\nreason" of the records discarded since the target's record
  // was last taken (CountDiscarded).
  std::set<std::string> discarding_;
  std::optional<absl::StatusCode> last_read_error_;
  std::optional<absl::StatusCode> last_write_error_;
  std::optional<absl::StatusCode> last_election_error_;

  prometheus::Gauge& is_leader_;
  prometheus::Counter& transitions_;
  prometheus::Family<prometheus::Counter>& writes_;
  prometheus::Family<prometheus::Counter>& reads_;
  prometheus::Histogram& write_duration_;
  prometheus::Family<prometheus::Counter>& discarded_;
  prometheus::Family<prometheus::Counter>& election_errors_;
  prometheus::Gauge& state_bytes_;
};

}  // namespace ballast::app

#endif  // BALLAST_SRC_APP_REPLICATION_H_
