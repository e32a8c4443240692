#include "ballast/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "internal.h"

namespace ballast::engine {
namespace internal {

double Smooth(const Smoothing& smoothing, absl::Time now, double v,
              InputState& state) {
  switch (smoothing.kind) {
    case Smoothing::Kind::kNone:
      return v;
    case Smoothing::Kind::kEwma: {
      if (!state.ewma) {
        state.ewma = v;
      } else {
        const double dt = absl::ToDoubleSeconds(now - state.ewma_time);
        const double alpha = 1.0 - std::exp2(-dt / smoothing.half_life_seconds);
        const double moved = *state.ewma + alpha * (v - *state.ewma);
        // v - ewma overflows when both are near +-DBL_MAX; the weighted
        // mean itself always lies between them.
        constexpr double kMax = std::numeric_limits<double>::max();
        state.ewma = std::isfinite(moved)
                         ? moved
                         : std::clamp((1.0 - alpha) * *state.ewma + alpha * v,
                                      -kMax, kMax);
      }
      state.ewma_time = now;
      return *state.ewma;
    }
    case Smoothing::Kind::kQuantile: {
      state.window.emplace_back(now, v);
      const absl::Time cutoff = now - absl::Seconds(smoothing.window_seconds);
      while (state.window.front().first <= cutoff) state.window.pop_front();
      std::vector<double> values;
      values.reserve(state.window.size());
      for (const auto& [t, x] : state.window) values.push_back(x);
      // Linear interpolation between closest ranks (numpy's default,
      // Prometheus' quantile_over_time).
      std::sort(values.begin(), values.end());
      const double rank =
          smoothing.quantile * static_cast<double>(values.size() - 1);
      const auto lo = static_cast<size_t>(std::floor(rank));
      const size_t hi = std::min(lo + 1, values.size() - 1);
      const double f = rank - std::floor(rank);
      const double q = values[lo] + (values[hi] - values[lo]) * f;
      // values[hi] - values[lo] overflows for values near +-DBL_MAX.
      return std::isfinite(q) ? q : values[lo] * (1.0 - f) + values[hi] * f;
    }
  }
  return v;
}

int32_t FallbackReplicas(const Fallback& fallback, int32_t current) {
  switch (fallback.behavior) {
    case FallbackBehavior::kStatic:
      return fallback.replicas;
    case FallbackBehavior::kCurrentReplicas:
      return current;
    case FallbackBehavior::kCurrentReplicasIfHigher:
      return std::max(current, fallback.replicas);
    case FallbackBehavior::kCurrentReplicasIfLower:
      return std::min(current, fallback.replicas);
  }
  return fallback.replicas;
}

std::string MissingReason(const InputReading& reading) {
  std::string why =
      reading.value ? "non-finite value" : std::string(reading.error.message());
  return why.empty() ? "missing" : why;
}

}  // namespace internal

namespace {

using internal::ApplyRateLimits;
using internal::SaturatedInt64;
using internal::StabilizationCutoffs;
using internal::WindowCutoffs;

// Proposals are replica counts; keep absurd inputs (1e300 requests/s) from
// overflowing int32 arithmetic downstream.
constexpr double kMaxProposal = 1e9;

int32_t CeilToReplicas(double x) {
  if (!(x > 0)) return 0;
  return static_cast<int32_t>(std::min(std::ceil(x), kMaxProposal));
}

// The tolerance of each direction: behavior.scaleDown/scaleUp.tolerance when
// given, else the target's (controller-wide) tolerance.
struct Tolerances {
  double down;
  double up;
};

Tolerances TolerancesOf(const TargetSpec& spec) {
  Tolerances t{spec.tolerance, spec.tolerance};
  if (spec.behavior) {
    t.down = spec.behavior->scale_down.tolerance.value_or(t.down);
    t.up = spec.behavior->scale_up.tolerance.value_or(t.up);
  }
  return t;
}

bool WithinTolerance(double ratio, Tolerances tolerance) {
  return ratio >= 1.0 - tolerance.down && ratio <= 1.0 + tolerance.up;
}

// Fills proposal/untolerated_proposal/within_tolerance for a usable value,
// with the HPA's arithmetic for external metrics.
void Propose(const InputSpec& input, double v, int32_t current,
             Tolerances tolerance, InputExplanation& ex) {
  int32_t untolerated = 0;
  bool within = false;
  if (input.target_type == TargetType::kAverageValue) {
    untolerated = CeilToReplicas(v / input.target);
    within =
        current > 0 && WithinTolerance(v / (input.target * current), tolerance);
  } else {
    const double ratio = v / input.target;
    if (current == 0) {
      untolerated = CeilToReplicas(ratio);
    } else {
      untolerated = CeilToReplicas(ratio * current);
      within = WithinTolerance(ratio, tolerance);
    }
  }
  ex.untolerated_proposal = untolerated;
  ex.within_tolerance = within;
  ex.proposal = within ? current : untolerated;
}

// An input's proposal by its rules: the drain target once a throughput is
// measured (averageValue's otherwise), raised by the trend when it rises.
void ProposeWithRules(const InputSpec& input, const InputState& state,
                      absl::Time now, double v, int32_t observed, int32_t ready,
                      Tolerances tolerance, InputExplanation& ex);

// Scale to zero (minReplicas 0): marks each input with a reading active when
// the reading is above its activation (a fallback input when its proposal is
// above 0), and returns the combined proposal the rule changes: 0 when no
// input is active, 1 when one is and `combined` is 0; nullopt otherwise.
// An input without a reading may be active: while one is missing, the rule
// never lowers the proposal (as missing data never lets a scale-down through).
std::optional<int32_t> Activate(const TargetSpec& spec, int32_t combined,
                                Recommendation& rec) {
  if (spec.min_replicas != 0) return std::nullopt;
  bool any_active = false;
  bool unknown = false;
  for (size_t i = 0; i < rec.inputs.size(); ++i) {
    InputExplanation& ex = rec.inputs[i];
    if (ex.fallback) {
      ex.active = ex.proposal.value_or(0) > 0;
    } else if (ex.raw) {
      ex.active = *ex.raw > spec.inputs[i].activation;
    } else {
      unknown = true;
      continue;
    }
    any_active = any_active || *ex.active;
  }
  if (!any_active && !unknown && combined != 0) return 0;
  if (any_active && combined == 0) return 1;
  return std::nullopt;
}

int32_t LongestPeriod(const Behavior& b) {
  int32_t longest = 0;
  for (const auto* rules : {&b.scale_up, &b.scale_down}) {
    for (const ScalingPolicy& p : rules->policies) {
      longest = std::max(longest, p.period_seconds);
    }
  }
  return longest;
}

void DropEventsOlderThan(core::RingDeque<TimedReplicas>& events,
                         absl::Time cutoff) {
  while (!events.empty() && events.front().time <= cutoff) events.pop_front();
}

// Removes the proposals no window can need: one with a newer proposal at
// least as high (it never decides a window's maximum) and a newer one at
// most as low (nor its minimum). Every window ends at the newest proposal,
// so whatever its length, a window holding a removed proposal also holds
// the newer ones that decide in its place: the maximum and minimum of every
// window, and so every decision, are unchanged. What stays is at most two
// per replica count the window saw (a falling and a rising run), instead of
// one per tick: a 300 s window polled every second keeps 1 proposal while
// the count is steady, not 300.
void DropDominated(core::RingDeque<TimedReplicas>& proposals) {
  const size_t n = proposals.size();
  int32_t newer_max = std::numeric_limits<int32_t>::min();
  int32_t newer_min = std::numeric_limits<int32_t>::max();
  size_t kept = n;  // survivors are moved to [kept, n), in order
  for (size_t i = n; i-- > 0;) {
    const int32_t r = proposals[i].replicas;
    const bool dominated = newer_max >= r && newer_min <= r;
    newer_max = std::max(newer_max, r);
    newer_min = std::min(newer_min, r);
    if (!dominated && --kept != i) proposals[kept] = proposals[i];
  }
  for (size_t i = 0; i < kept; ++i) proposals.pop_front();
}

// Stabilization with `behavior` (HPA's stabilizeRecommendationWithBehaviors):
// proposals strictly newer than now - window count.
int32_t StabilizeWithBehavior(const Behavior& b, TargetHistory& h,
                              absl::Time now, int32_t current,
                              int32_t desired) {
  const WindowCutoffs cutoff = StabilizationCutoffs(b, now);
  int32_t up = desired;
  int32_t down = desired;
  for (const TimedReplicas& p : h.proposals) {
    if (p.time > cutoff.up) up = std::min(up, p.replicas);
    if (p.time > cutoff.down) down = std::max(down, p.replicas);
  }
  DropEventsOlderThan(h.proposals, std::min(cutoff.up, cutoff.down));
  h.proposals.push_back({now, desired});
  DropDominated(h.proposals);
  int32_t result = current;
  if (result < up) result = up;
  if (result > down) result = down;
  return result;
}

// Kubernetes' rule for an HPA without `behavior` (normalizeDesiredReplicas):
// the maximum proposal of the window, the edge included, then a scale-up
// limit of max(2 * current, 4). A window of 0 s holds nothing, not even the
// first tick's seed (SeedFirstTick): the controller reads its clock for the
// window after recording the seed, so a 0 s window starts past it.
int32_t StabilizeLegacy(int32_t window_seconds, TargetHistory& h,
                        absl::Time now, int32_t desired) {
  const absl::Time cutoff = now - absl::Seconds(window_seconds);
  while (!h.proposals.empty() && h.proposals.front().time < cutoff) {
    h.proposals.pop_front();
  }
  int32_t result = desired;
  if (window_seconds > 0) {
    for (const TimedReplicas& p : h.proposals) {
      result = std::max(result, p.replicas);
    }
  }
  h.proposals.push_back({now, desired});
  DropDominated(h.proposals);
  return result;
}

// The HPA controller's first sync of an HPA (recordInitialRecommendation):
// a target with no history records the observed count as a proposal made
// at `now`, in the list both windows read. So a restart holds the count
// through the scale-down window (a scale-down waits it out), and a
// scale-up window longer than 0 s holds it too, as the controller's does;
// 0 s windows never see it. Before anything else in the tick, as the
// controller records it before its bounds and metrics: a first tick that
// goes to a bound or has no data keeps the seed for the ticks after it.
void SeedFirstTick(TargetHistory& h, absl::Time now, int32_t observed) {
  if (h.last_recommendation || !h.proposals.empty()) return;
  h.proposals.push_back({now, observed});
}

// A least-squares line through the raw samples strictly newer than
// now - window: its slope (per second) and its value at `now`.
struct Line {
  double slope = 0;
  double at_now = 0;
};

std::optional<Line> FitLine(const core::RingDeque<RawSample>& raw,
                            absl::Time now, double window_seconds) {
  const absl::Time cutoff = now - absl::Seconds(window_seconds);
  double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const RawSample& s : raw) {
    if (s.time <= cutoff) continue;
    const double x = absl::ToDoubleSeconds(s.time - now);
    n += 1;
    sx += x;
    sy += s.value;
    sxx += x * x;
    sxy += x * s.value;
  }
  const double denom = n * sxx - sx * sx;
  if (n < 2 || !(denom > 0)) return std::nullopt;
  Line line;
  line.slope = (n * sxy - sx * sy) / denom;
  line.at_now = (sy - line.slope * sx) / n;
  if (!std::isfinite(line.slope) || !std::isfinite(line.at_now)) {
    return std::nullopt;
  }
  return line;
}

// The mean of the raw samples strictly newer than now - window (the latest
// one always counts).
double WindowMean(const core::RingDeque<RawSample>& raw, absl::Time now,
                  double window_seconds) {
  const absl::Time cutoff = now - absl::Seconds(window_seconds);
  double mean = raw.back().value;
  double n = 1;
  for (size_t i = 0; i + 1 < raw.size(); ++i) {
    if (raw[i].time <= cutoff) continue;
    n += 1;
    mean += (raw[i].value - mean) / n;  // no overflow near DBL_MAX
  }
  return mean;
}

bool BurstWatches(const Burst& burst, const std::string& input) {
  return burst.inputs.empty() ||
         std::find(burst.inputs.begin(), burst.inputs.end(), input) !=
             burst.inputs.end();
}

// How long an input's raw samples must be kept (< 0: not at all).
double RawWindowSeconds(const TargetSpec& spec, const InputSpec& input) {
  double keep = -1;
  if (input.trend) keep = std::max(keep, input.trend->window_seconds);
  if (input.drain) keep = std::max(keep, input.drain->window_seconds);
  if (spec.behavior && spec.behavior->burst &&
      BurstWatches(*spec.behavior->burst, input.name)) {
    keep = std::max(keep, spec.behavior->burst->window_seconds);
  }
  return keep;
}

// Records this tick's raw value: the drain observation against the
// previous sample, then the sample itself, keeping those within `keep`
// seconds and the previous one.
void RecordRaw(const InputSpec& input, double keep, absl::Time now, double v,
               int32_t ready, InputState& state) {
  const absl::Time cutoff = now - absl::Seconds(keep);
  while (state.raw.size() > 1 && state.raw.front().time <= cutoff) {
    state.raw.pop_front();
  }
  if (input.drain) {
    // The value fell by at least what the replicas took from it: arrivals
    // only add. So the fall per replica and second is a lower bound of the
    // per-replica throughput; the estimate is the highest of the window.
    if (!state.raw.empty()) {
      const RawSample& prev = state.raw.back();
      const double dt = absl::ToDoubleSeconds(now - prev.time);
      const int32_t workers = std::max(prev.ready, ready);
      if (v < prev.value && dt > 0 && workers > 0) {
        const double rate = (prev.value - v) / (dt * workers);
        if (std::isfinite(rate)) state.drain_rates.emplace_back(now, rate);
      }
    }
    const absl::Time rates_cutoff =
        now - absl::Seconds(input.drain->throughput_window_seconds);
    while (!state.drain_rates.empty() &&
           state.drain_rates.front().first <= rates_cutoff) {
      state.drain_rates.pop_front();
    }
    if (!state.drain_rates.empty()) {
      double best = 0;
      for (const auto& [t, rate] : state.drain_rates) {
        best = std::max(best, rate);
      }
      state.throughput = best;
    }
  }
  if (!state.raw.empty() && state.raw.back().time == now) state.raw.pop_back();
  state.raw.push_back({now, v, ready});
}

void ProposeWithRules(const InputSpec& input, const InputState& state,
                      absl::Time now, double v, int32_t observed, int32_t ready,
                      Tolerances tolerance, InputExplanation& ex) {
  // Drain: while the backlog b stays > 0 every replica is busy, so the
  // arrivals are b' + ready * throughput; draining b within `seconds` on top
  // of them takes (arrivals + b / seconds) / throughput replicas. A backlog
  // that was empty within the slope's window says nothing of the arrivals.
  bool drain =
      input.drain && state.throughput && *state.throughput > 0 && v > 0;
  if (drain) {
    const absl::Time cutoff = now - absl::Seconds(input.drain->window_seconds);
    for (const RawSample& sample : state.raw) {
      if (sample.time > cutoff && !(sample.value > 0)) drain = false;
    }
  }
  double slope = 0;
  if (drain) {
    if (std::optional<Line> line =
            FitLine(state.raw, now, input.drain->window_seconds)) {
      slope = line->slope;
    }
  }
  auto rule = [&](double value, InputExplanation& out) {
    if (!drain) {
      Propose(input, value, observed, tolerance, out);
      return;
    }
    const double needed =
        ready + (value / input.drain->seconds + slope) / *state.throughput;
    out.untolerated_proposal = CeilToReplicas(needed);
    out.within_tolerance =
        observed > 0 &&
        WithinTolerance(needed / static_cast<double>(observed), tolerance);
    out.proposal = out.within_tolerance ? observed : *out.untolerated_proposal;
    out.drain = true;
  };
  rule(v, ex);
  ex.throughput = state.throughput;

  // Trend: only a rise whose latest step does not fall, read ahead; it may
  // raise the proposal above the current count, never lower anything.
  if (!input.trend || state.raw.size() < 2) return;
  const RawSample& last = state.raw[state.raw.size() - 1];
  const RawSample& before = state.raw[state.raw.size() - 2];
  if (last.time != now || last.value < before.value) return;
  const std::optional<Line> line =
      FitLine(state.raw, now, input.trend->window_seconds);
  if (!line || !(line->slope > 0)) return;
  const double ahead =
      line->at_now + line->slope * input.trend->horizon_seconds;
  if (!std::isfinite(ahead)) return;
  ex.predicted = ahead;
  InputExplanation raised;
  rule(ahead, raised);
  if (*raised.proposal > std::max(*ex.proposal, observed)) {
    ex.proposal = raised.proposal;
    ex.untolerated_proposal = raised.untolerated_proposal;
    ex.within_tolerance = false;
    ex.trend = true;
  }
}

}  // namespace

