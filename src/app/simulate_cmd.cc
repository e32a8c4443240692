// `ballast simulate` and `ballast trace convert`: flag parsing, file I/O and
// printing around the pure ballast_sim library.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "ballast/config/config.h"
#include "ballast/engine/engine.h"
#include "ballast/sim/convert.h"
#include "ballast/sim/format.h"
#include "ballast/sim/report.h"
#include "ballast/sim/simulator.h"
#include "ballast/sim/trace.h"
#include "cli.h"

namespace ballast::app {
namespace {

namespace fs = std::filesystem;

int Failure(std::ostream& err, absl::string_view command,
            const absl::Status& status) {
  err << "ballast " << command << ": " << status.message() << "\n";
  return 1;
}

absl::Status WriteFile(const fs::path& path, absl::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    return absl::UnavailableError(
        absl::StrCat(path.string(), ": cannot write"));
  }
  return absl::OkStatus();
}

// A directory name for a target (names are DNS-like, but never trust them).
std::string SafeName(absl::string_view name) {
  std::string out;
  for (const char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                    c == '_' || c == '.';
    out.push_back(ok ? c : '_');
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

// Writes the three files of one run into `dir` (the timeline's rows in
// `window`); returns their paths.
absl::StatusOr<std::vector<std::string>> WriteRun(const sim::SimResult& r,
                                                  const fs::path& dir,
                                                  const sim::TimeWindow& window,
                                                  absl::string_view json,
                                                  absl::string_view svg_text) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(dir.string(), ": cannot create: ", ec.message()));
  }
  const fs::path csv = dir / "timeline.csv";
  {
    std::ofstream out(csv, std::ios::binary | std::ios::trunc);
    sim::WriteTimelineCsv(r.timeline, out, window);
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat(csv.string(), ": cannot write"));
    }
  }
  const fs::path json_path = dir / "summary.json";
  const fs::path svg = dir / "timeline.svg";
  if (absl::Status s = WriteFile(json_path, json); !s.ok()) return s;
  if (absl::Status s = WriteFile(svg, svg_text); !s.ok()) return s;
  return std::vector<std::string>{csv.string(), json_path.string(),
                                  svg.string()};
}

// The rows of the printed table: label and value of a run's figures.
using Rows = std::vector<std::pair<std::string, double>>;

Rows TableRows(const sim::Figures& f, const sim::Summary* whole) {
  Rows rows = {
      {"replica-hours", f.replica_seconds / 3600},
      {"mean replicas", f.mean_replicas},
      {"max replicas", f.max_replicas},
      {"scale events", static_cast<double>(f.scale_events)},
      {"scale-ups", static_cast<double>(f.scale_ups)},
      {"scale-downs", static_cast<double>(f.scale_downs)},
      {"SLO violation minutes", f.slo_violation_seconds / 60},
  };
  for (const sim::PerReplicaLoad& l : f.per_replica_load) {
    rows.push_back({absl::StrCat(l.input, "/replica p50"), l.p50});
    rows.push_back({absl::StrCat(l.input, "/replica p99"), l.p99});
  }
  if (whole && whole->queue) {
    rows.push_back({"mean job wait s", whole->queue->mean_job_wait_seconds});
    rows.push_back({"max job wait s", whole->queue->max_job_wait_seconds});
  }
  return rows;
}

// One policy in the table.
struct Column {
  std::string name;
  const sim::Summary* summary;
};

