// ballast/state/leader.h
//
// Leader election among ballast replicas: one replica leads (polls the
// sources, ticks the engine, writes the state store); the others follow
// (serve from the store). Two electors with client-go's leader-election
// semantics (k8s.io/client-go/tools/leaderelection):
// - a Kubernetes Lease (coordination.k8s.io/v1), inside a cluster;
// - a lock in the state store's Redis, outside one.
//
//   absl::StatusOr<std::unique_ptr<Elector>> e = MakeLeaseElector(io, api,
//       "ballast", "ballast-leader", {.identity = "ballast-7d9f-abcde"});
//   (*e)->Start([](std::optional<uint64_t> term) {
//     if (term) { /* leading, fence writes with *term */ }
//     else      { /* following */ }
//   });
//   ...
//   (*e)->Stop([] { /* released */ });  // releases the lease if held
//   (ReleaseOnCancel)
//
// Semantics, for both:
// - every retry_period a follower tries to acquire; it may only when the
//   record is free or its holder has not renewed it for lease_duration, as
//   this replica observed it (client-go measures expiry with its own clock
//   from when it last saw the record change, not from the record's
//   renewTime, so that clock skew between replicas does not matter);
// - the leader renews every retry_period; when it has not renewed for
//   renew_deadline it stops leading at once (before any other replica may
//   take over: renew_deadline < lease_duration), and campaigns again;
// - the term increases with every change of holder (the Lease's
//   leaseTransitions; the lock's counter), so that the state store can
//   refuse the writes of a deposed leader (fencing).
#ifndef BALLAST_STATE_LEADER_H_
#define BALLAST_STATE_LEADER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/core/clock.h"
#include "ballast/net/http_client.h"
#include "ballast/net/redis_options.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::state {

struct ElectionOptions {
  // This replica's name in the record (holderIdentity): the pod name.
  std::string identity;
  // client-go's defaults as most controllers set them.
  absl::Duration lease_duration = absl::Seconds(15);
  absl::Duration renew_deadline = absl::Seconds(10);
  absl::Duration retry_period = absl::Seconds(2);
  // For expiry as observed; monotonic in production.
  Clock clock = MonotonicNow;
  // Each failed try (the API server or Redis unreachable, a refused update,
  // a lost race), on the elector's strand; for logs and metrics.
  std::function<void(const absl::Status&)> on_error;
};

class Elector {
 public:
  // A term when this replica became leader; nullopt when it stopped
  // leading. Called on the elector's own strand, in order, never twice the
  // same in a row.
  using OnChange = absl::AnyInvocable<void(std::optional<uint64_t> term)>;

  virtual ~Elector() = default;
  // Starts campaigning. Call once.
  virtual void Start(OnChange on_change) = 0;
  // Stops campaigning; a leader releases the record (empties the holder, as
  // client-go's ReleaseOnCancel) so that another replica leads at once
  // instead of after lease_duration. `done` runs on the strand once that
  // is done or has failed. A try in flight is finished first: a round trip
  // or two when the server answers; when it does not, the requests'
  // deadlines (each at most renew_deadline / 2; a Lease try makes up to
  // three requests, a release one). No OnChange call after Stop: a leader
  // stops leading when it calls Stop.
  virtual void Stop(absl::AnyInvocable<void()> done) = 0;
  // The holder as last observed ("" when none or unknown).
  virtual std::string observed_leader() const = 0;
};

// Both makers: InvalidArgument for options client-go's NewLeaderElector
// refuses (ValidateElectionOptions, state/election.h: an identity, and
// 1.2 * retry_period < renew_deadline < lease_duration); the transport's
// own errors (a bad URL, an unreadable CA).
//
// A coordination.k8s.io/v1 Lease `name` in `namespace_`, through the API
// server of `api` (source/kubernetes_client.h). Needs get, create and
// update on that Lease. The Lease says leaseDurationSeconds (lease_duration
// in whole seconds, at least 1). Each request's deadline is at most
// renew_deadline / 2 (api.timeout when shorter).
absl::StatusOr<std::unique_ptr<Elector>> MakeLeaseElector(
    boost::asio::io_context& io, net::HttpClientOptions api,
    std::string namespace_, std::string name, const ElectionOptions& options);

// A lock in Redis under `key_prefix` ("<prefix>leader": the holder, expiring
// after lease_duration; "<prefix>leader-term": the term counter). Its
// command timeout is at most renew_deadline / 2 and its reconnection
// backoff at most retry_period. Each try is one EVAL of both keys: on a
// Redis Cluster the prefix needs a hash tag ("{ballast}:") to keep them in
// one slot. The key's expiry is the server's clock (the leader still steps
// down by its own, after renew_deadline).
//
// For both, a replica restarted under the same identity while the record
// still names it renews it with the same term, as client-go does (it is
// the same holder: its previous process is gone).
//
// `term_floor_key`: a key holding a number new terms must exceed (the state
// store's fence, RedisStateStore), so that a counter lost with the data
// (FLUSHALL) never hands out a term that was used before.
absl::StatusOr<std::unique_ptr<Elector>> MakeRedisLockElector(
    boost::asio::io_context& io, net::RedisOptions redis,
    const std::string& key_prefix, const ElectionOptions& options,
    const std::string& term_floor_key = "");

}  // namespace ballast::state

#endif  // BALLAST_STATE_LEADER_H_
