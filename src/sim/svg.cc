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
  StepPath(const Panel& panel, double x_scale) : panel_(panel), xs_(x_scale) {}

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
      const double x = kLeft + time[b.begin] * xs_;
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
  void HoldTo(double t) {
    if (pen_down_) Point('L', kLeft + t * xs_, last_y_);
  }
  void Point(char op, double x, double y) {
    if (op == 'L' && x == last_x_ && y == last_y_) return;
    absl::StrAppendFormat(&d_, "%c%.1f %.1f", op, x, y);
    last_x_ = x;
    last_y_ = y;
  }

  const Panel& panel_;
  double xs_;
  std::string d_;
  bool pen_down_ = false;
  double last_x_ = -1;
  double last_y_ = -1;
};

// One series as a <path> element.
std::string Series(const Panel& panel, double x_scale,
                   const std::vector<double>& time,
                   const std::vector<double>& values,
                   const std::vector<Bucket>& buckets, double end_time,
                   absl::string_view color, double width) {
  return absl::StrFormat(
      "<path fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\" d=\"%s\"/>\n",
      color, width,
      StepPath(panel, x_scale).Build(time, values, buckets, end_time));
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

std::string XAxis(const Panel& p, double duration, double x_scale,
                  bool labels) {
  std::string out = Line(kLeft, p.bottom, kRight, p.bottom, "stroke=\"#333\"");
  const double hours = duration / 3600;
  double step = 1.0 / 60;
  for (const double s : {1.0 / 60, 5.0 / 60, 0.25, 0.5, 1.0, 2.0, 3.0, 6.0,
                         12.0, 24.0, 48.0, 168.0, 336.0, 720.0}) {
    step = s;
    if (hours / s <= 14) break;
  }
  // Past 14 x 30 days (the simulator allows up to 1e8 ticks), whole
  // multiples of 720 h: still at most 15 lines.
  if (hours / step > 14) step = 720 * std::ceil(hours / 14 / 720);
  for (int i = 0; i <= 15; ++i) {
    const double h = i * step;
    if (h > hours * 1.0001) break;
    const double x = kLeft + h * 3600 * x_scale;
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

std::string Legend(const Panel& p, const std::vector<std::string>& names,
                   const std::vector<std::string>& colors) {
  std::string out = absl::StrFormat(
      "<rect x=\"%.1f\" y=\"%.1f\" width=\"250\" height=\"%.1f\" "
      "fill=\"white\" fill-opacity=\"0.85\"/>\n",
      kRight - 246, p.top + 2, 16.0 * static_cast<double>(names.size()) + 4);
  double y = p.top + 14;
  for (size_t i = 0; i < names.size(); ++i, y += 16) {
    out += Line(kRight - 240, y - 4, kRight - 220, y - 4,
                absl::StrCat("stroke=\"", colors[i], "\" stroke-width=\"2\""));
    out += Text(kRight - 214, y, "start", names[i]);
  }
  return out;
}

// The largest finite value (0 if none is above 0).
double MaxOf(const std::vector<double>& v) {
  double m = 0;
  for (const double x : v) {
    if (std::isfinite(x)) m = std::max(m, x);
  }
  return m;
}

}  // namespace

std::string TimelineSvg(const SimResult& result, size_t max_points) {
  const Timeline& tl = result.timeline;
  const Summary& s = result.summary;
  const double duration = std::max(s.duration_seconds, 1.0);
  const double x_scale = (kRight - kLeft) / duration;
  const std::vector<Bucket> buckets = Buckets(tl.time.size(), max_points);

  std::string svg = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
      "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
      "fill=\"white\"/>\n",
      kWidth, kHeight, kWidth, kHeight, kWidth, kHeight);
  svg += Text(kLeft, 24, "start", absl::StrCat("ballast simulate: ", s.target),
              " font-size=\"18\" font-weight=\"bold\"");
  svg += Text(
      kLeft, 44, "start",
      absl::StrFormat("replica-hours %.1f · mean replicas %.2f · max "
                      "replicas %d · scale events %d · SLO violated %.1f min "
                      "· %.1f h, %d ticks",
                      s.replica_seconds / 3600, s.mean_replicas, s.max_replicas,
                      s.scale_events, s.slo_violation_seconds / 60,
                      s.duration_seconds / 3600, s.ticks));

  // Load: one input on its own scale; several normalised to their peaks.
  const bool normalise = tl.inputs.size() > 1;
  double load_max = 0;
  std::vector<std::string> names;
  std::vector<std::string> colors;
  std::vector<std::vector<double>> series;
  for (size_t i = 0; i < tl.inputs.size(); ++i) {
    const double peak = MaxOf(tl.input_values[i]);
    std::vector<double> v = tl.input_values[i];
    if (normalise) {
      // x / peak <= 1 for finite x; an infinite x is a gap, like NaN.
      for (double& x : v) {
        x = std::isinf(x) ? std::nan("") : peak > 0 ? x / peak * 100 : 0;
      }
    }
    load_max = std::max(load_max, MaxOf(v));
    names.push_back(absl::StrFormat("%s (peak %.4g)", tl.inputs[i], peak));
    colors.push_back(kInputColors[i % std::size(kInputColors)]);
    series.push_back(std::move(v));
  }
  const Panel load{70, 320, PanelTop(load_max, 1.05)};
  svg += YAxis(load,
               normalise ? "load, % of each input's peak"
                         : (tl.inputs.empty() ? "load" : tl.inputs[0]),
               normalise);
  svg += XAxis(load, duration, x_scale, false);
  for (size_t i = 0; i < series.size(); ++i) {
    svg += Series(load, x_scale, tl.time, series[i], buckets, duration,
                  colors[i], 1);
  }
  svg += Legend(load, names, colors);

  // Replicas.
  const std::vector<double> recommendation(tl.recommendation.begin(),
                                           tl.recommendation.end());
  const std::vector<double> ready(tl.ready.begin(), tl.ready.end());
  const double replicas_max =
      std::max({MaxOf(recommendation), MaxOf(ready), 1.0});
  const Panel replicas{350, 600, PanelTop(replicas_max, 1.1)};
  svg += YAxis(replicas, "replicas", false);
  svg += XAxis(replicas, duration, x_scale, true);
  svg += Series(replicas, x_scale, tl.time, ready, buckets, duration,
                kReadyColor, 1.5);
  svg += Series(replicas, x_scale, tl.time, recommendation, buckets, duration,
                kRecommendationColor, 1);
  svg += Legend(replicas, {"recommendation", "ready replicas"},
                {kRecommendationColor, kReadyColor});
  svg += Text((kLeft + kRight) / 2, kHeight - 16, "middle",
              "hours since the start of the run");
  svg += "</svg>\n";
  return svg;
}

}  // namespace ballast::sim