// The policies in columns, each followed by its ratio to the baseline (the
// last column, when `has_baseline`); `window` picks the window's figures.
void PrintRows(const std::vector<Column>& columns, bool has_baseline,
               bool window, std::ostream& out) {
  std::vector<Rows> rows;
  Rows labels;  // every label once, in order
  for (const Column& c : columns) {
    const sim::Figures& f =
        window ? static_cast<const sim::Figures&>(*c.summary->window)
               : *c.summary;
    rows.push_back(TableRows(f, window ? nullptr : c.summary));
    for (const auto& row : rows.back()) {
      if (std::find_if(labels.begin(), labels.end(), [&](const auto& l) {
            return l.first == row.first;
          }) == labels.end()) {
        labels.push_back(row);
      }
    }
  }
  const auto find = [](const Rows& r,
                       const std::string& label) -> std::optional<double> {
    for (const auto& [l, v] : r) {
      if (l == label) return v;
    }
    return std::nullopt;
  };
  const auto cell = [](std::optional<double> v) {
    return v ? absl::StrFormat(" %12.2f", *v) : absl::StrFormat(" %12s", "-");
  };
  const std::string baseline_name = columns.back().name;
  out << absl::StrFormat("  %-24s", "");
  for (size_t c = 0; c < columns.size(); ++c) {
    out << absl::StrFormat(" %12s", columns[c].name);
    if (has_baseline && c + 1 < columns.size()) {
      out << absl::StrFormat(" %7s", "/" + baseline_name);
    }
  }
  out << "\n";
  for (const auto& [label, unused] : labels) {
    out << absl::StrFormat("  %-24s", label);
    const std::optional<double> base =
        has_baseline ? find(rows.back(), label) : std::nullopt;
    for (size_t c = 0; c < columns.size(); ++c) {
      const std::optional<double> v = find(rows[c], label);
      out << cell(v);
      if (has_baseline && c + 1 < columns.size()) {
        const std::optional<double> ratio =
            v && base ? sim::Ratio(*v, *base) : std::nullopt;
        out << (ratio ? absl::StrFormat(" %7.2f", *ratio)
                      : absl::StrFormat(" %7s", "-"));
      }
    }
    out << "\n";
  }
}

void PrintTable(const std::vector<Column>& columns, bool has_baseline,
                std::ostream& out) {
  const sim::Summary& main = *columns[0].summary;
  out << absl::StrFormat("target %s: %d ticks over %.2f h (%s loop)\n",
                         main.target, main.ticks, main.duration_seconds / 3600,
                         main.closed_loop ? "closed" : "open");
  for (const Column& c : columns) {
    if (columns.size() > 1 && !c.summary->policy.empty()) {
      out << absl::StrFormat("  %s = %s\n", c.name, c.summary->policy);
    }
  }
  PrintRows(columns, has_baseline, false, out);
  if (main.window) {
    out << absl::StrFormat(
        "window: hours %s to %s (seconds %s to %s), %d ticks\n",
        sim::FormatNumber(main.window->from_seconds / 3600),
        sim::FormatNumber(main.window->to_seconds / 3600),
        sim::FormatNumber(main.window->from_seconds),
        sim::FormatNumber(main.window->to_seconds), main.window->ticks);
    PrintRows(columns, has_baseline, true, out);
  }
}

// A trace time for messages: seconds, plus RFC 3339 when it looks absolute.
std::string TimeText(double t) {
  constexpr double kYear1973 = 1e8;
  return t >= kYear1973
             ? absl::StrCat(sim::FormatNumber(t), " = ", sim::FormatRfc3339(t))
             : sim::FormatNumber(t);
}

struct SimulateFlags {
  std::string config;
  std::string trace;
  std::optional<std::string> out_dir;
  std::optional<std::string> target;
  std::string baseline;  // "hpa" or empty
  std::optional<std::string> compare;
  std::optional<std::string> compare_target;
  std::optional<std::string> from;  // as given; resolved on the trace
  std::optional<std::string> to;
  std::optional<double> pod_startup_seconds;
  std::optional<int32_t> worker_concurrency;
  sim::SimOptions options;
};

// --from/--to: seconds since the run's start, a duration, or an RFC 3339
// time (made relative to `run_start`). Usage error text in `error`.
std::optional<double> WindowBound(absl::string_view flag,
                                  const std::optional<std::string>& text,
                                  double run_start, std::string& error) {
  if (!text) return std::nullopt;
  if (std::optional<double> d = sim::ParseDuration(*text)) return d;
  const std::optional<double> t = sim::ParseTraceTime(*text);
  if (!t || sim::ParseNumber(*text)) {
    error = absl::StrCat("--", flag, ": '", *text,
                         "' is not seconds, a duration (36h, 2d, 1d12h) or "
                         "an RFC 3339 time");
    return std::nullopt;
  }
  if (*t < run_start) {
    error =
        absl::StrCat("--", flag, ": ", *text, " is before the run's start (",
                     TimeText(run_start), ")");
    return std::nullopt;
  }
  return *t - run_start;
}

