// `ballast simulate` and `ballast trace convert`: flag parsing, file I/O and
// printing around the pure ballast_sim library.
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "app/flags.h"
#include "ballast/app/commands.h"
#include "ballast/config/config.h"
#include "ballast/engine/engine.h"
#include "ballast/sim/convert.h"
#include "ballast/sim/format.h"
#include "ballast/sim/report.h"
#include "ballast/sim/simulator.h"
#include "ballast/sim/trace.h"

namespace ballast::app {
namespace {

namespace fs = std::filesystem;

constexpr absl::string_view kSimulateUsage =
    R"(usage: ballast simulate --config FILE --trace FILE.csv [options]

Replays a load trace through the engine, as the daemon would poll it, and
writes timeline.csv, summary.json and timeline.svg per target.

  --config FILE               policy config (all targets the trace covers run)
  --trace FILE.csv            header time,<input>...[,current_replicas]
                              [,arrivals,work_seconds]; time in seconds or
                              RFC 3339 (or YYYY-MM-DD HH:MM:SS, UTC)
  --out DIR                   output directory (default ./simulate-out); with
                              several targets each writes DIR/<target>/
  --target NAME               run only this target
  --baseline hpa              also run plain Kubernetes HPA defaults (mode
                              hpa, no behavior) on the same inputs; outputs
                              in <dir>/baseline-hpa/
  --pod-startup-seconds N     time before a new pod is ready (default 30)
  --worker-concurrency N      queue slots per ready replica (default 1)
  --initial-replicas N        closed loop: replicas at the start (default
                              currentReplicas.static, else minReplicas); may
                              lie outside [minReplicas, maxReplicas]
  --start T                   trace time of the first tick (default: first row)
  --duration SECONDS          length of the run (default: to the last row)
)";

constexpr absl::string_view kTraceUsage =
    R"(usage: ballast trace convert --format worldcup98|azure-llm --in FILE --out FILE [options]

Turns a shipped public trace into simulate's CSV (--out - writes to stdout).

  worldcup98 (period,count per minute) -> time,rps
    --scale F                       multiply the rate (default 1)
  azure-llm (TIMESTAMP,ContextTokens,GeneratedTokens) -> time,arrivals,work_seconds
    --bucket-seconds N              bucket size (default 1); at most 1,000,000
                                    buckets from the first request (a longer
                                    span is refused: select --from/--to)
    --base-seconds S                service time per job (default 0.5)
    --seconds-per-context-token S   (default 0.0005)
    --seconds-per-generated-token S (default 0.02)
  both
    --from T, --to T                keep from <= time < to (RFC 3339)
)";

int Usage(std::ostream& err, absl::string_view command, absl::string_view what,
          absl::string_view usage) {
  err << "ballast " << command << ": " << what << "\n\n" << usage;
  return 2;
}

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

// Writes the three files of one run into `dir`; returns their paths.
absl::StatusOr<std::vector<std::string>> WriteRun(const sim::SimResult& r,
                                                  const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat(dir.string(), ": cannot create: ", ec.message()));
  }
  const fs::path csv = dir / "timeline.csv";
  {
    std::ofstream out(csv, std::ios::binary | std::ios::trunc);
    sim::WriteTimelineCsv(r.timeline, out);
    out.close();
    if (!out) {
      return absl::UnavailableError(
          absl::StrCat(csv.string(), ": cannot write"));
    }
  }
  const fs::path json = dir / "summary.json";
  const fs::path svg = dir / "timeline.svg";
  if (absl::Status s = WriteFile(json, sim::SummaryJson(r.summary)); !s.ok()) {
    return s;
  }
  if (absl::Status s = WriteFile(svg, sim::TimelineSvg(r)); !s.ok()) return s;
  return std::vector<std::string>{csv.string(), json.string(), svg.string()};
}

// The rows of the printed table: label and value of a summary.
std::vector<std::pair<std::string, double>> TableRows(const sim::Summary& s) {
  std::vector<std::pair<std::string, double>> rows = {
      {"replica-hours", s.replica_seconds / 3600},
      {"mean replicas", s.mean_replicas},
      {"max replicas", s.max_replicas},
      {"scale events", static_cast<double>(s.scale_events)},
      {"SLO violation minutes", s.slo_violation_seconds / 60},
  };
  if (s.queue) {
    rows.push_back({"mean job wait s", s.queue->mean_job_wait_seconds});
    rows.push_back({"max job wait s", s.queue->max_job_wait_seconds});
  }
  return rows;
}

