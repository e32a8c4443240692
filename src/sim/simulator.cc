#include "ballast/sim/simulator.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "ballast/sim/queue.h"

namespace ballast::sim {
namespace {

constexpr double kInfinity = std::numeric_limits<double>::infinity();

enum class FeedKind { kColumn, kBacklog, kWaitSeconds };

// Where one spec input takes its values from.
struct Feed {
  FeedKind kind = FeedKind::kColumn;
  size_t column = 0;
};

bool HasQueueColumns(const Trace& trace) {
  return trace.ColumnIndex(kArrivalsColumn) &&
         trace.ColumnIndex(kWorkSecondsColumn);
}

absl::StatusOr<std::vector<Feed>> ResolveFeeds(
    const TargetSpec& spec, const Trace& trace,
    const std::vector<InputSpec>* inputs = nullptr) {
  std::vector<Feed> feeds;
  const bool queue = HasQueueColumns(trace);
  for (const InputSpec& input : inputs ? *inputs : spec.inputs) {
    if (std::optional<size_t> column = trace.ColumnIndex(input.name)) {
      feeds.push_back({FeedKind::kColumn, *column});
    } else if (queue && input.name == kBacklogSignal) {
      feeds.push_back({FeedKind::kBacklog});
    } else if (queue && input.name == kWaitSecondsSignal) {
      feeds.push_back({FeedKind::kWaitSeconds});
    } else {
      std::string message = absl::StrCat(
          "target '", spec.name, "': input '", input.name,
          "' has no column in trace ", trace.file,
          " (its columns: ", absl::StrJoin(trace.columns, ", "), ")");
      if (input.name == kBacklogSignal || input.name == kWaitSecondsSignal) {
        absl::StrAppend(&message, "; the simulated signal '", input.name,
                        "' needs columns '", kArrivalsColumn, "' and '",
                        kWorkSecondsColumn, "'");
      }
      return absl::InvalidArgumentError(message);
    }
  }
  return feeds;
}

// Every non-empty cell of column `name` (if present) must be a whole number
// (when `integer`) in [0, max].
absl::Status CheckColumn(const Trace& trace, absl::string_view name,
                         bool integer, double max) {
  const std::optional<size_t> column = trace.ColumnIndex(name);
  if (!column) return absl::OkStatus();
  for (size_t row = 0; row < trace.rows(); ++row) {
    const double v = trace.values[*column][row];
    if (std::isnan(v)) continue;
    if (v < 0 || v > max || (integer && v != std::floor(v))) {
      return absl::InvalidArgumentError(
          absl::StrCat(trace.file, ":", trace.lines[row], ": column '", name,
                       "': ", integer ? "not a whole number" : "not a number",
                       " in [0, ", max, "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckOptions(const SimOptions& o, const Trace& trace) {
  if (o.poll_interval_seconds <= 0) {
    return absl::InvalidArgumentError("poll interval must be > 0 seconds");
  }
  if (!(o.pod_startup_seconds >= 0) || !std::isfinite(o.pod_startup_seconds)) {
    return absl::InvalidArgumentError("pod startup must be >= 0 seconds");
  }
  if (o.initial_replicas && *o.initial_replicas < 0) {
    return absl::InvalidArgumentError("initial replicas must be >= 0");
  }
  if (o.worker_concurrency <= 0) {
    return absl::InvalidArgumentError("worker concurrency must be > 0");
  }
  if (o.start &&
      (*o.start < trace.times.front() || *o.start > trace.times.back())) {
    return absl::InvalidArgumentError(
        absl::StrCat("start ", *o.start, " is outside the trace (",
                     trace.times.front(), " to ", trace.times.back(), ")"));
  }
  if (o.duration_seconds &&
      (!(*o.duration_seconds > 0) || !std::isfinite(*o.duration_seconds))) {
    return absl::InvalidArgumentError("duration must be > 0 seconds");
  }
  if ((o.window_from && !(*o.window_from >= 0)) ||
      (o.window_to && !(*o.window_to > 0)) ||
      (o.window_from && o.window_to && !(*o.window_from < *o.window_to))) {
    return absl::InvalidArgumentError(
        "window: need 0 <= from < to (seconds since the run's start)");
  }
  for (const absl::string_view column : {kArrivalsColumn, kWorkSecondsColumn}) {
    if (absl::Status s =
            CheckColumn(trace, column, column == kArrivalsColumn, 1e15);
        !s.ok()) {
      return s;
    }
  }
  return CheckColumn(trace, kCurrentReplicasColumn, true, 1e9);
}

// The pods of a closed loop: ready ones and ones still starting, the latter
// as cohorts (a count and the time they become ready), not one entry per
// pod, so that a recommendation of 1e9 replicas costs one entry.
class PodPool {
 public:
  explicit PodPool(int32_t ready) : ready_(ready) {}

  int32_t ready() const { return ready_; }
  double NextReadyTime() const {
    return pending_.empty() ? kInfinity : pending_.front().ready_at;
  }

  // Sets the total to `replicas` at `now`: new pods are ready after
  // `startup`; removal takes starting pods (newest first), then ready ones.
  void Scale(int32_t replicas, double now, double startup) {
    const int64_t total = int64_t{ready_} + pending_count_;
    if (replicas > total) {
      const int64_t added = replicas - total;
      if (startup > 0) {
        const double at = now + startup;
        if (!pending_.empty() && pending_.back().ready_at == at) {
          pending_.back().count += added;
        } else {
          pending_.push_back({at, added});
        }
        pending_count_ += added;
      } else {
        ready_ = static_cast<int32_t>(ready_ + added);
      }
      return;
    }
    int64_t remove = total - replicas;
    while (remove > 0 && !pending_.empty()) {
      Cohort& newest = pending_.back();
      const int64_t taken = std::min(remove, newest.count);
      newest.count -= taken;
      pending_count_ -= taken;
      remove -= taken;
      if (newest.count == 0) pending_.pop_back();
    }
    ready_ = static_cast<int32_t>(ready_ - remove);
  }

  void PromoteUntil(double t) {
    while (!pending_.empty() && pending_.front().ready_at <= t) {
      ready_ = static_cast<int32_t>(ready_ + pending_.front().count);
      pending_count_ -= pending_.front().count;
      pending_.pop_front();
    }
  }

 private:
  struct Cohort {
    double ready_at;
    int64_t count;  // > 0
  };
  int32_t ready_;
  int64_t pending_count_ = 0;
  std::deque<Cohort> pending_;  // ascending ready_at
};

// A load shared by the replicas: its value per replica is meaningful.
bool IsPerReplicaLoad(const InputSpec& input) {
  return input.target_type == TargetType::kAverageValue ||
         input.slo.max_per_replica.has_value();
}

// The nearest-rank percentile: the ceil(p / 100 * n)-th smallest value.
double Percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  const double n = static_cast<double>(values.size());
  const size_t rank =
      static_cast<size_t>(std::max(std::ceil(p / 100 * n), 1.0));
  const auto nth = values.begin() + static_cast<std::ptrdiff_t>(rank - 1);
  std::nth_element(values.begin(), nth, values.end());
  return *nth;
}

// Figures under construction, with the per-replica load samples.
struct Tally {
  Figures figures;
  std::vector<std::vector<double>> samples;  // [per-replica input][tick]

  void Close(const std::vector<InputSpec>& measured,
             const std::vector<size_t>& per_replica, double duration) {
    Figures& f = figures;
    f.duration_seconds = duration;
    f.mean_replicas = duration > 0 ? f.replica_seconds / duration : 0;
    for (size_t j = 0; j < per_replica.size(); ++j) {
      PerReplicaLoad load;
      load.input = measured[per_replica[j]].name;
      load.ticks = static_cast<int64_t>(samples[j].size());
      load.p50 = Percentile(samples[j], 50);
      load.p99 = Percentile(samples[j], 99);
      f.per_replica_load.push_back(std::move(load));
    }
    samples.clear();
  }
};

bool Violates(const InputSpec& input, double value, int32_t ready) {
  if (std::isnan(value)) return false;
  if (input.slo.max && value > *input.slo.max) return true;
  if (input.slo.max_per_replica) {
    return ready > 0 ? value / ready > *input.slo.max_per_replica : value > 0;
  }
  return false;
}

class Replay {
 public:
  Replay(const TargetSpec& spec, const Trace& trace, const SimOptions& options,
         std::vector<Feed> feeds, std::vector<Feed> measure_feeds, double start,
         double end)
      : spec_(spec),
        trace_(trace),
        options_(options),
        feeds_(std::move(feeds)),
        measured_(options.measure_inputs.value_or(spec.inputs)),
        measure_feeds_(std::move(measure_feeds)),
        start_(start),
        end_(end),
        clock_(start),
        open_loop_(trace.ColumnIndex(kCurrentReplicasColumn)),
        actuator_(
            std::max(options.initial_replicas.value_or(
                         spec.initial_replicas.value_or(spec.min_replicas)),
                     0)),
        pods_(actuator_),
        held_(spec.inputs.size(), std::nan("")),
        measure_held_(measured_.size(), std::nan("")) {
    for (size_t i = 0; i < measured_.size(); ++i) {
      if (IsPerReplicaLoad(measured_[i])) per_replica_.push_back(i);
    }
    whole_.samples.resize(per_replica_.size());
    if (options.window_from || options.window_to) {
      window_from_ = start + options.window_from.value_or(0);
      window_to_ = std::min(end, start + options.window_to.value_or(end));
      window_.emplace();
      window_->samples.resize(per_replica_.size());
    }
    const auto simulated = [](const Feed& f) {
      return f.kind != FeedKind::kColumn;
    };
    const bool queue_signals =
        std::any_of(feeds_.begin(), feeds_.end(), simulated) ||
        std::any_of(measure_feeds_.begin(), measure_feeds_.end(), simulated);
    if (queue_signals) {
      arrivals_ = *trace.ColumnIndex(kArrivalsColumn);
      work_ = *trace.ColumnIndex(kWorkSecondsColumn);
      queue_ = std::make_unique<JobQueue>(start, Slots());
      next_row_ = static_cast<size_t>(
          std::lower_bound(trace.times.begin(), trace.times.end(), start) -
          trace.times.begin());
    }
  }

  SimResult Run() {
    const double poll = options_.poll_interval_seconds;
    const int64_t ticks =
        static_cast<int64_t>(std::floor((end_ - start_) / poll + 1e-9)) + 1;
    InitTimeline(ticks);
    for (int64_t k = 0; k < ticks; ++k) {
      const double t = start_ + static_cast<double>(k) * poll;
      AdvanceWorld(t);
      DoTick(t);
    }
    AdvanceWorld(end_);
    Finish();
    return std::move(result_);
  }

 private:
  int64_t Slots() const {
    return static_cast<int64_t>(pods_.ready()) * options_.worker_concurrency;
  }

  void InitTimeline(int64_t ticks) {
    Timeline& tl = result_.timeline;
    const size_t n = static_cast<size_t>(ticks);
    for (const InputSpec& input : spec_.inputs) tl.inputs.push_back(input.name);
    tl.time.reserve(n);
    tl.input_values.assign(spec_.inputs.size(), {});
    tl.proposals.assign(spec_.inputs.size(), {});
    for (auto& v : tl.input_values) v.reserve(n);
    for (auto& v : tl.proposals) v.reserve(n);
    tl.desired.reserve(n);
    tl.recommendation.reserve(n);
    tl.ready.reserve(n);
    tl.limited_by.reserve(n);
  }

  // Moves the clock to `to`: arrivals, service, pods becoming ready, and
  // the integrals over the held input values.
  void AdvanceWorld(double to) {
    while (true) {
      const double next_pod = pods_.NextReadyTime();
      const double segment_end = std::min(to, next_pod);
      if (queue_) {
        for (; next_row_ < trace_.rows() &&
               trace_.times[next_row_] <= segment_end;
             ++next_row_) {
          const double count = trace_.values[arrivals_][next_row_];
          const double work = trace_.values[work_][next_row_];
          queue_->Arrive(trace_.times[next_row_],
                         std::isnan(count) ? 0 : static_cast<int64_t>(count),
                         std::isnan(work) ? 0 : work);
        }
        queue_->AdvanceTo(segment_end);
      }
      Accumulate(clock_, segment_end);
      clock_ = segment_end;
      if (next_pod > to) return;
      pods_.PromoteUntil(next_pod);
      if (queue_) queue_->SetSlots(Slots());
    }
  }

  // Integrates over [from, to) at the present ready replicas and held
  // values, for the whole run and the part of it in the window.
  void Accumulate(double from, double to) {
    if (to <= from) return;
    const int32_t ready = pods_.ready();
    bool violated = false;
    for (size_t i = 0; i < measure_held_.size() && !violated; ++i) {
      violated = Violates(measured_[i], measure_held_[i], ready);
    }
    const auto add = [&](Figures& f, double dt) {
      f.replica_seconds += ready * dt;
      if (violated) f.slo_violation_seconds += dt;
    };
    add(whole_.figures, to - from);
    if (window_) {
      const double dt = std::min(to, window_to_) - std::max(from, window_from_);
      if (dt > 0) add(window_->figures, dt);
    }
  }

  engine::InputReading Read(const Feed& feed, size_t row) const {
    switch (feed.kind) {
      case FeedKind::kBacklog:
        return engine::InputReading::Value(
            static_cast<double>(queue_->waiting()));
      case FeedKind::kWaitSeconds:
        return engine::InputReading::Value(queue_->OldestWaitSeconds());
      case FeedKind::kColumn:
        break;
    }
    const double v = trace_.values[feed.column][row];
    if (std::isnan(v)) {
      return engine::InputReading::Missing(absl::UnavailableError(
          absl::StrCat(trace_.file, ":", trace_.lines[row], ": empty cell in ",
                       "column '", trace_.columns[feed.column], "'")));
    }
    return engine::InputReading::Value(v);
  }

  void DoTick(double t) {
    const size_t row = *trace_.RowAtOrBefore(t);
    engine::TickInput in;
    in.now = absl::UnixEpoch() + absl::Seconds(t);
    in.inputs.reserve(feeds_.size());
    bool missing = false;
    for (size_t i = 0; i < feeds_.size(); ++i) {
      in.inputs.push_back(Read(feeds_[i], row));
      held_[i] = in.inputs.back().value.value_or(std::nan(""));
      missing = missing || !in.inputs.back().value;
    }
    for (size_t i = 0; i < measure_feeds_.size(); ++i) {
      measure_held_[i] =
          Read(measure_feeds_[i], row).value.value_or(std::nan(""));
    }
    if (open_loop_) {
      const double c = trace_.values[*open_loop_][row];
      if (!std::isnan(c)) in.current_replicas = static_cast<int32_t>(c);
    } else {
      in.current_replicas = actuator_;
      in.ready_replicas = pods_.ready();
    }
    engine::TickResult r = engine::Tick(spec_, std::move(history_), in);
    history_ = std::move(r.history);
    const engine::Recommendation& rec = r.recommendation;

    if (!open_loop_) {
      actuator_ = rec.replicas;
      pods_.Scale(rec.replicas, t, options_.pod_startup_seconds);
    } else if (in.current_replicas) {
      pods_ = PodPool(*in.current_replicas);
    }
    if (queue_) queue_->SetSlots(Slots());
    Record(t, rec, missing);
  }

  // Counts tick `rec` (after `previous` replicas) into `tally`.
  void Count(Tally& tally, int32_t previous, const engine::Recommendation& rec,
             bool missing) {
    Figures& f = tally.figures;
    if (rec.replicas > previous) ++f.scale_ups;
    if (rec.replicas < previous) ++f.scale_downs;
    f.scale_events = f.scale_ups + f.scale_downs;
    if (missing) ++f.missing_input_ticks;
    const int32_t ready = pods_.ready();
    f.max_replicas =
        f.ticks == 0 ? rec.replicas : std::max(f.max_replicas, rec.replicas);
    f.max_ready_replicas = std::max(f.max_ready_replicas, ready);
    ++f.ticks;
    for (size_t j = 0; j < per_replica_.size(); ++j) {
      const double v = measure_held_[per_replica_[j]];
      if (!(v > 0)) continue;  // no load (or missing)
      tally.samples[j].push_back(ready > 0 ? v / ready : kInfinity);
    }
  }

  void Record(double t, const engine::Recommendation& rec, bool missing) {
    Timeline& tl = result_.timeline;
    const int32_t previous = tl.recommendation.empty()
                                 ? rec.current_replicas
                                 : tl.recommendation.back();
    Count(whole_, previous, rec, missing);
    // [from, to), and the run's last tick when the window reaches the end.
    if (window_ && t >= window_from_ &&
        (t < window_to_ || window_to_ >= end_)) {
      Count(*window_, previous, rec, missing);
    }

    tl.time.push_back(t - start_);
    for (size_t i = 0; i < held_.size(); ++i) {
      tl.input_values[i].push_back(held_[i]);
      const std::optional<int32_t> proposal =
          i < rec.inputs.size() ? rec.inputs[i].proposal : std::nullopt;
      tl.proposals[i].push_back(proposal.value_or(-1));
    }
    tl.desired.push_back(rec.desired);
    tl.recommendation.push_back(rec.replicas);
    tl.ready.push_back(pods_.ready());
    tl.limited_by.push_back(rec.limited_by);
  }

  void Finish() {
    Summary& s = result_.summary;
    whole_.Close(measured_, per_replica_, end_ - start_);
    static_cast<Figures&>(s) = std::move(whole_.figures);
    if (window_) {
      window_->Close(measured_, per_replica_, window_to_ - window_from_);
      WindowFigures w;
      static_cast<Figures&>(w) = std::move(window_->figures);
      w.from_seconds = window_from_ - start_;
      w.to_seconds = window_to_ - start_;
      s.window = std::move(w);
    }
    s.target = spec_.name;
    s.closed_loop = !open_loop_;
    s.start_time = start_;
    if (queue_) {
      QueueSummary q;
      q.jobs_arrived = queue_->arrived();
      q.jobs_started = queue_->started();
      q.jobs_completed = queue_->completed();
      q.jobs_waiting_at_end = queue_->waiting();
      q.mean_job_wait_seconds = q.jobs_started > 0
                                    ? queue_->total_wait_seconds() /
                                          static_cast<double>(q.jobs_started)
                                    : 0;
      q.max_job_wait_seconds = queue_->max_wait_seconds();
      s.queue = q;
    }
  }

  const TargetSpec& spec_;
  const Trace& trace_;
  const SimOptions& options_;
  const std::vector<Feed> feeds_;
  const std::vector<InputSpec> measured_;  // SLOs, per-replica load
  const std::vector<Feed> measure_feeds_;
  const double start_;
  const double end_;
  double clock_;
  const std::optional<size_t> open_loop_;  // current_replicas column
  int32_t actuator_;  // replicas the simulated HPA has set (closed loop)
  PodPool pods_;
  std::vector<double> held_;          // each input's value since the last tick
  std::vector<double> measure_held_;  // each measured input's, likewise
  std::vector<size_t> per_replica_;   // measured inputs that are a load
  Tally whole_;
  std::optional<Tally> window_;
  double window_from_ = 0;  // trace times
  double window_to_ = 0;
  engine::TargetHistory history_;
  std::unique_ptr<JobQueue> queue_;
  size_t arrivals_ = 0;
  size_t work_ = 0;
  size_t next_row_ = 0;  // next trace row whose arrivals join the queue
  SimResult result_;
};

}  // namespace

absl::Status CheckTraceCovers(const TargetSpec& spec, const Trace& trace) {
  return ResolveFeeds(spec, trace).status();
}

absl::StatusOr<SimResult> Simulate(const TargetSpec& spec, const Trace& trace,
                                   const SimOptions& options) {
  if (trace.rows() == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(trace.file, ": no data rows"));
  }
  absl::StatusOr<std::vector<Feed>> feeds = ResolveFeeds(spec, trace);
  if (!feeds.ok()) return feeds.status();
  absl::StatusOr<std::vector<Feed>> measure_feeds =
      options.measure_inputs
          ? ResolveFeeds(spec, trace, &*options.measure_inputs)
          : feeds;
  if (!measure_feeds.ok()) return measure_feeds.status();
  if (absl::Status s = CheckOptions(options, trace); !s.ok()) return s;
  const double start = options.start.value_or(trace.times.front());
  const double end = options.duration_seconds
                         ? start + *options.duration_seconds
                         : trace.times.back();
  constexpr double kMaxTicks = 1e8;  // ~19 years at 6 s: bounds memory
  if ((end - start) / options.poll_interval_seconds > kMaxTicks) {
    return absl::InvalidArgumentError(
        absl::StrCat("the run would take more than ", kMaxTicks,
                     " ticks: shorten the duration"));
  }
  if (options.window_from && !(*options.window_from < end - start)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "window: from ", *options.window_from,
        " s is at or after the end of the run (", end - start, " s)"));
  }
  Replay replay(spec, trace, options, *std::move(feeds),
                *std::move(measure_feeds), start, end);
  return replay.Run();
}

}  // namespace ballast::sim