// The targets to run: the one named, or all those the trace covers (a note
// on `err` for each skipped one). Usage error text if none can run.
std::string PickTargets(const config::Config& config, const sim::Trace& trace,
                        const std::optional<std::string>& only,
                        std::vector<const TargetSpec*>& picked,
                        std::ostream& err) {
  std::vector<std::string> reasons;
  std::vector<std::string> names;
  for (const config::TargetConfig& t : config.targets) {
    names.push_back(t.spec.name);
    if (only && t.spec.name != *only) continue;
    const absl::Status covered = sim::CheckTraceCovers(t.spec, trace);
    if (covered.ok()) {
      picked.push_back(&t.spec);
    } else if (only) {
      return std::string(covered.message());
    } else {
      err << "note: skipping " << covered.message() << "\n";
      reasons.emplace_back(covered.message());
    }
  }
  if (only && picked.empty()) {
    return absl::StrCat("--target: no target '", *only, "' in the config (",
                        absl::StrJoin(names, ", "), ")");
  }
  if (picked.empty()) {
    return absl::StrCat("the trace covers no target of the config: ",
                        absl::StrJoin(reasons, "; "));
  }
  return "";
}

// The target of the --compare config to run beside `spec`.
absl::StatusOr<const TargetSpec*> CompareSpec(const config::Config& compare,
                                              const SimulateFlags& f,
                                              const TargetSpec& spec,
                                              const sim::Trace& trace) {
  const std::string name = f.compare_target.value_or(spec.name);
  std::vector<std::string> names;
  for (const config::TargetConfig& t : compare.targets) {
    if (t.spec.name == name) {
      if (absl::Status s = sim::CheckTraceCovers(t.spec, trace); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("--compare ", *f.compare, ": ", s.message()));
      }
      return &t.spec;
    }
    names.push_back(t.spec.name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "--compare ", *f.compare, ": no target '", name, "' (",
      absl::StrJoin(names, ", "), ")",
      f.compare_target ? "" : "; pick one with --compare-target NAME"));
}

