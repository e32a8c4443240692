#include "ballast/sim/report.h"

#include <cmath>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::sim {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

SimResult TwoTicks() {
  SimResult r;
  r.summary.target = "tts-api";
  r.summary.ticks = 2;
  r.summary.duration_seconds = 15;
  r.summary.replica_seconds = 45;
  r.summary.mean_replicas = 3;
  r.summary.scale_events = 1;
  r.summary.slo_violation_seconds = 15;
  r.summary.max_replicas = 3;
  Timeline& tl = r.timeline;
  tl.inputs = {"rps", "latency"};
  tl.time = {0, 15};
  tl.input_values = {{120.5, 90}, {std::nan(""), 0.25}};
  tl.proposals = {{3, 2}, {-1, 1}};
  tl.desired = {3, 2};
  tl.recommendation = {3, 3};
  tl.ready = {1, 3};
  tl.limited_by = {engine::Limit::kNone,
                   engine::Limit::kScaleDownStabilization};
  return r;
}

TEST(WriteTimelineCsv, WritesHeaderAndOneRowPerTickWithEmptyMissingCells) {
  std::ostringstream out;
  WriteTimelineCsv(TwoTicks().timeline, out);
  const std::vector<std::string> lines =
      absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0],
            "time,rps,latency,proposal_rps,proposal_latency,desired,"
            "recommendation,replicas,limited_by");
  EXPECT_EQ(lines[1],
            absl::StrCat("0,120.5,,3,,3,3,1,",
                         std::string(engine::LimitName(engine::Limit::kNone))));
  EXPECT_EQ(lines[2],
            absl::StrCat("15,90,0.25,2,1,2,3,3,",
                         std::string(engine::LimitName(
                             engine::Limit::kScaleDownStabilization))));
}

TEST(SummaryJson, HasTheRequiredKeysAndValues) {
  SimResult r = TwoTicks();
  r.summary.queue = QueueSummary{.jobs_arrived = 7};
  const std::string json = SummaryJson(r.summary);
  EXPECT_THAT(json, HasSubstr("\"target\": \"tts-api\""));
  EXPECT_THAT(json, HasSubstr("\"replica_seconds\": 45,"));
  EXPECT_THAT(json, HasSubstr("\"scale_events\": 1,"));
  EXPECT_THAT(json, HasSubstr("\"slo_violation_seconds\": 15,"));
  EXPECT_THAT(json, HasSubstr("\"max_replicas\": 3,"));
  EXPECT_THAT(json, HasSubstr("\"jobs_arrived\": 7"));
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
}

