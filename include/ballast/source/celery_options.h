// ballast/source/celery_options.h
//
// What a CeleryRedisSource is built with (the Redis server, kombu's
// transport options, the refresh intervals) and what one input reads, as
// plain values with no I/O, so that the config (`sources.redis.<name>` and an
// input's `celery:` block) holds them as they are.
//
//   CeleryRedisSourceOptions options{.redis = {.host = "10.0.0.5"}};
//   CeleryInputSpec input{.queues = {"asr"}, .include_reserved = true};
#ifndef BALLAST_SOURCE_CELERY_OPTIONS_H_
#define BALLAST_SOURCE_CELERY_OPTIONS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/redis_options.h"

namespace ballast::source {

// kombu's Redis transport options, as `broker_transport_options` sets them.
struct CeleryBrokerOptions {
  std::vector<int> priority_steps = {0, 3, 6, 9};
  std::string separator = "\x06\x16";  // kombu's `sep`
  std::string global_keyprefix;        // prepended to every key
  std::string unacked_key = "unacked";
};

// What one input of a target reads from a Celery broker.
struct CeleryInputSpec {
  // Queue names. A name with a glob character (`*`, `?`, `[`) is a pattern
  // (fnmatch rules) over the queues discovered from the binding sets; `*`
  // alone means every task queue. Patterns turn on discovery.
  std::vector<std::string> queues;
  // Add the messages workers hold unacked (prefetched, ETA, acks_late
  // running) for these queues.
  bool include_reserved = false;
};

struct CeleryRedisSourceOptions {
  net::RedisOptions redis;
  CeleryBrokerOptions broker;
  // How often the unacked hash is HSCANned to split it per queue.
  absl::Duration reserved_interval = absl::Seconds(30);
  // How often queues are discovered when some input has a pattern.
  absl::Duration discovery_interval = absl::Minutes(5);
  // The time source for the two intervals above.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

}  // namespace ballast::source

#endif  // BALLAST_SOURCE_CELERY_OPTIONS_H_
