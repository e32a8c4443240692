// ballast/control/poller.h
//
// The Poller reads, once per tick and concurrently, every input and the
// current replica count of every target of a config: one pipelined round
// trip per Redis server (CeleryRedisSource), one PromQL query per Prometheus
// input (bounded in flight per server), one scale-subresource read per
// `currentReplicas: {kubernetes: ...}`. Each source has its own timeout, so a
// tick ends when the slowest source answers or times out.
//
//   ASSIGN_OR_RETURN(auto poller, Poller::Create(io, config));
//   poller->Poll(absl::Now(), absl::Seconds(9), [](PollResult r) {
//     for (const TargetReadings& t : r.targets) { t.inputs[0]; ... }
//   });
//
//   // The CLI (`ballast probe`): one poll on its own io_context.
//   absl::StatusOr<PollResult> r = Poller::PollOnce(config);
//
// A failed read is an error for that input and tick, never a zero.
// Thread-safety: Poll() may be called from any thread; `done` runs on one of
// the io_context's threads. The Poller must outlive its polls.
#ifndef BALLAST_CONTROL_POLLER_H_
#define BALLAST_CONTROL_POLLER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ballast/config/config.h"
#include "ballast/control/readings.h"
#include "ballast/source/celery_options.h"
#include "ballast/source/prometheus_options.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace ballast::control {

// Where a reading goes: a target (config order) and its input (-1: the
// target's currentReplicas).
struct ReadingSlot {
  size_t target = 0;
  int input = 0;
};

// What Poller::Create builds from a config: each client with the options it
// is given and the reads it makes. This is the one place a config becomes
// sources; exposed so that a test can follow each config key to the client
// it reaches.
struct SourcePlan {
  // A Redis server some Celery input uses (unused ones get no client).
  struct Redis {
    std::string name;                          // the `sources.redis` key
    source::CeleryRedisSourceOptions options;  // with the password read
    std::vector<source::CeleryInputSpec> inputs;
    std::vector<ReadingSlot> slots;  // one per input
  };
  // Every `sources.prometheus` entry, with the queries of its inputs and
  // currentReplicas.
  struct Prometheus {
    std::string name;
    source::PrometheusClientOptions options;
    std::vector<std::pair<ReadingSlot, source::PrometheusQuery>> queries;
  };
  // One `currentReplicas: {kubernetes: ...}`.
  struct ScaleRead {
    size_t target = 0;
    std::string namespace_;
    std::string deployment;
  };
  std::vector<Redis> redis;            // by name
  std::vector<Prometheus> prometheus;  // by name
  std::vector<ScaleRead> scale_reads;
  // How the scale reader reaches the API server (KubernetesClientOptions);
  // set when there is a scale read.
  std::optional<source::KubernetesAccess> kubernetes;
};

// The options of the CeleryRedisSource of `sources.redis.<name>`, with the
// password read from its environment variable or file (InvalidArgument
// naming the key when it cannot be).
absl::StatusOr<source::CeleryRedisSourceOptions> RedisSourceOptions(
    const std::string& name, const config::RedisSourceConfig& config);

// The plan of `config`; InvalidArgument if a secret cannot be read.
absl::StatusOr<SourcePlan> PlanSources(const config::Config& config);

// The loop's Source in production.
class Poller : public Source {
 public:
  // Builds the clients of every source the targets use. InvalidArgument if a
  // secret (password env var or file) cannot be read.
  // The poller shares `config` (the daemon's, which the control loop
  // holds too) or keeps a copy.
  static absl::StatusOr<std::unique_ptr<Poller>> Create(
      boost::asio::io_context& io,
      std::shared_ptr<const config::Config> config);
  static absl::StatusOr<std::unique_ptr<Poller>> Create(
      boost::asio::io_context& io, const config::Config& config);
  ~Poller() override;
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Reads everything once; `done` runs once, when every source has answered
  // or timed out, or when `budget` has passed, whichever is first: a source
  // slower than the budget (a Kubernetes API that takes seconds) then
  // stalls only its own readings, which are DeadlineExceeded for this tick,
  // not every other source's. Its late answers are dropped. Evaluates PromQL
  // at `now`. absl::InfiniteDuration(): no budget, every source's own
  // timeout.
  void Poll(absl::Time now, absl::Duration budget,
            absl::AnyInvocable<void(PollResult)> done) override;

  // One poll on a private io_context, for the CLI.
  static absl::StatusOr<PollResult> PollOnce(const config::Config& config);

 private:
  class Impl;
  explicit Poller(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ballast::control

#endif  // BALLAST_CONTROL_POLLER_H_