void PrintTable(const sim::Summary& ballast,
                const std::optional<sim::Summary>& hpa, std::ostream& out) {
  out << absl::StrFormat("target %s: %d ticks over %.2f h (%s loop)\n",
                         ballast.target, ballast.ticks,
                         ballast.duration_seconds / 3600,
                         ballast.closed_loop ? "closed" : "open");
  out << absl::StrFormat("  %-22s %12s", "", "ballast");
  if (hpa) out << absl::StrFormat(" %12s %12s", "hpa", "delta");
  out << "\n";
  const auto rows = TableRows(ballast);
  const auto hpa_rows =
      hpa ? TableRows(*hpa) : std::vector<std::pair<std::string, double>>();
  for (size_t i = 0; i < rows.size(); ++i) {
    out << absl::StrFormat("  %-22s %12.2f", rows[i].first, rows[i].second);
    if (hpa) {
      out << absl::StrFormat(" %12.2f %+12.2f", hpa_rows[i].second,
                             rows[i].second - hpa_rows[i].second);
    }
    out << "\n";
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
  fs::path out_dir = "simulate-out";
  std::optional<std::string> target;
  bool baseline = false;
  sim::SimOptions options;
};

// Reads the flags into `f`; returns the usage error message, empty if none.
std::string ReadSimulateFlags(const Flags& flags, SimulateFlags& f) {
  FlagReader r(flags);
  f.config = r.Required("config");
  f.trace = r.Required("trace");
  if (std::optional<std::string> out = r.String("out")) f.out_dir = *out;
  f.target = r.String("target");
  if (std::optional<std::string> b = r.String("baseline")) {
    if (*b != "hpa") r.Fail("--baseline: only 'hpa' is supported");
    f.baseline = true;
  }
  f.options.pod_startup_seconds =
      r.Number("pod-startup-seconds", 0, false).value_or(30);
  f.options.worker_concurrency =
      r.PositiveInt("worker-concurrency").value_or(1);
  if (std::optional<double> n = r.Number("initial-replicas", 0, false)) {
    if (*n != static_cast<int32_t>(*n)) {
      r.Fail("--initial-replicas: expected a whole number >= 0");
    }
    f.options.initial_replicas = static_cast<int32_t>(*n);
  }
  f.options.start = r.Time("start");
  f.options.duration_seconds = r.Number("duration", 0, true);
  return r.error;
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

}  // namespace

int RunSimulate(const Args& args, std::ostream& out, std::ostream& err) {
  constexpr absl::string_view kCmd = "simulate";
  absl::StatusOr<Flags> flags = ParseFlags(
      args, 0,
      {"config", "trace", "out", "target", "baseline", "pod-startup-seconds",
       "worker-concurrency", "start", "duration", "initial-replicas"});
  if (!flags.ok())
    return Usage(err, kCmd, flags.status().message(), kSimulateUsage);
  if (flags->contains("help")) {
    out << kSimulateUsage;
    return 0;
  }
  SimulateFlags f;
  if (std::string e = ReadSimulateFlags(*flags, f); !e.empty()) {
    return Usage(err, kCmd, e, kSimulateUsage);
  }

  absl::StatusOr<config::Config> config = config::LoadConfigFile(f.config);
  if (!config.ok()) return Failure(err, kCmd, config.status());
  for (const config::ConfigError& w : config->warnings) {
    err << "warning: " << w.ToString() << "\n";
  }
  absl::StatusOr<sim::Trace> trace = sim::LoadTraceFile(f.trace);
  if (!trace.ok()) return Failure(err, kCmd, trace.status());
  if (f.options.start && (*f.options.start < trace->times.front() ||
                          *f.options.start > trace->times.back())) {
    return Usage(err, kCmd,
                 absl::StrCat("--start is outside the trace (",
                              TimeText(trace->times.front()), " to ",
                              TimeText(trace->times.back()), ")"),
                 kSimulateUsage);
  }
  std::vector<const TargetSpec*> targets;
  if (std::string e = PickTargets(*config, *trace, f.target, targets, err);
      !e.empty()) {
    return Usage(err, kCmd, e, kSimulateUsage);
  }
  f.options.poll_interval_seconds = config->server.poll_interval_seconds;

  std::vector<std::string> written;
  for (const TargetSpec* spec : targets) {
    const fs::path dir =
        targets.size() == 1 ? f.out_dir : f.out_dir / SafeName(spec->name);
    absl::StatusOr<sim::SimResult> result =
        sim::Simulate(*spec, *trace, f.options);
    if (!result.ok()) return Failure(err, kCmd, result.status());
    absl::StatusOr<std::vector<std::string>> files = WriteRun(*result, dir);
    if (!files.ok()) return Failure(err, kCmd, files.status());
    written.insert(written.end(), files->begin(), files->end());
    std::optional<sim::Summary> baseline;
    if (f.baseline) {
      absl::StatusOr<sim::SimResult> hpa =
          sim::Simulate(engine::PlainHpaSpec(*spec), *trace, f.options);
      if (!hpa.ok()) return Failure(err, kCmd, hpa.status());
      hpa->summary.target = spec->name + " (plain HPA baseline)";
      files = WriteRun(*hpa, dir / "baseline-hpa");
      if (!files.ok()) return Failure(err, kCmd, files.status());
      written.insert(written.end(), files->begin(), files->end());
      baseline = hpa->summary;
    }
    PrintTable(result->summary, baseline, out);
  }
  for (const std::string& path : written) out << "wrote " << path << "\n";
  return 0;
}

int RunTrace(const Args& args, std::ostream& out, std::ostream& err) {
  constexpr absl::string_view kCmd = "trace convert";
  if (args.empty() || args[0] != "convert") {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
      out << kTraceUsage;
      return 0;
    }
    return Usage(err, "trace", "expected 'convert'", kTraceUsage);
  }
  absl::StatusOr<Flags> flags =
      ParseFlags(args, 1,
                 {"format", "in", "out", "scale", "from", "to",
                  "bucket-seconds", "base-seconds", "seconds-per-context-token",
                  "seconds-per-generated-token"});
  if (!flags.ok())
    return Usage(err, kCmd, flags.status().message(), kTraceUsage);
  if (flags->contains("help")) {
    out << kTraceUsage;
    return 0;
  }
  FlagReader r(*flags);
  const std::string format = r.Required("format");
  const std::string in_path = r.Required("in");
  const std::string out_path = r.Required("out");
  const sim::TimeRange range{r.Time("from"), r.Time("to")};
  const bool worldcup = format == "worldcup98";
  if (r.error.empty() && !worldcup && format != "azure-llm") {
    r.Fail(absl::StrCat("--format: '", format,
                        "' is not worldcup98 or azure-llm"));
  }
  for (const absl::string_view name :
       worldcup
           ? std::vector<absl::string_view>{"bucket-seconds", "base-seconds",
                                            "seconds-per-context-token",
                                            "seconds-per-generated-token"}
           : std::vector<absl::string_view>{"scale"}) {
    if (flags->contains(name)) {
      r.Fail(absl::StrCat("--", name, " does not apply to --format ", format));
    }
  }
  sim::WorldCupOptions wc{.scale = r.Number("scale", 0, true).value_or(1),
                          .range = range};
  sim::AzureLlmOptions az;
  az.bucket_seconds = r.Number("bucket-seconds", 0, true).value_or(1);
  az.base_seconds = r.Number("base-seconds", 0, false).value_or(0.5);
  az.seconds_per_context_token =
      r.Number("seconds-per-context-token", 0, false).value_or(0.0005);
  az.seconds_per_generated_token =
      r.Number("seconds-per-generated-token", 0, false).value_or(0.02);
  az.range = range;
  if (r.error.empty() && range.from && range.to && *range.to <= *range.from) {
    r.Fail("--to must be after --from");
  }
  if (!r.error.empty()) return Usage(err, kCmd, r.error, kTraceUsage);

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

}  // namespace ballast::app