std::string_view LimitName(Limit limit) {
  switch (limit) {
    case Limit::kNone:
      return "none";
    case Limit::kTolerance:
      return "tolerance";
    case Limit::kScaleUpStabilization:
      return "scaleUpStabilization";
    case Limit::kScaleDownStabilization:
      return "scaleDownStabilization";
    case Limit::kScaleUpPolicy:
      return "scaleUpPolicy";
    case Limit::kScaleDownPolicy:
      return "scaleDownPolicy";
    case Limit::kMinReplicas:
      return "minReplicas";
    case Limit::kMaxReplicas:
      return "maxReplicas";
    case Limit::kFallback:
      return "fallback";
    case Limit::kMissingData:
      return "missingData";
    case Limit::kScalingDisabled:
      return "scalingDisabled";
    case Limit::kTrend:
      return "trend";
    case Limit::kBurst:
      return "burst";
    case Limit::kScaleDownMinChange:
      return "scaleDownMinChange";
    case Limit::kActivation:
      return "activation";
  }
  return "?";
}

std::optional<Limit> ParseLimitName(std::string_view name) {
  // Limit's enumerators run from 0 to kActivation, in order.
  for (int i = 0; i <= static_cast<int>(Limit::kActivation); ++i) {
    const auto limit = static_cast<Limit>(i);
    if (LimitName(limit) == name) return limit;
  }
  return std::nullopt;
}

