// TimelineSvg: the picture of a simulate run, written by hand (no library).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ballast/sim/format.h"
#include "ballast/sim/report.h"

namespace ballast::sim {
namespace {

constexpr double kWidth = 1200;
constexpr double kHeight = 660;
constexpr double kLeft = 80;
constexpr double kRight = 1180;
constexpr const char* kInputColors[] = {"#1f77b4", "#ff7f0e", "#9467bd",
                                        "#8c564b", "#17becf", "#7f7f7f"};
constexpr const char* kRecommendationColor = "#d62728";
constexpr const char* kReadyColor = "#2ca02c";

struct Panel {
  double top;
  double bottom;
  double y_max;  // value at the top edge
  // Far-off values (v / y_max overflows for a subnormal y_max) are drawn
  // at most 1000 panel heights away, never at +-inf.
  double Y(double v) const {
    return bottom - std::clamp(v / y_max, -1e3, 1e3) * (bottom - top);
  }
};

// The ticks one x position stands for, in order of time.
struct Bucket {
  size_t begin;
  size_t end;  // exclusive
};

std::vector<Bucket> Buckets(size_t n, size_t max_points) {
  std::vector<Bucket> buckets;
  const size_t count = std::min(n, std::max<size_t>(max_points, 1));
  for (size_t b = 0; b < count; ++b) {
    buckets.push_back({b * n / count, (b + 1) * n / count});
  }
  return buckets;
}

std::string Escape(absl::string_view s) {
  std::string out;
  for (const char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Draws `values` (NaN = gap) as a step line: at each bucket's x it goes
// through the bucket's first, extreme (min and max, in the order they
// occur) and last values, then holds the last value to the next bucket.
class StepPath {
 public:
  // x = kLeft at time `from` (earlier ticks too: the first bucket may
  // start before the window, with the value it holds at `from`).
  StepPath(const Panel& panel, double x_scale, double from)
      : panel_(panel), xs_(x_scale), from_(from) {}

  std::string Build(const std::vector<double>& time,
                    const std::vector<double>& values,
                    const std::vector<Bucket>& buckets, double end_time) {
    for (const Bucket& b : buckets) {
      size_t lo = b.end;
      size_t hi = b.end;
      size_t first = b.end;
      size_t last = b.end;
      for (size_t k = b.begin; k < b.end; ++k) {
        if (!std::isfinite(values[k])) continue;  // NaN = gap; +-Inf too
        if (first == b.end) first = lo = hi = k;
        if (values[k] < values[lo]) lo = k;
        if (values[k] > values[hi]) hi = k;
        last = k;
      }
      if (first == b.end) {  // all missing: a gap
        HoldTo(time[b.begin]);
        pen_down_ = false;
        continue;
      }
      const double x = X(time[b.begin]);
      if (pen_down_) {
        Point('L', x, last_y_);
      } else {
        Point('M', x, panel_.Y(values[first]));
      }
      for (const size_t k : {first, std::min(lo, hi), std::max(lo, hi), last}) {
        Point('L', x, panel_.Y(values[k]));
      }
      pen_down_ = true;
    }
    HoldTo(end_time);
    return std::move(d_);
  }

 private:
  double X(double t) const { return kLeft + std::max(t - from_, 0.0) * xs_; }
  void HoldTo(double t) {
    if (pen_down_) Point('L', X(t), last_y_);
  }
  void Point(char op, double x, double y) {
    if (op == 'L' && x == last_x_ && y == last_y_) return;
    absl::StrAppendFormat(&d_, "%c%.1f %.1f", op, x, y);
    last_x_ = x;
    last_y_ = y;
  }

  const Panel& panel_;
  double xs_;
  double from_;
  std::string d_;
  bool pen_down_ = false;
  double last_x_ = -1;
  double last_y_ = -1;
};

// The x range of a picture: [from, to] in seconds since the run's start.
struct XRange {
  double from;
  double to;
  double scale;  // pixels per second
};

// One series as a <path> element; `extra` adds attributes.
std::string Series(const Panel& panel, const XRange& x,
                   const std::vector<double>& time,
                   const std::vector<double>& values,
                   const std::vector<Bucket>& buckets, absl::string_view color,
                   double width, absl::string_view extra = "") {
  return absl::StrFormat(
      "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s "
      "d=\"%s\"/>\n",
      color, width, extra,
      StepPath(panel, x.scale, x.from).Build(time, values, buckets, x.to));
}

// A round step for about `count` ticks up to `max`, at least max / count
// (so at most count + 1 ticks). `max` is finite and > 0; when max / count is
// subnormal or zero (max near 5e-324) the step is `max` itself, whose
// decimal magnitude would underflow.
double NiceStep(double max, int count) {
  const double raw = max / count;
  if (!std::isnormal(raw)) return max;
  const double magnitude = std::pow(10, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    // m * magnitude <= 10 * raw <= 2 * DBL_MAX / count: finite for count >= 2.
    if (m * magnitude >= raw && std::isfinite(m * magnitude)) {
      return m * magnitude;
    }
  }
  return max;
}

std::string Text(double x, double y, absl::string_view anchor,
                 absl::string_view text, absl::string_view extra = "") {
  return absl::StrFormat(
      "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\"%s>%s</text>\n", x, y,
      anchor, extra, Escape(text));
}

std::string Line(double x1, double y1, double x2, double y2,
                 absl::string_view style) {
  return absl::StrFormat(
      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>\n", x1, y1,
      x2, y2, style);
}

// The top of a panel for values up to `max`: 5% (or `headroom`) above the
// largest finite value, at most DBL_MAX, and 1 when there is none (all
// values <= 0 or non-finite).
double PanelTop(double max, double headroom) {
  if (!(max > 0) || !std::isfinite(max)) return 1;
  return std::min(max * headroom, std::numeric_limits<double>::max());
}

// The axis has at most kMaxYTicks lines, whatever p.y_max is (finite, > 0).
constexpr int kMaxYTicks = 7;

std::string YAxis(const Panel& p, absl::string_view title, bool percent) {
  std::string out = Line(kLeft, p.top, kLeft, p.bottom, "stroke=\"#333\"");
  const double step = NiceStep(p.y_max, 5);
  // Ticks as i * step (never an accumulated sum that stops growing or
  // overflows); the 1.0001 slack is taken off step, not added to y_max.
  for (int i = 0; i < kMaxYTicks; ++i) {
    const double v = i * step;
    if (i > 0 && v / 1.0001 > p.y_max) break;
    out += Line(kLeft, p.Y(v), kRight, p.Y(v), "stroke=\"#eee\"");
    out += Text(kLeft - 6, p.Y(v) + 4, "end",
                absl::StrCat(FormatNumber(v), percent ? "%" : ""));
  }
  out += absl::StrFormat(
      "<text transform=\"translate(18 %.1f) rotate(-90)\" "
      "text-anchor=\"middle\">%s</text>\n",
      (p.top + p.bottom) / 2, Escape(title));
  return out;
}

std::string XAxis(const Panel& p, const XRange& range, bool labels) {
  std::string out = Line(kLeft, p.bottom, kRight, p.bottom, "stroke=\"#333\"");
  const double hours = (range.to - range.from) / 3600;
  const double from_hours = range.from / 3600;
  double step = 1.0 / 60;
  for (const double s : {1.0 / 60, 5.0 / 60, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0,
                         12.0, 24.0, 48.0, 168.0, 336.0, 720.0}) {
    step = s;
    if (hours / s <= 14) break;
  }
  // Past 14 x 30 days (the simulator allows up to 1e8 ticks), whole
  // multiples of 720 h: still at most 15 lines.
  if (hours / step > 14) step = 720 * std::ceil(hours / 14 / 720);
  // Lines at the multiples of step inside [from, to]: at most 16.
  const double first = std::ceil(from_hours / step * (1 - 1e-9));
  for (int i = 0; i <= 15; ++i) {
    const double h = (first + i) * step;
    if (h - from_hours > hours * 1.0001) break;
    const double x = kLeft + std::max(h - from_hours, 0.0) * 3600 * range.scale;
    out += Line(x, p.top, x, p.bottom, "stroke=\"#eee\"");
    if (labels) {
      // Whole hours as "36h"; finer steps as "1:05" (hours:minutes).
      const int64_t minutes = std::llround(h * 60);
      out += Text(x, p.bottom + 16, "middle",
                  step >= 1
                      ? absl::StrCat(minutes / 60, "h")
                      : absl::StrFormat("%d:%02d", minutes / 60, minutes % 60));
    }
  }
  return out;
}

// A legend box at the panel's top right; `styles[i]`, when given, adds
// attributes to entry i's line (a dash pattern).
std::string Legend(const Panel& p, const std::vector<std::string>& names,
                   const std::vector<std::string>& colors,
                   const std::vector<std::string>& styles = {}) {
  size_t longest = 0;
  for (const std::string& name : names)
    longest = std::max(longest, name.size());
  // About 7 px a character at font-size 12; at least the old 250 px.
  const double width =
      std::clamp(40 + 7 * static_cast<double>(longest), 250.0, 600.0);
  std::string out = absl::StrFormat(
      "<g class=\"legend\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" "
      "height=\"%.1f\" fill=\"white\" fill-opacity=\"0.85\"/>\n",
      kRight - width + 4, p.top + 2, width,
      16.0 * static_cast<double>(names.size()) + 4);
  double y = p.top + 14;
  const double x = kRight - width + 10;
  for (size_t i = 0; i < names.size(); ++i, y += 16) {
    out += Line(x, y - 4, x + 20, y - 4,
                absl::StrCat("stroke=\"", colors[i], "\" stroke-width=\"2\"",
                             i < styles.size() ? styles[i] : ""));
    out += Text(x + 26, y, "start", names[i]);
  }
  return out + "</g>\n";
}

// The largest finite value of v[begin, end) (0 if none is above 0).
double MaxOf(const std::vector<double>& v, size_t begin, size_t end) {
  double m = 0;
  for (size_t k = begin; k < end && k < v.size(); ++k) {
    if (std::isfinite(v[k])) m = std::max(m, v[k]);
  }
  return m;
}

// Equal, NaN included.
bool SameSeries(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (size_t k = 0; k < a.size(); ++k) {
    if (a[k] != b[k] && !(std::isnan(a[k]) && std::isnan(b[k]))) return false;
  }
  return true;
}

constexpr const char* kPolicyColors[] = {"#d62728", "#9467bd", "#7f7f7f",
                                         "#2ca02c", "#8c564b"};
constexpr const char* kDashes[] = {"", " stroke-dasharray=\"6 3\"",
                                   " stroke-dasharray=\"2 2\"",
                                   " stroke-dasharray=\"8 2 2 2\""};

// One run's ticks in the picture: from the last at or before `from` to the
// last at or before `to`, as buckets of at most max_points.
struct RunView {
  const SimResult* result;
  std::string name;
  std::string color;
  std::string dash;
  size_t begin = 0;
  size_t end = 0;
  std::vector<Bucket> buckets;
};

RunView View(const NamedRun& run, size_t index, const XRange& x,
             size_t max_points) {
  RunView v{run.result, run.name,
            run.color.empty() ? kPolicyColors[index % std::size(kPolicyColors)]
                              : run.color,
            kDashes[index % std::size(kDashes)]};
  const std::vector<double>& time = run.result->timeline.time;
  const auto after_from = std::upper_bound(time.begin(), time.end(), x.from);
  v.begin = static_cast<size_t>(
      std::max(after_from - time.begin() - 1, std::ptrdiff_t{0}));
  v.end = static_cast<size_t>(std::upper_bound(time.begin(), time.end(), x.to) -
                              time.begin());
  v.end = std::max(v.end, v.begin);
  for (Bucket b : Buckets(v.end - v.begin, max_points)) {
    v.buckets.push_back({b.begin + v.begin, b.end + v.begin});
  }
  return v;
}

// "rps/replica p50 31.2 p99 58.4" for each per-replica load.
std::string LoadText(const Figures& f) {
  std::string out;
  for (const PerReplicaLoad& l : f.per_replica_load) {
    absl::StrAppendFormat(&out, " · %s/replica p50 %.4g p99 %.4g", l.input,
                          l.p50, l.p99);
  }
  return out;
}

// The figures shown: the window's when the summary has one.
const Figures& Shown(const Summary& s) {
  return s.window ? static_cast<const Figures&>(*s.window) : s;
}

}  // namespace

std::string TimelineSvg(const SimResult& result, size_t max_points) {
  return TimelineSvg({NamedRun{"", "", &result}},
                     SvgOptions{.max_points = max_points});
}

std::string TimelineSvg(const std::vector<NamedRun>& runs,
                        const SvgOptions& options) {
  if (runs.empty()) return "";
  const SimResult& main = *runs[0].result;
  const Timeline& tl = main.timeline;
  const Summary& s = main.summary;
  const bool several = runs.size() > 1;
  // The x range: the window within the run, at least 1 s wide.
  const double run_end = std::max(s.duration_seconds, 0.0);
  const double from = std::clamp(options.window.from.value_or(0), 0.0, run_end);
  const double to = std::max(
      std::min(options.window.to.value_or(run_end), run_end), from + 1);
  const XRange x{from, to, (kRight - kLeft) / (to - from)};
  const bool windowed = options.window.from || options.window.to;
  std::vector<RunView> views;
  for (size_t i = 0; i < runs.size(); ++i) {
    views.push_back(View(runs[i], i, x, options.max_points));
  }
  const RunView& mv = views[0];

  // Header: the title, then a line of figures per policy.
  const double extra =
      several ? 16.0 * static_cast<double>(runs.size() - 1) : 0;
  const double height = kHeight + extra;
  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kWidth, height, kWidth, height);
  std::string title = absl::StrCat("ballast simulate: ", s.target);
  if (windowed) {
    absl::StrAppendFormat(&title, " (hours %.6g to %.6g of %.6g)", from / 3600,
                          to / 3600, run_end / 3600);
  }
  svg +=
      Text(kLeft, 24, "start", title, " font-size=\"18\" font-weight=\"bold\"");
  if (!several) {
    const Figures& f = Shown(s);
    svg +=
        Text(kLeft, 44, "start",
             absl::StrFormat(
                 "replica-hours %.1f · mean replicas %.2f · max replicas %d · "
                 "scale events %d (%d up, %d down) · SLO violated %.1f min · "
                 "%.1f h, %d ticks%s",
                 f.replica_seconds / 3600, f.mean_replicas, f.max_replicas,
                 f.scale_events, f.scale_ups, f.scale_downs,
                 f.slo_violation_seconds / 60, f.duration_seconds / 3600,
                 f.ticks, LoadText(f)));
  } else {
    for (size_t i = 0; i < views.size(); ++i) {
      const Figures& f = Shown(views[i].result->summary);
      svg += Text(kLeft, 44 + 16 * static_cast<double>(i), "start",
                  absl::StrFormat("%s: replica-hours %.1f · scale-ups %d · "
                                  "scale-downs %d · SLO violated %.1f min%s",
                                  views[i].name, f.replica_seconds / 3600,
                                  f.scale_ups, f.scale_downs,
                                  f.slo_violation_seconds / 60, LoadText(f)),
                  absl::StrCat(" fill=\"", views[i].color, "\""));
    }
  }

  // Load: one input on its own scale; several normalised to their peaks.
  // Another run's input of the same name is drawn (dashed) only when it
  // differs from the main run's (a simulated queue's signals).
  struct LoadLine {
    const RunView* view;
    size_t input;  // in view->result->timeline
    std::string color;
    std::string dash;
    std::string label;
  };
  std::vector<LoadLine> lines;
  for (size_t i = 0; i < tl.inputs.size(); ++i) {
    const std::string color = kInputColors[i % std::size(kInputColors)];
    lines.push_back({&mv, i, color, "", tl.inputs[i]});
    for (size_t r = 1; r < views.size(); ++r) {
      const Timeline& other = views[r].result->timeline;
      const auto it =
          std::find(other.inputs.begin(), other.inputs.end(), tl.inputs[i]);
      if (it == other.inputs.end()) continue;
      const size_t j = static_cast<size_t>(it - other.inputs.begin());
      if (other.time == tl.time &&
          SameSeries(other.input_values[j], tl.input_values[i])) {
        continue;
      }
      lines.push_back({&views[r], j, color, views[r].dash,
                       absl::StrCat(tl.inputs[i], " (", views[r].name, ")")});
    }
  }
  // Each input's peak in the picture, over every run that draws it.
  std::vector<double> peaks(tl.inputs.size(), 0);
  for (const LoadLine& l : lines) {
    const size_t i = static_cast<size_t>(
        std::find(tl.inputs.begin(), tl.inputs.end(),
                  l.view->result->timeline.inputs[l.input]) -
        tl.inputs.begin());
    peaks[i] =
        std::max(peaks[i], MaxOf(l.view->result->timeline.input_values[l.input],
                                 l.view->begin, l.view->end));
  }
  const bool normalise = tl.inputs.size() > 1;
  double load_max = 0;
  std::vector<std::string> names;
  std::vector<std::string> colors;
  std::vector<std::string> styles;
  std::vector<std::vector<double>> series;
  for (const LoadLine& l : lines) {
    const Timeline& ltl = l.view->result->timeline;
    const size_t i = static_cast<size_t>(
        std::find(tl.inputs.begin(), tl.inputs.end(), ltl.inputs[l.input]) -
        tl.inputs.begin());
    const double peak = peaks[i];
    std::vector<double> v = ltl.input_values[l.input];
    if (normalise) {
      // x / peak <= 1 for finite x; an infinite x is a gap, like NaN.
      for (double& value : v) {
        value = std::isinf(value) ? std::nan("")
                : peak > 0        ? value / peak * 100
                                  : 0;
      }
    }
    load_max = std::max(load_max, MaxOf(v, l.view->begin, l.view->end));
    names.push_back(absl::StrFormat("%s (peak %.4g)", l.label, peak));
    colors.push_back(l.color);
    styles.push_back(l.dash);
    series.push_back(std::move(v));
  }
  const Panel load{70 + extra, 320 + extra, PanelTop(load_max, 1.05)};
  svg += YAxis(load,
               normalise ? "load, % of each input's peak"
                         : (tl.inputs.empty() ? "load" : tl.inputs[0]),
               normalise);
  svg += XAxis(load, x, false);
  for (size_t i = 0; i < series.size(); ++i) {
    svg += Series(load, x, lines[i].view->result->timeline.time, series[i],
                  lines[i].view->buckets, colors[i], 1, styles[i]);
  }
  svg += Legend(load, names, colors, styles);

  // Replicas: the recommendation and ready replicas of one run, or the
  // ready replicas of each policy.
  const Panel replicas_panel{350 + extra, 600 + extra, 0};
  std::vector<std::vector<double>> ready(views.size());
  std::vector<double> recommendation(tl.recommendation.begin(),
                                     tl.recommendation.end());
  double replicas_max = 1;
  for (size_t r = 0; r < views.size(); ++r) {
    const Timeline& rtl = views[r].result->timeline;
    ready[r].assign(rtl.ready.begin(), rtl.ready.end());
    replicas_max =
        std::max(replicas_max, MaxOf(ready[r], views[r].begin, views[r].end));
  }
  if (!several) {
    replicas_max =
        std::max(replicas_max, MaxOf(recommendation, mv.begin, mv.end));
  }
  Panel replicas = replicas_panel;
  replicas.y_max = PanelTop(replicas_max, 1.1);
  svg += YAxis(replicas, several ? "ready replicas" : "replicas", false);
  svg += XAxis(replicas, x, true);
  if (!several) {
    svg += Series(replicas, x, tl.time, ready[0], mv.buckets, kReadyColor, 1.5);
    svg += Series(replicas, x, tl.time, recommendation, mv.buckets,
                  kRecommendationColor, 1);
    svg += Legend(replicas, {"recommendation", "ready replicas"},
                  {kRecommendationColor, kReadyColor});
  } else {
    // The main policy last, on top.
    for (size_t r = views.size(); r-- > 0;) {
      svg += Series(replicas, x, views[r].result->timeline.time, ready[r],
                    views[r].buckets, views[r].color, 1.5,
                    absl::StrCat(" class=\"replicas policy-", r, "\""));
    }
    std::vector<std::string> policy_names;
    std::vector<std::string> policy_colors;
    for (const RunView& v : views) {
      policy_names.push_back(v.name);
      policy_colors.push_back(v.color);
    }
    svg += Legend(replicas, policy_names, policy_colors);
  }
  svg += Text((kLeft + kRight) / 2, height - 16, "middle",
              "hours since the start of the run");
  svg += "</svg>\n";
  return svg;
}

}  // namespace ballast::sim
