// `ballast probe --config FILE [--output table|json]`: reads every input and
// the current replicas of every target once, prints them with the error of
// each read that failed, and exits 1 if any failed. How an SRE checks a new
// query before it drives a fleet.
#include <memory>
#include <ostream>
#include <string>

#include "absl/strings/str_format.h"
#include "ballast/config/config.h"
#include "ballast/control/poller.h"
#include "ballast/core/json.h"
#include "ballast/sim/format.h"
#include "cli.h"

namespace ballast::app {
namespace {

// A reading as JSON value and error members.
template <typename T>
void WriteReading(JsonWriter& w, const absl::StatusOr<T>& r,
                  absl::string_view value_key, absl::string_view error_key) {
  if (r.ok()) {
    w.Key(value_key).RawNumber(sim::FormatNumber(*r)).Key(error_key).Null();
  } else {
    w.Key(value_key).Null().Key(error_key).String(r.status().message());
  }
}

template <typename T>
std::string TableValue(const absl::StatusOr<T>& r) {
  return r.ok() ? sim::FormatNumber(*r) : "-";
}

bool PrintJson(const config::Config& config, const control::PollResult& result,
               std::ostream& out) {
  bool failed = false;
  JsonWriter w;
  w.StartObject().Key("targets").StartArray();
  for (size_t t = 0; t < result.targets.size(); ++t) {
    const control::TargetReadings& r = result.targets[t];
    const config::TargetConfig& target = config.targets[t];
    w.StartObject().Key("name").String(r.target);
    if (r.current_replicas) {
      failed |= !r.current_replicas->ok();
      WriteReading(w, *r.current_replicas, "currentReplicas",
                   "currentReplicasError");
    } else {
      const auto fixed = target.current_replicas.static_replicas;
      w.Key("currentReplicas");
      if (fixed) {
        w.Int(*fixed);
      } else {
        w.Null();
      }
      w.Key("currentReplicasError").Null();
    }
    w.Key("inputs").StartArray();
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      failed |= !r.inputs[i].ok();
      w.StartObject().Key("name").String(target.spec.inputs[i].name);
      WriteReading(w, r.inputs[i], "value", "error");
      w.EndObject();
    }
    w.EndArray().EndObject();
  }
  out << w.EndArray().EndObject().Take() << "\n";
  return failed;
}

bool PrintTable(const config::Config& config, const control::PollResult& result,
                std::ostream& out) {
  bool failed = false;
  out << absl::StrFormat("%-24s %-24s %14s  %s\n", "TARGET", "INPUT", "VALUE",
                         "ERROR");
  auto row = [&](absl::string_view target, absl::string_view input,
                 const std::string& value, const absl::Status& status) {
    failed |= !status.ok();
    out << absl::StrFormat("%-24s %-24s %14s  %s\n", target, input, value,
                           status.ok() ? "" : status.message());
  };
  for (size_t t = 0; t < result.targets.size(); ++t) {
    const control::TargetReadings& r = result.targets[t];
    const config::TargetConfig& target = config.targets[t];
    if (r.current_replicas) {
      row(r.target, "(currentReplicas)", TableValue(*r.current_replicas),
          r.current_replicas->status());
    } else if (target.current_replicas.static_replicas) {
      row(r.target, "(currentReplicas)",
          absl::StrCat(*target.current_replicas.static_replicas, " static"),
          absl::OkStatus());
    }
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      row(r.target, target.spec.inputs[i].name, TableValue(r.inputs[i]),
          r.inputs[i].status());
    }
  }
  return failed;
}

struct ProbeFlags {
  std::string config;
  std::string output = "table";
};

int Probe(const ProbeFlags& flags, const Invocation& call) {
  std::ostream& out = call.out;
  std::ostream& err = call.err;
  const std::string& path = flags.config;
  const std::string& output = flags.output;
  absl::StatusOr<config::Config> config = config::LoadConfigFile(path);
  if (!config.ok()) {
    err << config.status().message() << "\n";
    return 1;
  }
  for (const config::ConfigError& w : config->warnings) {
    err << "warning: " << w.ToString() << "\n";
  }
  absl::StatusOr<control::PollResult> result =
      control::Poller::PollOnce(*config);
  if (!result.ok()) {
    err << "ballast probe: " << result.status().message() << "\n";
    return 1;
  }
  const bool failed = output == "json" ? PrintJson(*config, *result, out)
                                       : PrintTable(*config, *result, out);
  return failed ? 1 : 0;
}

}  // namespace

void AddProbeCommand(Cli& cli) {
  auto flags = std::make_shared<ProbeFlags>();
  CLI::App* cmd = cli.AddCommand(
      "probe", "read every input once, print it or its error",
      "Reads every input and the current replicas of every target once and\n"
      "prints them, with the error of each read that failed. Exits 1 if any\n"
      "read failed.",
      [flags](const Invocation& call) { return Probe(*flags, call); });
  AddRequired(cmd, "--config", &flags->config, "FILE", "policy config");
  AddChoice(cmd, "--output", &flags->output, {"table", "json"},
            "default table");
}

}  // namespace ballast::app
