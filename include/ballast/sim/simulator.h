// ballast/sim/simulator.h
//
// Replays a load trace through the engine for one target, exactly as the
// daemon calls it: one engine::Tick every poll interval from the run's start,
// on the latest trace row at or before the tick.
//
//   absl::StatusOr<SimResult> r = Simulate(spec, trace, SimOptions{});
//   r->summary.replica_seconds;  r->timeline.recommendation[k];
//
// Inputs. Each spec input reads the trace column of the same name (an empty
// cell is InputReading::Missing). If the trace has columns `arrivals` (jobs
// arrived since the previous row) and `work_seconds` (their total service
// time in seconds of one worker slot), and an input needs one of the
// signals below, a JobQueue served by ready replicas x worker_concurrency
// slots runs alongside and provides two more signals,
// sampled at each tick: `backlog` (jobs waiting, not in service) and
// `wait_seconds` (how long the first job in line has waited; 0 if none). A
// trace column of the same name takes precedence over a simulated signal.
// A row's arrivals join the queue at the row's time.
//
// Replicas. Without a `current_replicas` column the loop is closed: the run
// starts with options.initial_replicas, else spec.initial_replicas, else
// min_replicas, all ready; the engine sees that count as current and the
// ready pods as ready (HPA mode scales Value targets by them); each
// tick's recommendation is applied at once as the workload's replica count
// (the next tick's current_replicas); added pods become ready
// pod_startup_seconds later; removed pods go at once (pending ones first, as
// a ReplicaSet deletes unready pods first). With a `current_replicas` column
// the loop is open: the column is passed to the engine and taken as the
// ready count.
//
// Accounting. Tick k's raw input values hold until tick k+1 (the last tick's
// until the end of the run). replica_seconds integrates ready replicas
// exactly, including pods that become ready between ticks. A moment counts
// towards slo_violation_seconds when any measured input's held value breaks
// its SLO (value > slo.max, or value / ready replicas > slo.max_per_replica).
// The measured inputs are options.measure_inputs (to judge several policies
// by one config's SLOs), else the spec's. A scale-up (scale-down) is a tick
// whose recommendation is above (below) the previous tick's, or, for the
// first tick, the replicas the run started with.
//
// Per-replica load, for each measured input that is a load shared by the
// replicas (averageValue target, or an slo.maxPerReplica): the tick's value
// / the tick's ready replicas (timeline `replicas`), over the ticks whose
// value is > 0 (+infinity when no replica is ready); p50 and p99 are
// nearest-rank percentiles (the ceil(p/100 * n)-th smallest).
//
// Window. With options.window_from/window_to (seconds since the run's
// start) the whole run is still simulated and summarised, and
// summary.window holds the same figures for [from, to): the ticks in it,
// and the integrals over that part of the run.
#ifndef BALLAST_SIM_SIMULATOR_H_
#define BALLAST_SIM_SIMULATOR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ballast/core/target_spec.h"
#include "ballast/engine/engine.h"
#include "ballast/sim/trace.h"

