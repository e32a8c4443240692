// ballast/sim/report.h
//
// The files `ballast simulate` writes for one run: timeline.csv,
// summary.json and timeline.svg (a self-contained picture, no libraries).
//
//   std::ofstream csv(dir / "timeline.csv");
//   WriteTimelineCsv(result.timeline, csv);
//   std::string json = SummaryJson(result.summary);
//   std::string svg = TimelineSvg(result);
//
// timeline.csv columns: time (seconds since the run's start), each input's
// raw value (empty when missing), proposal_<input> (empty when none),
// desired, recommendation, replicas (ready), limited_by (engine::LimitName).
//
// A TimeWindow restricts the CSV rows and the picture to part of the run;
// the summary carries the window's own figures (SimOptions::window_from).
#ifndef BALLAST_SIM_REPORT_H_
#define BALLAST_SIM_REPORT_H_

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "ballast/sim/simulator.h"

namespace ballast::sim {

// Part of a run in seconds since its start: from <= time < to; unset
// bounds are the run's start and end.
struct TimeWindow {
  std::optional<double> from;
  std::optional<double> to;
};

// The rows of the ticks in `window`.
void WriteTimelineCsv(const Timeline& tl, std::ostream& out,
                      const TimeWindow& window = {});

// Another policy's summary, written as the block `key` of the main one.
struct PolicyBlock {
  std::string key;  // "compare", "baseline_hpa"
  const Summary* summary;
};

// One JSON object, keys in snake_case (see Summary), ending in a newline:
// the figures of `summary` at the top level (with "window": {...} when it
// has one, and "policy" when set), then one block per other policy with
// the same keys. With a `baseline` (which may also be one of `others`),
// every other policy's object, and its window, gets "ratio_to_baseline":
// {replica_seconds, scale_events, scale_ups, scale_downs,
// slo_violation_seconds, max_replicas}, each value / the baseline's (null
// when the baseline's is 0).
std::string SummaryJson(const Summary& summary,
                        const std::vector<PolicyBlock>& others = {},
                        const Summary* baseline = nullptr);

// value / baseline; nullopt when baseline is 0.
std::optional<double> Ratio(double value, double baseline);

// One policy's run in a picture.
struct NamedRun {
  std::string name;   // legend text, e.g. "ballast (config/demo.yaml)"
  std::string color;  // SVG colour; empty: one of a fixed palette
  const SimResult* result;
};

struct SvgOptions {
  TimeWindow window;
  // x positions at most; each keeps the first, minimum, maximum and last
  // value of the ticks it covers, so peaks stay visible. Default: one per
  // pixel of the plot (1100).
  size_t max_points = 1100;
};

// The picture of a run: load on top, recommendation and ready replicas
// below, hours since the run's start on the x axis.
std::string TimelineSvg(const SimResult& result, size_t max_points = 1100);

// Several policies on the same axes (runs[0] is the main one, whose inputs
// are the load drawn; another run's input is drawn dashed only where it
// differs, as a queue's backlog does): one line of ready replicas per
// policy, a legend, and a line of figures per policy (the window's when
// the summaries have one). With one run, the picture above.
std::string TimelineSvg(const std::vector<NamedRun>& runs,
                        const SvgOptions& options);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_REPORT_H_
