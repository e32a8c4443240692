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
#ifndef BALLAST_SIM_REPORT_H_
#define BALLAST_SIM_REPORT_H_

#include <cstddef>
#include <ostream>
#include <string>

#include "ballast/sim/simulator.h"

namespace ballast::sim {

void WriteTimelineCsv(const Timeline& timeline, std::ostream& out);

// One JSON object, keys in snake_case (see Summary), ending in a newline.
std::string SummaryJson(const Summary& summary);

// The picture of a run: load on top, recommendation and ready replicas
// below, hours on the x axis, at most `max_points` x positions (each keeps
// the minimum and maximum of the ticks it covers, so peaks stay visible).
std::string TimelineSvg(const SimResult& result, size_t max_points = 2000);

}  // namespace ballast::sim

#endif  // BALLAST_SIM_REPORT_H_