namespace ballast::sim {

inline constexpr absl::string_view kArrivalsColumn = "arrivals";
inline constexpr absl::string_view kWorkSecondsColumn = "work_seconds";
inline constexpr absl::string_view kCurrentReplicasColumn = "current_replicas";
inline constexpr absl::string_view kBacklogSignal = "backlog";
inline constexpr absl::string_view kWaitSecondsSignal = "wait_seconds";

struct SimOptions {
  int32_t poll_interval_seconds = 15;  // > 0
  double pod_startup_seconds = 30;     // >= 0
  int32_t worker_concurrency = 1;      // slots per ready replica, > 0
  // Trace time of the first tick; default the first row's time. Must lie
  // within the trace.
  std::optional<double> start;
  // Length of the run; default up to the last row. May extend past the last
  // row (its values then hold).
  std::optional<double> duration_seconds;
  // Closed loop: replicas at the start, overriding spec.initial_replicas;
  // may lie outside [min_replicas, max_replicas] (the first tick moves it).
  std::optional<int32_t> initial_replicas;
  // Inputs whose SLOs and per-replica load measure the run (matched to
  // trace columns and simulated signals by name); default spec.inputs.
  std::optional<std::vector<InputSpec>> measure_inputs;
  // Part of the run to report besides the whole, in seconds since its start;
  // either bound may be left out (0, the end). from < to; a `to` past the
  // end is the end.
  std::optional<double> window_from;
  std::optional<double> window_to;
};

// One entry per tick in every vector.
struct Timeline {
  std::vector<std::string> inputs;  // spec input names
  std::vector<double> time;         // seconds since the run's start
  // Raw value fed to the engine, [input][tick]; NaN when missing.
  std::vector<std::vector<double>> input_values;
  // The input's proposal, [input][tick]; -1 when it had none.
  std::vector<std::vector<int32_t>> proposals;
  std::vector<int32_t> desired;
  std::vector<int32_t> recommendation;
  // Ready replicas right after the tick's decision was applied.
  std::vector<int32_t> ready;
  std::vector<engine::Limit> limited_by;
};

struct QueueSummary {
  int64_t jobs_arrived = 0;
  int64_t jobs_started = 0;
  int64_t jobs_completed = 0;
  int64_t jobs_waiting_at_end = 0;
  double mean_job_wait_seconds = 0;  // over started jobs
  double max_job_wait_seconds = 0;
};

// Percentiles of one input's value / ready replicas (see Accounting).
struct PerReplicaLoad {
  std::string input;
  int64_t ticks = 0;  // ticks with a value > 0; p50 = p99 = 0 when none
  double p50 = 0;     // +infinity when that tick had no ready replica
  double p99 = 0;
};

// The figures of a run, or of a window of it.
struct Figures {
  int64_t ticks = 0;
  double duration_seconds = 0;
  double replica_seconds = 0;  // integral of ready replicas over the run
  double mean_replicas = 0;    // replica_seconds / duration (0 if empty)
  int64_t scale_events = 0;    // ticks whose recommendation changed
  int64_t scale_ups = 0;       // ... went up
  int64_t scale_downs = 0;     // ... went down
  double slo_violation_seconds = 0;
  int32_t max_replicas = 0;  // highest recommendation
  int32_t max_ready_replicas = 0;
  int64_t missing_input_ticks = 0;  // ticks with at least one input missing
  std::vector<PerReplicaLoad> per_replica_load;  // measured input order
};

struct WindowFigures : Figures {
  double from_seconds = 0;  // since the run's start
  double to_seconds = 0;    // exclusive, at most duration_seconds
};

struct Summary : Figures {
  std::string target;
  std::string policy;  // what ran, for reports (set by the caller); optional
  bool closed_loop = true;
  double start_time = 0;                // trace time of the first tick
  std::optional<QueueSummary> queue;    // when the trace drives a queue
  std::optional<WindowFigures> window;  // when options give a window
};

struct SimResult {
  Summary summary;
  Timeline timeline;
};

// OK if every input of `spec` has a trace column or a simulated signal;
// otherwise InvalidArgument naming the first input that has neither.
absl::Status CheckTraceCovers(const TargetSpec& spec, const Trace& trace);

// Runs the whole replay. InvalidArgument for an input the trace does not
// cover, bad options (start outside the trace, non-positive interval,
// duration or concurrency, an empty window or one that starts at or after
// the end of the run), or a bad cell in `arrivals`, `work_seconds` or
// `current_replicas` ("FILE:LINE: column 'arrivals': ..."). Cost: one engine
// tick per poll interval plus O(log slots) per simulated job.
absl::StatusOr<SimResult> Simulate(const TargetSpec& spec, const Trace& trace,
                                   const SimOptions& options);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_SIMULATOR_H_