int Simulate(SimulateFlags f, const Invocation& call) {
  constexpr absl::string_view kCmd = "simulate";
  std::ostream& out = call.out;
  std::ostream& err = call.err;
  if (f.compare && f.compare->empty()) {
    return call.UsageError("--compare: needs a file");
  }
  if (f.compare_target && !f.compare) {
    return call.UsageError("--compare-target needs --compare FILE");
  }
  const fs::path out_dir = f.out_dir.value_or("simulate-out");
  f.options.pod_startup_seconds = f.pod_startup_seconds.value_or(30);
  f.options.worker_concurrency = f.worker_concurrency.value_or(1);

  absl::StatusOr<config::Config> config = config::LoadConfigFile(f.config);
  if (!config.ok()) return Failure(err, kCmd, config.status());
  for (const config::ConfigError& w : config->warnings) {
    err << "warning: " << w.ToString() << "\n";
  }
  std::optional<config::Config> compare;
  if (f.compare) {
    absl::StatusOr<config::Config> c = config::LoadConfigFile(*f.compare);
    if (!c.ok()) return Failure(err, kCmd, c.status());
    for (const config::ConfigError& w : c->warnings) {
      err << "warning: " << w.ToString() << "\n";
    }
    compare = *std::move(c);
  }
  absl::StatusOr<sim::Trace> trace = sim::LoadTraceFile(f.trace);
  if (!trace.ok()) return Failure(err, kCmd, trace.status());
  if (f.options.start && (*f.options.start < trace->times.front() ||
                          *f.options.start > trace->times.back())) {
    return call.UsageError(absl::StrCat("--start is outside the trace (",
                                        TimeText(trace->times.front()), " to ",
                                        TimeText(trace->times.back()), ")"));
  }
  // The window, in seconds since the run's start.
  const double run_start = f.options.start.value_or(trace->times.front());
  const double run_seconds =
      f.options.duration_seconds.value_or(trace->times.back() - run_start);
  std::string window_error;
  f.options.window_from = WindowBound("from", f.from, run_start, window_error);
  f.options.window_to = WindowBound("to", f.to, run_start, window_error);
  const std::optional<double>& from = f.options.window_from;
  const std::optional<double>& to = f.options.window_to;
  if (window_error.empty() && from && to && !(*from < *to)) {
    window_error = "--to must be after --from";
  }
  if (window_error.empty() && to && !(*to > 0)) {
    window_error = "--to must be after the run's start";
  }
  if (window_error.empty() && from && !(*from < run_seconds)) {
    window_error = absl::StrCat("--from is at or after the end of the run (",
                                sim::FormatNumber(run_seconds / 3600), " h)");
  }
  if (!window_error.empty()) return call.UsageError(window_error);
  const sim::TimeWindow window{from, to};

  std::vector<const TargetSpec*> targets;
  if (std::string e = PickTargets(*config, *trace, f.target, targets, err);
      !e.empty()) {
    return call.UsageError(e);
  }
  if (f.compare_target && targets.size() > 1) {
    return call.UsageError(
        "--compare-target needs a single target: pick it with "
        "--target NAME");
  }
  f.options.poll_interval_seconds = config->server.poll_interval_seconds;

  std::vector<std::string> written;
  const auto write = [&](const sim::SimResult& r, const fs::path& dir,
                         const std::string& json,
                         const std::string& svg) -> absl::Status {
    absl::StatusOr<std::vector<std::string>> files =
        WriteRun(r, dir, window, json, svg);
    if (!files.ok()) return files.status();
    written.insert(written.end(), files->begin(), files->end());
    return absl::OkStatus();
  };
  const sim::SvgOptions svg_options{.window = window};
  for (const TargetSpec* spec : targets) {
    const fs::path dir =
        targets.size() == 1 ? out_dir : out_dir / SafeName(spec->name);
    // Every policy is measured by this config's inputs (SLOs, load).
    sim::SimOptions options = f.options;
    options.measure_inputs = spec->inputs;
    absl::StatusOr<sim::SimResult> result =
        sim::Simulate(*spec, *trace, options);
    if (!result.ok()) return Failure(err, kCmd, result.status());
    result->summary.policy = f.config;

    std::optional<sim::SimResult> other;
    if (compare) {
      absl::StatusOr<const TargetSpec*> other_spec =
          CompareSpec(*compare, f, *spec, *trace);
      if (!other_spec.ok()) {
        return call.UsageError(other_spec.status().message());
      }
      sim::SimOptions other_options = options;
      other_options.poll_interval_seconds =
          compare->server.poll_interval_seconds;
      absl::StatusOr<sim::SimResult> r =
          sim::Simulate(**other_spec, *trace, other_options);
      if (!r.ok()) return Failure(err, kCmd, r.status());
      r->summary.policy = *f.compare;
      other = *std::move(r);
    }
    std::optional<sim::SimResult> hpa;
    if (!f.baseline.empty()) {
      absl::StatusOr<sim::SimResult> r =
          sim::Simulate(engine::PlainHpaSpec(*spec), *trace, options);
      if (!r.ok()) return Failure(err, kCmd, r.status());
      r->summary.target = spec->name + " (plain HPA baseline)";
      r->summary.policy =
          "plain Kubernetes HPA defaults (mode hpa, no behavior)";
      hpa = *std::move(r);
    }

    const sim::Summary* baseline = hpa ? &hpa->summary : nullptr;
    std::vector<sim::PolicyBlock> blocks;
    std::vector<sim::NamedRun> runs = {
        {absl::StrCat("ballast (", f.config, ")"), "", &*result}};
    std::vector<Column> columns = {{"ballast", &result->summary}};
    if (other) {
      blocks.push_back({"compare", &other->summary});
      runs.push_back(
          {absl::StrCat("compare (", *f.compare, ")"), "#9467bd", &*other});
      columns.push_back({"compare", &other->summary});
      if (absl::Status s =
              write(*other, dir / "compare",
                    sim::SummaryJson(other->summary, {}, baseline),
                    sim::TimelineSvg({{"compare", "", &*other}}, svg_options));
          !s.ok()) {
        return Failure(err, kCmd, s);
      }
    }
    if (hpa) {
      blocks.push_back({"baseline_hpa", &hpa->summary});
      runs.push_back({"plain HPA", "#7f7f7f", &*hpa});
      columns.push_back({"hpa", &hpa->summary});
      if (absl::Status s =
              write(*hpa, dir / "baseline-hpa", sim::SummaryJson(hpa->summary),
                    sim::TimelineSvg({{"hpa", "", &*hpa}}, svg_options));
          !s.ok()) {
        return Failure(err, kCmd, s);
      }
    }
    if (absl::Status s = write(
            *result, dir, sim::SummaryJson(result->summary, blocks, baseline),
            sim::TimelineSvg(runs, svg_options));
        !s.ok()) {
      return Failure(err, kCmd, s);
    }
    PrintTable(columns, hpa.has_value(), out);
  }
  for (const std::string& path : written) out << "wrote " << path << "\n";
  return 0;
}

