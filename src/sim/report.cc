#include "ballast/sim/report.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ballast/sim/format.h"

namespace ballast::sim {
namespace {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      absl::StrAppend(&out, "\\", absl::string_view(&c, 1));
    } else if (static_cast<unsigned char>(c) < 0x20) {
      absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
  return out;
}

// Appends `"key": value` lines to a JSON object under construction.
class JsonObject {
 public:
  explicit JsonObject(int indent) : indent_(indent) {}
  void Add(absl::string_view key, absl::string_view raw_value) {
    absl::StrAppend(&text_, text_.empty() ? "" : ",\n",
                    std::string(indent_, ' '), JsonString(key), ": ",
                    raw_value);
  }
  void Add(absl::string_view key, double v) { Add(key, FormatNumber(v)); }
  void Add(absl::string_view key, int64_t v) { Add(key, absl::StrCat(v)); }
  std::string Close() const {
    return absl::StrCat("{\n", text_, "\n", std::string(indent_ - 2, ' '), "}");
  }

 private:
  int indent_;
  std::string text_;
};

}  // namespace

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

std::string JsonNumber(double v) {
  return std::isfinite(v) ? FormatNumber(v) : "null";
}

std::string JsonNumber(std::optional<double> v) {
  return v ? JsonNumber(*v) : "null";
}

// The keys of Figures into `json`, objects indented by `indent` + 2.
void AddFigures(JsonObject& json, const Figures& f, int indent,
                const Figures* baseline) {
  json.Add("ticks", f.ticks);
  json.Add("duration_seconds", f.duration_seconds);
  json.Add("replica_seconds", f.replica_seconds);
  json.Add("replica_hours", f.replica_seconds / 3600);
  json.Add("mean_replicas", f.mean_replicas);
  json.Add("scale_events", f.scale_events);
  json.Add("scale_ups", f.scale_ups);
  json.Add("scale_downs", f.scale_downs);
  json.Add("slo_violation_seconds", f.slo_violation_seconds);
  json.Add("max_replicas", int64_t{f.max_replicas});
  json.Add("max_ready_replicas", int64_t{f.max_ready_replicas});
  json.Add("missing_input_ticks", f.missing_input_ticks);
  JsonObject loads(indent + 2);
  for (const PerReplicaLoad& load : f.per_replica_load) {
    JsonObject l(indent + 4);
    l.Add("ticks", load.ticks);
    l.Add("p50", JsonNumber(load.p50));
    l.Add("p99", JsonNumber(load.p99));
    loads.Add(load.input, l.Close());
  }
  json.Add("per_replica_load",
           f.per_replica_load.empty() ? "{}" : loads.Close());
  if (baseline) {
    const Figures& b = *baseline;
    JsonObject r(indent + 2);
    r.Add("replica_seconds",
          JsonNumber(Ratio(f.replica_seconds, b.replica_seconds)));
    r.Add("scale_events",
          JsonNumber(Ratio(static_cast<double>(f.scale_events),
                           static_cast<double>(b.scale_events))));
    r.Add("scale_ups", JsonNumber(Ratio(static_cast<double>(f.scale_ups),
                                        static_cast<double>(b.scale_ups))));
    r.Add("scale_downs", JsonNumber(Ratio(static_cast<double>(f.scale_downs),
                                          static_cast<double>(b.scale_downs))));
    r.Add("slo_violation_seconds",
          JsonNumber(Ratio(f.slo_violation_seconds, b.slo_violation_seconds)));
    r.Add("max_replicas", JsonNumber(Ratio(f.max_replicas, b.max_replicas)));
    json.Add("ratio_to_baseline", r.Close());
  }
}

// One policy's object: the Summary's keys, its window, the ratios.
std::string SummaryObject(const Summary& s, int indent,
                          const std::vector<PolicyBlock>& others,
                          const Summary* baseline) {
  if (baseline == &s) baseline = nullptr;
  JsonObject json(indent);
  json.Add("target", JsonString(s.target));
  if (!s.policy.empty()) json.Add("policy", JsonString(s.policy));
  json.Add("loop", JsonString(s.closed_loop ? "closed" : "open"));
  json.Add("start_time", s.start_time);
  AddFigures(json, s, indent, baseline);
  if (s.queue) {
    JsonObject q(indent + 2);
    q.Add("jobs_arrived", s.queue->jobs_arrived);
    q.Add("jobs_started", s.queue->jobs_started);
    q.Add("jobs_completed", s.queue->jobs_completed);
    q.Add("jobs_waiting_at_end", s.queue->jobs_waiting_at_end);
    q.Add("mean_job_wait_seconds", s.queue->mean_job_wait_seconds);
    q.Add("max_job_wait_seconds", s.queue->max_job_wait_seconds);
    json.Add("queue", q.Close());
  }
  if (s.window) {
    JsonObject w(indent + 2);
    w.Add("from_seconds", s.window->from_seconds);
    w.Add("to_seconds", s.window->to_seconds);
    AddFigures(w, *s.window, indent + 2,
               baseline && baseline->window ? &*baseline->window : nullptr);
    json.Add("window", w.Close());
  }
  for (const PolicyBlock& other : others) {
    json.Add(other.key, SummaryObject(*other.summary, indent + 2, {},
                                      baseline ? baseline : nullptr));
  }
  return json.Close();
}

}  // namespace

std::string SummaryJson(const Summary& s,
                        const std::vector<PolicyBlock>& others,
                        const Summary* baseline) {
  return SummaryObject(s, 2, others, baseline) + "\n";
}

}  // namespace ballast::sim
