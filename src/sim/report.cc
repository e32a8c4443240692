#include "ballast/sim/report.h"

#include <cmath>

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

void WriteTimelineCsv(const Timeline& tl, std::ostream& out) {
  std::string buf = "time";
  for (const std::string& name : tl.inputs) absl::StrAppend(&buf, ",", name);
  for (const std::string& name : tl.inputs) {
    absl::StrAppend(&buf, ",proposal_", name);
  }
  absl::StrAppend(&buf, ",desired,recommendation,replicas,limited_by\n");
  for (size_t k = 0; k < tl.time.size(); ++k) {
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

std::string SummaryJson(const Summary& s) {
  JsonObject json(2);
  json.Add("target", JsonString(s.target));
  json.Add("loop", JsonString(s.closed_loop ? "closed" : "open"));
  json.Add("ticks", s.ticks);
  json.Add("start_time", s.start_time);
  json.Add("duration_seconds", s.duration_seconds);
  json.Add("replica_seconds", s.replica_seconds);
  json.Add("replica_hours", s.replica_seconds / 3600);
  json.Add("mean_replicas", s.mean_replicas);
  json.Add("scale_events", s.scale_events);
  json.Add("slo_violation_seconds", s.slo_violation_seconds);
  json.Add("max_replicas", int64_t{s.max_replicas});
  json.Add("max_ready_replicas", int64_t{s.max_ready_replicas});
  json.Add("missing_input_ticks", s.missing_input_ticks);
  if (s.queue) {
    JsonObject q(4);
    q.Add("jobs_arrived", s.queue->jobs_arrived);
    q.Add("jobs_started", s.queue->jobs_started);
    q.Add("jobs_completed", s.queue->jobs_completed);
    q.Add("jobs_waiting_at_end", s.queue->jobs_waiting_at_end);
    q.Add("mean_job_wait_seconds", s.queue->mean_job_wait_seconds);
    q.Add("max_job_wait_seconds", s.queue->max_job_wait_seconds);
    json.Add("queue", q.Close());
  }
  return json.Close() + "\n";
}

}  // namespace ballast::sim