struct TraceFlags {
  std::string format;
  std::string in;
  std::string out;
  std::optional<double> from;
  std::optional<double> to;
  std::optional<double> scale;
  std::optional<double> bucket_seconds;
  std::optional<double> base_seconds;
  std::optional<double> seconds_per_context_token;
  std::optional<double> seconds_per_generated_token;
};

int ConvertTrace(const TraceFlags& f, const Invocation& call) {
  constexpr absl::string_view kCmd = "trace convert";
  std::ostream& out = call.out;
  std::ostream& err = call.err;
  const bool worldcup = f.format == "worldcup98";
  const std::vector<std::pair<absl::string_view, bool>> other_format_flags =
      worldcup
          ? std::vector<
                std::pair<absl::string_view,
                          bool>>{{"bucket-seconds",
                                  f.bucket_seconds.has_value()},
                                 {"base-seconds", f.base_seconds.has_value()},
                                 {"seconds-per-context-token",
                                  f.seconds_per_context_token.has_value()},
                                 {"seconds-per-generated-token",
                                  f.seconds_per_generated_token.has_value()}}
          : std::vector<std::pair<absl::string_view, bool>>{
                {"scale", f.scale.has_value()}};
  for (const auto& [name, given] : other_format_flags) {
    if (given) {
      return call.UsageError(
          absl::StrCat("--", name, " does not apply to --format ", f.format));
    }
  }
  const sim::TimeRange range{f.from, f.to};
  if (range.from && range.to && *range.to <= *range.from) {
    return call.UsageError("--to must be after --from");
  }
  const sim::WorldCupOptions wc{.scale = f.scale.value_or(1), .range = range};
  sim::AzureLlmOptions az;
  az.bucket_seconds = f.bucket_seconds.value_or(1);
  az.base_seconds = f.base_seconds.value_or(0.5);
  az.seconds_per_context_token = f.seconds_per_context_token.value_or(0.0005);
  az.seconds_per_generated_token = f.seconds_per_generated_token.value_or(0.02);
  az.range = range;
  const std::string& in_path = f.in;
  const std::string& out_path = f.out;

  absl::StatusOr<std::string> text = sim::ReadFileToString(in_path);
  if (!text.ok()) return Failure(err, kCmd, text.status());
  std::ostringstream converted;
  absl::StatusOr<int64_t> rows =
      worldcup ? sim::ConvertWorldCup98(*text, in_path, wc, converted)
               : sim::ConvertAzureLlm(*text, in_path, az, converted);
  if (!rows.ok()) return Failure(err, kCmd, rows.status());
  if (out_path == "-") {
    out << converted.str();
    return 0;
  }
  if (absl::Status s = WriteFile(out_path, converted.str()); !s.ok()) {
    return Failure(err, kCmd, s);
  }
  out << "wrote " << *rows << " rows to " << out_path << "\n";
  return 0;
}

}  // namespace