TickResult Tick(const TargetSpec& spec, TargetHistory history,
                const TickInput& in) {
  if (spec.mode == Mode::kHpa) {
    return internal::HpaTick(spec, std::move(history), in);
  }
  TargetHistory& h = history;
  const Tolerances tolerances = TolerancesOf(spec);
  h.inputs.resize(spec.inputs.size());
  // `observed` feeds the HPA arithmetic (the tolerance ratio, a Value
  // target's scaling). Windows and policies start from `current`: what ballast
  // last recommended, the counterpart of the HPA's spec.replicas, so that a
  // workload still catching up with a scale-up is not taken for a new start.
  const int32_t observed =
      in.current_replicas.value_or(h.last_recommendation.value_or(
          spec.initial_replicas.value_or(spec.min_replicas)));
  const int32_t current = h.last_recommendation.value_or(observed);
  // The replicas doing the work (drain's throughput is per ready replica).
  const int32_t ready = std::max(in.ready_replicas.value_or(observed), 0);
  SeedFirstTick(h, in.now, observed);

  Recommendation rec;
  rec.time = in.now;
  rec.current_replicas = observed;
  rec.inputs.resize(spec.inputs.size());

  // 1. Per input: smoothing, proposal, failures and fallback.
  bool any_missing = false;
  for (size_t i = 0; i < spec.inputs.size(); ++i) {
    const InputSpec& input = spec.inputs[i];
    InputState& state = h.inputs[i];
    InputExplanation& ex = rec.inputs[i];
    ex.name = input.name;
    const InputReading reading =
        i < in.inputs.size()
            ? in.inputs[i]
            : InputReading::Missing(absl::NotFoundError("no reading"));
    if (reading.value && std::isfinite(*reading.value)) {
      ex.raw = reading.value;
      state.consecutive_failures = 0;
      ex.smoothed =
          internal::Smooth(input.smoothing, in.now, *reading.value, state);
      const double keep = RawWindowSeconds(spec, input);
      if (keep >= 0) {
        RecordRaw(input, keep, in.now, *reading.value, ready, state);
      }
      ProposeWithRules(input, state, in.now, *ex.smoothed, observed, ready,
                       tolerances, ex);
    } else {
      ++state.consecutive_failures;
      ex.error = internal::MissingReason(reading);
      if (spec.fallback &&
          state.consecutive_failures > spec.fallback->failure_threshold) {
        // KEDA serves the fallback as a metric the HPA reads like any
        // other, so within tolerance of the current count it keeps it.
        ex.fallback = true;
        const int32_t r = internal::FallbackReplicas(*spec.fallback, observed);
        ex.untolerated_proposal = r;
        ex.within_tolerance =
            observed > 0 &&
            WithinTolerance(static_cast<double>(r) / observed, tolerances);
        ex.proposal = ex.within_tolerance ? observed : r;
      } else {
        any_missing = true;
      }
    }
    ex.consecutive_failures = state.consecutive_failures;
  }

  // 2. Combine by max.
  std::optional<int32_t> combined;
  int32_t untolerated_max = 0;
  bool fallback_used = false;
  for (const InputExplanation& ex : rec.inputs) {
    if (!ex.proposal) continue;
    combined = std::max(combined.value_or(0), *ex.proposal);
    untolerated_max = std::max(untolerated_max, *ex.untolerated_proposal);
  }
  for (const InputExplanation& ex : rec.inputs) {
    fallback_used = fallback_used || (ex.fallback && ex.proposal == combined);
  }

  auto finish = [&](int32_t replicas, Limit limit) {
    rec.replicas = replicas;
    rec.limited_by = limit;
    h.last_recommendation = replicas;
    return TickResult{std::move(rec), std::move(history)};
  };

  // 3. Missing data: with nothing usable, hold; with some inputs missing, a
  // scale-up may proceed but a scale-down may not (as the HPA).
  if (!combined || (any_missing && *combined < current)) {
    rec.desired = combined.value_or(current);
    return finish(current, Limit::kMissingData);
  }
  bool trend_used = false;
  for (const InputExplanation& ex : rec.inputs) {
    trend_used = trend_used || (ex.trend && ex.proposal == combined);
  }
  Limit limit = fallback_used                  ? Limit::kFallback
                : trend_used                   ? Limit::kTrend
                : untolerated_max != *combined ? Limit::kTolerance
                                               : Limit::kNone;
  // 3b. Scale to zero (minReplicas 0), KEDA's activation: 0 while no input
  // is active, at least 1 while one is.
  const std::optional<int32_t> activated = Activate(spec, *combined, rec);
  if (activated) limit = Limit::kActivation;
  const int32_t desired = activated.value_or(*combined);
  rec.desired = desired;

  // 4. Outside [min, max] the HPA goes straight to the bound.
  if (current > spec.max_replicas)
    return finish(spec.max_replicas, Limit::kMaxReplicas);
  if (current < spec.min_replicas)
    return finish(spec.min_replicas, Limit::kMinReplicas);

  // 5. Stabilization and rate limits.
  int32_t replicas = desired;
  if (!spec.behavior) {
    replicas = StabilizeLegacy(spec.legacy_downscale_window_seconds, h, in.now,
                               desired);
    if (replicas != desired) limit = Limit::kScaleDownStabilization;
    // max(2 * current, 4) in int64: with maxReplicas up to 2^31 - 1, twice
    // the current count does not fit int32; the limit is then maxReplicas.
    const int64_t up_limit = std::max<int64_t>(2 * int64_t{current}, 4);
    const auto max_allowed =
        static_cast<int32_t>(std::min<int64_t>(spec.max_replicas, up_limit));
    if (replicas < spec.min_replicas) {
      replicas = spec.min_replicas;
      limit = Limit::kMinReplicas;
    } else if (replicas > max_allowed) {
      limit = spec.max_replicas > up_limit ? Limit::kScaleUpPolicy
                                           : Limit::kMaxReplicas;
      replicas = max_allowed;
    }
    return finish(replicas, limit);
  }

  const Behavior& b = *spec.behavior;
  replicas = StabilizeWithBehavior(b, h, in.now, current, desired);
  if (replicas != desired) {
    limit = desired > current ? Limit::kScaleUpStabilization
                              : Limit::kScaleDownStabilization;
  }
  // Calmer scale-down: the stabilized goal (the maximum of the window) must
  // lie far enough below the current count, else no scale-down at all.
  if (replicas < current) {
    const ScalingRules& down = b.scale_down;
    int64_t need = std::max<int64_t>(
        down.min_change_pods,
        SaturatedInt64(std::ceil(down.min_change_ratio * current)));
    need = std::min<int64_t>(need, int64_t{current} - spec.min_replicas);
    const int32_t goal = std::max(replicas, spec.min_replicas);
    if (need > 0 && int64_t{current} - goal < need) {
      replicas = current;
      limit = Limit::kScaleDownMinChange;
    }
  }
  const absl::Time event_cutoff = in.now - absl::Seconds(LongestPeriod(b));
  DropEventsOlderThan(h.scale_up_events, event_cutoff);
  DropEventsOlderThan(h.scale_down_events, event_cutoff);
  replicas = ApplyRateLimits(spec, current, replicas, h.scale_up_events,
                             h.scale_down_events, in.now, limit);

  // 6. Burst mode: past the windows and policies, not past maxReplicas.
  if (b.burst) {
    const Burst& burst = *b.burst;
    std::optional<int32_t> burst_desired;
    for (size_t i = 0; i < spec.inputs.size(); ++i) {
      const InputSpec& input = spec.inputs[i];
      if (!rec.inputs[i].raw || !BurstWatches(burst, input.name)) continue;
      InputExplanation short_window;
      Propose(input, WindowMean(h.inputs[i].raw, in.now, burst.window_seconds),
              observed, tolerances, short_window);
      burst_desired = std::max(burst_desired.value_or(0),
                               *short_window.untolerated_proposal);
    }
    const bool crossed =
        burst_desired && *burst_desired > current &&
        *burst_desired >= burst.threshold * static_cast<double>(current);
    if (crossed) {
      if (!h.burst_triggered) h.burst_peak = 0;
      h.burst_triggered = in.now;
    } else if (h.burst_triggered &&
               in.now - *h.burst_triggered >=
                   absl::Seconds(burst.stable_window_seconds)) {
      h.burst_triggered.reset();
      h.burst_peak = 0;
    }
    if (h.burst_triggered) {
      rec.burst = true;
      h.burst_peak = std::max(h.burst_peak, burst_desired.value_or(0));
      const int32_t floor =
          std::min(std::max(h.burst_peak, current), spec.max_replicas);
      if (replicas < floor) {
        replicas = floor;
        // Capped on the way up: the bound decided; held: burst did.
        limit = h.burst_peak > spec.max_replicas && floor > current
                    ? Limit::kMaxReplicas
                    : Limit::kBurst;
      }
    }
  }

  // 7. Record the scale event for the policies' periods.
  if (replicas != current) {
    if (replicas > current) {
      h.scale_up_events.push_back({in.now, replicas - current});
    } else {
      h.scale_down_events.push_back({in.now, current - replicas});
    }
  }
  return finish(replicas, limit);
}

TargetSpec PlainHpaSpec(const TargetSpec& spec) {
  TargetSpec plain = spec;
  plain.mode = Mode::kHpa;
  for (InputSpec& input : plain.inputs) {
    input.smoothing = Smoothing{};
    input.trend.reset();
    input.drain.reset();
  }
  plain.tolerance = 0.1;
  plain.behavior.reset();
  plain.legacy_downscale_window_seconds = 300;
  plain.fallback.reset();
  return plain;
}

}  // namespace ballast::engine
