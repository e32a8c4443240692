#include "ballast/sim/report.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/sim/format.h"

namespace ballast::sim {
namespace {}  // namespace

void WriteTimelineCsv(const Timeline& tl, std::ostream& out,
                      const TimeWindow& window) {
  std::string buf = "time";
  for (const std::string& name : tl.inputs) absl::StrAppend(&buf, ",", name);
  for (const std::string& name : tl.inputs) {
    absl::StrAppend(&buf, ",proposal_", name);
  }
  absl::StrAppend(&buf, ",desired,recommendation,replicas,limited_by\n");
  const size_t begin = static_cast<size_t>(
      window.from
          ? std::lower_bound(tl.time.begin(), tl.time.end(), *window.from) -
                tl.time.begin()
          : 0);
  const size_t end = static_cast<size_t>(
      window.to ? std::lower_bound(tl.time.begin(), tl.time.end(), *window.to) -
                      tl.time.begin()
                : tl.time.size());
  for (size_t k = begin; k < end; ++k) {
    absl::StrAppend(&buf, FormatNumber(tl.time[k]));
    for (const std::vector<double>& values : tl.input_values) {
      buf.push_back(',');
      if (!std::isnan(values[k])) buf += FormatNumber(values[k]);
    }
    for (const std::vector<int32_t>& proposals : tl.proposals) {
      buf.push_back(',');
      if (proposals[k] >= 0) absl::StrAppend(&buf, proposals[k]);
    }
    absl::StrAppend(&buf, ",", tl.desired[k], ",", tl.recommendation[k], ",",
                    tl.ready[k], ",");
    const auto limit = engine::LimitName(tl.limited_by[k]);  // std::
    buf.append(limit.data(), limit.size()).push_back('\n');
    if (buf.size() > (1 << 16)) {
      out << buf;
      buf.clear();
    }
  }
  out << buf;
}

std::optional<double> Ratio(double value, double baseline) {
  if (baseline == 0 || !std::isfinite(baseline) || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value / baseline;
}

namespace {

// `key`: a figure as sim::FormatNumber writes it.
void Add(PrettyJsonWriter& json, absl::string_view key, double v) {
  json.Key(key).RawNumber(FormatNumber(v));
}
void Add(PrettyJsonWriter& json, absl::string_view key, int64_t v) {
  json.Key(key).Int(v);
}
// `key`: a finite value, else null.
void AddOrNull(PrettyJsonWriter& json, absl::string_view key,
               std::optional<double> v) {
  if (v && std::isfinite(*v)) {
    Add(json, key, *v);
  } else {
    json.Key(key).Null();
  }
}

// The keys of Figures into the object `json` is writing.
void AddFigures(PrettyJsonWriter& json, const Figures& f,
                const Figures* baseline) {
  Add(json, "ticks", f.ticks);
  Add(json, "duration_seconds", f.duration_seconds);
  Add(json, "replica_seconds", f.replica_seconds);
  Add(json, "replica_hours", f.replica_seconds / 3600);
  Add(json, "mean_replicas", f.mean_replicas);
  Add(json, "scale_events", f.scale_events);
  Add(json, "scale_ups", f.scale_ups);
  Add(json, "scale_downs", f.scale_downs);
  Add(json, "slo_violation_seconds", f.slo_violation_seconds);
  Add(json, "max_replicas", int64_t{f.max_replicas});
  Add(json, "max_ready_replicas", int64_t{f.max_ready_replicas});
  Add(json, "missing_input_ticks", f.missing_input_ticks);
  json.Key("per_replica_load").StartObject();
  for (const PerReplicaLoad& load : f.per_replica_load) {
    json.Key(load.input).StartObject();
    Add(json, "ticks", load.ticks);
    AddOrNull(json, "p50", load.p50);
    AddOrNull(json, "p99", load.p99);
    json.EndObject();
  }
  json.EndObject();
  if (baseline) {
    const Figures& b = *baseline;
    json.Key("ratio_to_baseline").StartObject();
    AddOrNull(json, "replica_seconds",
              Ratio(f.replica_seconds, b.replica_seconds));
    AddOrNull(json, "scale_events",
              Ratio(static_cast<double>(f.scale_events),
                    static_cast<double>(b.scale_events)));
    AddOrNull(json, "scale_ups",
              Ratio(static_cast<double>(f.scale_ups),
                    static_cast<double>(b.scale_ups)));
    AddOrNull(json, "scale_downs",
              Ratio(static_cast<double>(f.scale_downs),
                    static_cast<double>(b.scale_downs)));
    AddOrNull(json, "slo_violation_seconds",
              Ratio(f.slo_violation_seconds, b.slo_violation_seconds));
    AddOrNull(json, "max_replicas", Ratio(f.max_replicas, b.max_replicas));
    json.EndObject();
  }
}

// One policy's object: the Summary's keys, its window, the ratios.
void WriteSummary(PrettyJsonWriter& json, const Summary& s,
                  const std::vector<PolicyBlock>& others,
                  const Summary* baseline) {
  if (baseline == &s) baseline = nullptr;
  json.StartObject();
  json.Key("target").String(s.target);
  if (!s.policy.empty()) json.Key("policy").String(s.policy);
  json.Key("loop").String(s.closed_loop ? "closed" : "open");
  Add(json, "start_time", s.start_time);
  AddFigures(json, s, baseline);
  if (s.queue) {
    json.Key("queue").StartObject();
    Add(json, "jobs_arrived", s.queue->jobs_arrived);
    Add(json, "jobs_started", s.queue->jobs_started);
    Add(json, "jobs_completed", s.queue->jobs_completed);
    Add(json, "jobs_waiting_at_end", s.queue->jobs_waiting_at_end);
    Add(json, "mean_job_wait_seconds", s.queue->mean_job_wait_seconds);
    Add(json, "max_job_wait_seconds", s.queue->max_job_wait_seconds);
    json.EndObject();
  }
  if (s.window) {
    json.Key("window").StartObject();
    Add(json, "from_seconds", s.window->from_seconds);
    Add(json, "to_seconds", s.window->to_seconds);
    AddFigures(json, *s.window,
               baseline && baseline->window ? &*baseline->window : nullptr);
    json.EndObject();
  }
  for (const PolicyBlock& other : others) {
    json.Key(other.key);
    WriteSummary(json, *other.summary, {}, baseline);
  }
  json.EndObject();
}

}  // namespace

std::string SummaryJson(const Summary& s,
                        const std::vector<PolicyBlock>& others,
                        const Summary* baseline) {
  PrettyJsonWriter json;
  WriteSummary(json, s, others, baseline);
  return json.Take() + "\n";
}

}  // namespace ballast::sim