void AddSimulateCommand(Cli& cli) {
  auto f = std::make_shared<SimulateFlags>();
  CLI::App* cmd = cli.AddCommand(
      "simulate", "replay a load trace through the engine",
      R"(Replays a load trace through the engine, as the daemon would poll it, and
writes timeline.csv, summary.json and timeline.svg per target: replica-
and scale-up/down counts, SLO-violation time, per-replica load p50/p99, and
with --baseline/--compare every policy side by side (the picture on the same
axes, the table with each policy's ratio to the HPA baseline).)",
      [f](const Invocation& call) { return Simulate(*f, call); });
  AddRequired(cmd, "--config", &f->config, "FILE",
              "policy config (all targets the trace covers run)");
  AddRequired(cmd, "--trace", &f->trace, "FILE.csv",
              "header time,<input>...[,current_replicas]\n"
              "[,arrivals,work_seconds]; time in seconds or\n"
              "RFC 3339 (or YYYY-MM-DD HH:MM:SS, UTC)");
  AddString(cmd, "--out", &f->out_dir, "DIR",
            "output directory (default ./simulate-out); with\n"
            "several targets each writes DIR/<target>/");
  AddString(cmd, "--target", &f->target, "NAME", "run only this target");
  AddChoice(cmd, "--baseline", &f->baseline, {"hpa"},
            "also run plain Kubernetes HPA defaults (mode\n"
            "hpa, no behavior) on the same inputs; outputs\n"
            "in <dir>/baseline-hpa/");
  AddString(cmd, "--compare", &f->compare, "FILE",
            "also run the same target of a second policy\n"
            "config on the same trace, side by side; outputs\n"
            "in <dir>/compare/; all policies are judged by\n"
            "--config's SLOs");
  AddString(cmd, "--compare-target", &f->compare_target, "NAME",
            "the target of --compare FILE to run (default:\n"
            "the same name; needs a single target)");
  AddString(cmd, "--from", &f->from, "T",
            "start of the part of the run to show:\n"
            "timeline.csv rows and the picture cover\n"
            "[from, to) only, and summary.json adds a\n"
            "\"window\" block beside the whole run's figures;\n"
            "T is seconds since the run's start (5400), a\n"
            "duration (90m, 36h, 2d, 1d12h) or an RFC 3339\n"
            "time");
  AddString(cmd, "--to", &f->to, "T",
            "end of the part of the run to show; T as for\n"
            "--from");
  AddNumber(cmd, "--pod-startup-seconds", &f->pod_startup_seconds, 0, false,
            "N", "time before a new pod is ready (default 30)");
  AddWholeNumber(cmd, "--worker-concurrency", &f->worker_concurrency, 1,
                 "queue slots per ready replica (default 1)");
  AddWholeNumber(cmd, "--initial-replicas", &f->options.initial_replicas, 0,
                 "closed loop: replicas at the start (default\n"
                 "currentReplicas.static, else minReplicas), the\n"
                 "count the first tick observes, as if ballast\n"
                 "restarted with the fleet at N: the windows hold\n"
                 "it as the HPA's first sync does (a scale-down\n"
                 "waits out its window); may lie outside\n"
                 "[minReplicas, maxReplicas]");
  AddTime(cmd, "--start", &f->options.start,
          "trace time of the first tick (default: first row)");
  AddNumber(cmd, "--duration", &f->options.duration_seconds, 0, true, "SECONDS",
            "length of the run (default: to the last row)");
}

void AddTraceCommand(Cli& cli) {
  CLI::App* trace =
      cli.AddCommand("trace", "convert public traces for simulate", "",
                     [](const Invocation& call) {
                       return call.UsageError("expected 'convert'");
                     });
  auto f = std::make_shared<TraceFlags>();
  CLI::App* cmd = cli.AddCommand(
      "convert", "turn a public trace into simulate's CSV format",
      R"(Turns a shipped public trace into simulate's CSV (--out - writes to stdout):
  worldcup98 (period,count per minute) -> time,rps
  azure-llm (TIMESTAMP,ContextTokens,GeneratedTokens)
      -> time,arrivals,work_seconds)",
      [f](const Invocation& call) { return ConvertTrace(*f, call); }, trace);
  AddChoice(cmd, "--format", &f->format, {"worldcup98", "azure-llm"},
            "the trace's format")
      ->required();
  AddRequired(cmd, "--in", &f->in, "FILE", "the trace as shipped");
  AddRequired(cmd, "--out", &f->out, "FILE", "simulate's CSV, or - for stdout");
  AddTime(cmd, "--from", &f->from, "keep from <= time (RFC 3339)");
  AddTime(cmd, "--to", &f->to, "keep time < to (RFC 3339)");
  AddNumber(cmd, "--scale", &f->scale, 0, true, "F",
            "worldcup98: multiply the rate (default 1)");
  AddNumber(cmd, "--bucket-seconds", &f->bucket_seconds, 0, true, "N",
            "azure-llm: bucket size (default 1); at most\n"
            "1,000,000 buckets from the first request (a\n"
            "longer span is refused: select --from/--to)");
  AddNumber(cmd, "--base-seconds", &f->base_seconds, 0, false, "S",
            "azure-llm: service time per job (default 0.5)");
  AddNumber(cmd, "--seconds-per-context-token", &f->seconds_per_context_token,
            0, false, "S", "azure-llm: (default 0.0005)");
  AddNumber(cmd, "--seconds-per-generated-token",
            &f->seconds_per_generated_token, 0, false, "S",
            "azure-llm: (default 0.02)");
}

}  // namespace ballast::app