TEST(SummaryJson, EscapesTheTargetName) {
  Summary s;
  s.target = "a\"b\\c";
  EXPECT_THAT(SummaryJson(s), HasSubstr(R"("target": "a\"b\\c")"));
}

TEST(TimelineSvg, IsACompleteSvgWithTitleLegendAndAxes) {
  const std::string svg = TimelineSvg(TwoTicks());
  EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_THAT(svg, HasSubstr("tts-api"));
  EXPECT_THAT(svg, HasSubstr("recommendation"));
  EXPECT_THAT(svg, HasSubstr("ready replicas"));
  EXPECT_THAT(svg, HasSubstr("rps (peak 120.5)"));
  EXPECT_THAT(svg, HasSubstr("scale events 1"));
  // Two inputs and two replica lines.
  size_t paths = 0;
  for (size_t p = svg.find("<path"); p != std::string::npos;
       p = svg.find("<path", p + 1)) {
    ++paths;
  }
  EXPECT_EQ(paths, 4u);
}

TEST(TimelineSvg, EscapesMarkupInNames) {
  SimResult r = TwoTicks();
  r.summary.target = "a<b&c";
  const std::string svg = TimelineSvg(r);
  EXPECT_THAT(svg, HasSubstr("a&lt;b&amp;c"));
  EXPECT_THAT(svg, Not(HasSubstr("a<b")));
}

// A long run of `target`: `ticks` ticks `step` seconds apart, one input
// "rps" reading rps(k) at tick k, one replica proposed, desired and
// recommended, ready(k) ready.
SimResult LongRun(const std::string& target, int ticks, double step,
                  const std::function<double(int)>& rps,
                  const std::function<int32_t(int)>& ready) {
  SimResult r;
  r.summary.target = target;
  r.summary.duration_seconds = step * (ticks - 1);
  Timeline& tl = r.timeline;
  tl.inputs = {"rps"};
  tl.input_values.resize(1);
  tl.proposals.resize(1);
  for (int k = 0; k < ticks; ++k) {
    tl.time.push_back(step * k);
    tl.input_values[0].push_back(rps(k));
    tl.proposals[0].push_back(1);
    tl.desired.push_back(1);
    tl.recommendation.push_back(1);
    tl.ready.push_back(ready(k));
    tl.limited_by.push_back(engine::Limit::kNone);
  }
  return r;
}

TEST(TimelineSvg, DownsamplingKeepsAPeakOfOneTick) {
  SimResult r = LongRun(
      "spiky", 10000, 15, [](int k) { return k == 4321 ? 1000 : 1; },
      [](int) { return 1; });
  const std::string svg = TimelineSvg(r, /*max_points=*/100);
  const size_t start = svg.find(" d=\"");
  const std::string load_path =
      svg.substr(start, svg.find('"', start + 4) - start);
  // The peak (1000 of a 1050 scale over y 70..320) is drawn at y 81.9.
  EXPECT_THAT(load_path, HasSubstr(" 81.9"));
  // At most a handful of points per bucket, not one per tick.
  EXPECT_LT(std::count(load_path.begin(), load_path.end(), 'L'), 500);
}

// A run of one tick per value of each input, 15 s apart.
SimResult RunOf(std::vector<std::vector<double>> inputs) {
  SimResult r;
  r.summary.target = "extreme";
  Timeline& tl = r.timeline;
  const size_t n = inputs[0].size();
  r.summary.duration_seconds = 15.0 * static_cast<double>(n);
  for (size_t i = 0; i < inputs.size(); ++i) {
    tl.inputs.push_back("in" + std::to_string(i));
    tl.proposals.emplace_back(n, 1);
  }
  tl.input_values = std::move(inputs);
  for (size_t k = 0; k < n; ++k) {
    tl.time.push_back(15.0 * static_cast<double>(k));
    tl.desired.push_back(1);
    tl.recommendation.push_back(1);
    tl.ready.push_back(1);
    tl.limited_by.push_back(engine::Limit::kNone);
  }
  return r;
}

// The y-axis labels (text-anchor "end") of the load panel (y < 330), in
// order.
std::vector<std::string> LoadAxisLabels(const std::string& svg) {
  std::vector<std::string> labels;
  const std::string anchor = "text-anchor=\"end\">";
  for (size_t p = svg.find(anchor); p != std::string::npos;
       p = svg.find(anchor, p + 1)) {
    const size_t y = svg.rfind(" y=\"", p) + 4;
    if (std::stod(svg.substr(y, svg.find('"', y) - y)) > 330) continue;
    const size_t begin = p + anchor.size();
    labels.push_back(svg.substr(begin, svg.find('<', begin) - begin));
  }
  return labels;
}

// The y-axis stepped by an accumulated v += step: a step of inf (values
// near DBL_MAX) or 0 (subnormal values) never ended and grew the SVG until
// bad_alloc. Every finite value now gets a bounded axis, non-finite values
// are gaps, and no coordinate is inf or nan.
TEST(TimelineSvg, AxisIsBoundedForEveryFiniteValue) {
  constexpr double kMax = std::numeric_limits<double>::max();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const double kNan = std::nan("");
  struct Case {
    std::string name;
    std::vector<std::vector<double>> inputs;
    std::vector<std::string> want_labels;  // of the load panel
  };
  const std::vector<Case> cases = {
      {"NearDblMax", {{1, kMax}}, {"0", "5e+307", "1e+308", "1.5e+308"}},
      {"ScaledPastDblMax", {{1.75e308}}, {"0", "5e+307", "1e+308", "1.5e+308"}},
      {"Subnormal", {{0, 5e-324}}, {"0", "4.940656458e-324"}},
      // A fifth of the top is subnormal: just 0 and the top.
      {"SmallestNormal",
       {{2.2250738585072014e-308}},
       {"0", "2.336327551e-308"}},
      {"Tiny", {{1e-300}}, {"0", "2.5e-301", "5e-301", "7.5e-301", "1e-300"}},
      {"Ordinary", {{0, 42}}, {"0", "10", "20", "30", "40"}},
      // Only the finite values set the scale; +-Inf are gaps like NaN.
      {"InfinitiesAndNan", {{kInf, 3, -kInf, kNan}}, {"0", "1", "2", "3"}},
      {"NothingFinite", {{kInf, kNan}}, {"0", "0.2", "0.4", "0.6", "0.8", "1"}},
      {"NegativeHugeWithSubnormalPeak",
       {{-kMax, 5e-324}},
       {"0", "4.940656458e-324"}},
      // Normalised to % of each peak.
      {"TwoInputsAtTheExtremes",
       {{kMax, 1}, {5e-324, 0}},
       {"0%", "25%", "50%", "75%", "100%"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string svg = TimelineSvg(RunOf(c.inputs));
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
    EXPECT_LT(svg.size(), 20'000u);
    EXPECT_THAT(svg, Not(HasSubstr("inf")));
    EXPECT_THAT(svg, Not(HasSubstr("nan")));
    EXPECT_EQ(LoadAxisLabels(svg), c.want_labels);
  }
}

// The x-axis too steps a bounded number of times for the longest run the
// simulator allows (1e8 ticks of 15 s, 47 years).
TEST(TimelineSvg, TimeAxisIsBoundedForTheLongestRun) {
  SimResult r = RunOf({{1, 2}});
  r.summary.duration_seconds = 1.5e9;
  r.timeline.time = {0, 1.5e9};
  const std::string svg = TimelineSvg(r);
  size_t labels = 0;
  for (size_t p = svg.find("text-anchor=\"middle\">"); p != std::string::npos;
       p = svg.find("text-anchor=\"middle\">", p + 1)) {
    ++labels;
  }
  // 15 or fewer hour labels, the y titles and the x title.
  EXPECT_LE(labels, 15u + 3u);
  EXPECT_THAT(svg, HasSubstr(">0h<"));
  EXPECT_THAT(svg, HasSubstr(">30240h<"));  // 42 x 720 h, the second line
}

}  // namespace
}  // namespace ballast::sim

namespace ballast::sim {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos;
       p = text.find(what, p + 1)) {
    ++n;
  }
  return n;
}

TEST(SummaryJson, WritesScaleDirectionsLoadPercentilesAndTheWindow) {
  Summary s = TwoTicks().summary;
  s.scale_ups = 1;
  s.scale_downs = 0;
  s.per_replica_load = {{.input = "rps", .ticks = 2, .p50 = 30, .p99 = 45}};
  WindowFigures w;
  w.from_seconds = 15;
  w.to_seconds = 30;
  w.ticks = 1;
  w.replica_seconds = 45;
  w.per_replica_load = {{.input = "rps",
                         .ticks = 1,
                         .p50 = std::numeric_limits<double>::infinity(),
                         .p99 = std::numeric_limits<double>::infinity()}};
  s.window = w;
  const std::string json = SummaryJson(s);
  EXPECT_THAT(json, HasSubstr("\"replica_hours\": 0.0125,"));
  EXPECT_THAT(json, HasSubstr("\"scale_ups\": 1,"));
  EXPECT_THAT(json, HasSubstr("\"scale_downs\": 0,"));
  EXPECT_THAT(json, HasSubstr("\"rps\": {\n      \"ticks\": 2,\n      "
                              "\"p50\": 30,\n      \"p99\": 45\n    }"));
  EXPECT_THAT(json, HasSubstr("\"window\": {\n    \"from_seconds\": 15,\n"
                              "    \"to_seconds\": 30,\n    \"ticks\": 1,"));
  // An infinite per-replica load (no ready replica) is null.
  EXPECT_THAT(json, HasSubstr("\"p50\": null"));
  EXPECT_THAT(json, Not(HasSubstr("ratio_to_baseline")));
}

TEST(SummaryJson, HasABlockPerPolicyWithRatiosToTheBaseline) {
  Summary main = TwoTicks().summary;  // 45 replica-seconds, 1 scale event
  main.policy = "a.yaml";
  Summary other = main;
  other.policy = "b.yaml";
  other.replica_seconds = 90;
  Summary hpa = main;
  hpa.policy = "hpa";
  hpa.replica_seconds = 30;
  hpa.scale_events = 2;
  hpa.slo_violation_seconds = 0;
  const std::string json =
      SummaryJson(main, {{"compare", &other}, {"baseline_hpa", &hpa}}, &hpa);
  EXPECT_THAT(json, HasSubstr("\"policy\": \"a.yaml\""));
  EXPECT_THAT(json, HasSubstr("\"compare\": {\n    \"target\": \"tts-api\",\n"
                              "    \"policy\": \"b.yaml\""));
  EXPECT_THAT(json, HasSubstr("\"baseline_hpa\": {"));
  // Ratios: main 45 / 30, compare 90 / 30; none in the baseline's block.
  EXPECT_THAT(json, HasSubstr("\"replica_seconds\": 1.5,"));
  EXPECT_THAT(json, HasSubstr("\"replica_seconds\": 3,"));
  EXPECT_THAT(json, HasSubstr("\"scale_events\": 0.5,"));
  EXPECT_THAT(json, HasSubstr("\"slo_violation_seconds\": null,"));
  EXPECT_EQ(Count(json, "\"ratio_to_baseline\""), 2u);
  EXPECT_EQ(json.substr(json.size() - 2), "}\n");
}

TEST(WriteTimelineCsv, WindowKeepsTheRowsFromFromToBeforeTo) {
  SimResult r = RunOf({{1, 2, 3, 4, 5}});  // ticks at 0, 15, ..., 60
  std::ostringstream out;
  WriteTimelineCsv(r.timeline, out, TimeWindow{.from = 15, .to = 45});
  const std::vector<std::string> lines =
      absl::StrSplit(out.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[1].starts_with("15,2,")) << lines[1];
  EXPECT_TRUE(lines[2].starts_with("30,3,")) << lines[2];
}

TEST(TimelineSvg, DrawsEachPolicyOnTheSameAxesWithALegend) {
  SimResult a = RunOf({{10, 20, 30, 40}});
  SimResult b = a;
  b.timeline.ready = {2, 2, 3, 3};
  SimResult c = a;
  c.timeline.ready = {1, 4, 4, 1};
  a.summary.scale_ups = 7;
  const std::string svg = TimelineSvg({{"ballast (a.yaml)", "", &a},
                                       {"compare (b.yaml)", "#9467bd", &b},
                                       {"plain HPA", "#7f7f7f", &c}},
                                      SvgOptions{});
  EXPECT_EQ(Count(svg, "class=\"replicas policy-"), 3u);
  EXPECT_EQ(Count(svg, "<g class=\"legend\">"), 2u);  // load, replicas
  EXPECT_THAT(svg, HasSubstr(">ballast (a.yaml)<"));
  EXPECT_THAT(svg, HasSubstr(">compare (b.yaml)<"));
  EXPECT_THAT(svg, HasSubstr(">plain HPA<"));
  EXPECT_THAT(svg, HasSubstr("ballast (a.yaml): replica-hours"));
  EXPECT_THAT(svg, HasSubstr("scale-ups 7"));
  // The load is the same trace for all: drawn once.
  EXPECT_EQ(Count(svg, "<path"), 1u + 3u);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(TimelineSvg, AnotherRunsDifferentSignalIsDrawnDashed) {
  SimResult a = RunOf({{3, 0, 0}});
  a.timeline.inputs = {"backlog"};
  SimResult b = a;
  b.timeline.input_values = {{3, 2, 1}};
  const std::string svg =
      TimelineSvg({{"ballast", "", &a}, {"compare", "", &b}}, SvgOptions{});
  EXPECT_THAT(svg, HasSubstr("backlog (compare) (peak 3)"));
  EXPECT_EQ(Count(svg, "stroke-dasharray"), 2u);  // its path and legend line
}

TEST(TimelineSvg, WindowShowsOnlyItsHoursAndDecimatesToThePixels) {
  // Ten days at one tick a minute; the window is day 2 (24h to 48h).
  // A peak of 1000 on day 2 (at 30h), 5000 outside the window.
  SimResult r = LongRun(
      "long", 10 * 1440 + 1, 60,
      [](int k) { return k == 30 * 60 ? 1000
                         : k == 100   ? 5000
                                      : 1; },
      [](int k) { return k % 2 + 1; });
  const std::string svg =
      TimelineSvg({{"", "", &r}}, SvgOptions{.window = {86400, 2 * 86400}});
  EXPECT_THAT(svg, HasSubstr("(hours 24 to 48 of 240)"));
  EXPECT_THAT(svg, HasSubstr(">24h<"));
  EXPECT_THAT(svg, HasSubstr(">48h<"));
  EXPECT_THAT(svg, Not(HasSubstr(">50h<")));
  EXPECT_THAT(svg, HasSubstr("rps (peak 1000)"));  // 5000 is outside
  // 1441 ticks in the window, 1100 pixels: at most 4 points per pixel
  // column, so the SVG stays small.
  EXPECT_LT(svg.size(), 120'000u);
}

}  // namespace
}  // namespace ballast::sim
