// `ballast explain TARGET`: asks a running ballast (ballast.v1
// GetRecommendation over gRPC) why TARGET has its recommendation, and prints
// the answer for a person: the numbers, what limited the result, each
// input's values and the last few recommendations.
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/v1/ballast.grpc.pb.h"
#include "cli.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/grpcpp.h"

namespace ballast::app {
namespace {

struct ExplainOptions {
  std::string target;
  std::optional<std::string> server;
  std::optional<int32_t> history;
  bool json = false;
};

absl::Time ToTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", ToTime(t),
                          absl::UTCTimeZone());
}

std::string FormatAge(absl::Duration age) {
  if (age < absl::ZeroDuration()) age = absl::ZeroDuration();
  if (age < absl::Minutes(2)) {
    return absl::StrFormat("%.0fs", absl::ToDoubleSeconds(age));
  }
  if (age < absl::Hours(2)) {
    return absl::StrFormat("%.0fm", absl::ToDoubleMinutes(age));
  }
  if (age < absl::Hours(48)) {
    return absl::StrFormat("%.0fh", absl::ToDoubleHours(age));
  }
  return absl::StrFormat("%.0fd", absl::ToDoubleHours(age) / 24);
}

std::string FormatNumber(double v) { return absl::StrFormat("%.6g", v); }

// What limited the recommendation, in words. Factual only: the API does not
// carry window lengths or policy values.
std::string DescribeLimit(const ballast::v1::Recommendation& r) {
  const int replicas = r.replicas();
  const int desired = r.desired_replicas();
  const std::string& limit = r.limited_by();
  if (limit == "none" || limit.empty()) {
    return absl::StrCat("nothing: the recommendation is the desired count ",
                        desired);
  }
  if (limit == "tolerance") {
    return absl::StrCat(
        "tolerance: every input is within tolerance of its target, holding ",
        replicas);
  }
  if (limit == "scaleUpStabilization") {
    return absl::StrCat("scaleUpStabilization: ", replicas,
                        " is the lowest proposal within the scale-up "
                        "stabilization window (desired ",
                        desired, ")");
  }
  if (limit == "scaleDownStabilization") {
    return absl::StrCat("scaleDownStabilization: holding ", replicas,
                        " - the highest proposal within the scale-down "
                        "stabilization window (desired ",
                        desired, ")");
  }
  if (limit == "scaleUpPolicy") {
    return absl::StrCat("scaleUpPolicy: the scale-up rate policies allow ",
                        replicas, " now (desired ", desired, ")");
  }
  if (limit == "scaleDownPolicy") {
    return absl::StrCat("scaleDownPolicy: the scale-down rate policies allow ",
                        "no fewer than ", replicas, " now (desired ", desired,
                        ")");
  }
  if (limit == "minReplicas") {
    return absl::StrCat("minReplicas: raised to the minimum ", replicas,
                        " (desired ", desired, ")");
  }
  if (limit == "maxReplicas") {
    return absl::StrCat("maxReplicas: capped at the maximum ", replicas,
                        " (desired ", desired, ")");
  }
  if (limit == "fallback") {
    return absl::StrCat(
        "fallback: an input failed more polls in a row than its "
        "failureThreshold; recommending fallback.replicas = ",
        replicas);
  }
  if (limit == "missingData") {
    return absl::StrCat(
        "missingData: no input had a usable value; holding the last "
        "recommendation ",
        replicas);
  }
  if (limit == "scalingDisabled") {
    return absl::StrCat(
        "scalingDisabled: the current count is 0 and minReplicas is above "
        "it (HPA mode leaves such a workload alone); holding ",
        replicas);
  }
  if (limit == "trend") {
    return absl::StrCat(
        "trend: an input's rising trend, read ahead by its "
        "horizon, raised the proposal to ",
        replicas, " (see PREDICTED)");
  }
  if (limit == "burst") {
    return absl::StrCat("burst: load reached the burst threshold; ", replicas,
                        " at once, past the windows and rate policies, and "
                        "no scale-down until it has been stable");
  }
  if (limit == "scaleDownMinChange") {
    return absl::StrCat("scaleDownMinChange: holding ", replicas,
                        "; the scale-down to ", desired,
                        " is smaller than behavior.scaleDown.minChange*");
  }
  return absl::StrCat(limit, " (", replicas, ")");
}

// Prints `rows` with each column as wide as its widest cell.
void PrintTable(const std::vector<std::vector<std::string>>& rows,
                std::ostream& out) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t c = 0; c < row.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size())
        line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

void PrintExplanation(const ballast::v1::GetRecommendationResponse& response,
                      std::ostream& out) {
  const ballast::v1::Recommendation& r = response.recommendation();
  const absl::Time at = ToTime(r.time());
  out << "target " << r.target() << " at " << FormatTime(r.time()) << " ("
      << FormatAge(absl::Now() - at) << " ago)\n";
  out << "  recommendation  " << r.replicas() << " replicas\n";
  out << "  current         " << r.current_replicas() << "\n";
  out << "  desired         " << r.desired_replicas()
      << " (combined proposal of the inputs)\n";
  out << "  limited by      " << DescribeLimit(r) << "\n";
  if (r.burst()) out << "  burst mode      on\n";
  if (!response.computed_by().empty()) {
    out << "  computed by     " << response.computed_by() << " (the leader), "
        << FormatTime(response.computed_at()) << "\n";
  }
  out << "\n";

  out << "inputs:\n";
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "RAW", "SMOOTHED", "PROPOSAL", "WITHIN TOLERANCE", "PREDICTED",
       "THROUGHPUT", "FAILURES", "LAST VALUE", "AGE AT TICK", "ERROR"}};
  for (const ballast::v1::InputExplanation& in : r.inputs()) {
    std::string proposal =
        in.has_proposal() ? absl::StrCat(in.proposal()) : "-";
    if (in.fallback()) absl::StrAppend(&proposal, " (fallback)");
    if (in.has_untolerated_proposal() && in.within_tolerance()) {
      absl::StrAppend(&proposal, " (untolerated ", in.untolerated_proposal(),
                      ")");
    }
    if (in.trend()) absl::StrAppend(&proposal, " (trend)");
    if (in.drain()) absl::StrAppend(&proposal, " (drain)");
    if (in.has_active()) {
      absl::StrAppend(&proposal, in.active() ? " (active)" : " (inactive)");
    }
    rows.push_back({
        in.name(),
        in.has_raw() ? FormatNumber(in.raw()) : "-",
        in.has_smoothed() ? FormatNumber(in.smoothed()) : "-",
        proposal,
        in.within_tolerance() ? "yes" : "no",
        in.has_predicted() ? FormatNumber(in.predicted()) : "-",
        in.has_throughput() ? absl::StrCat(FormatNumber(in.throughput()), "/s")
                            : "-",
        absl::StrCat(in.consecutive_failures()),
        in.has_last_value() ? FormatNumber(in.last_value()) : "-",
        in.has_last_value_time() ? FormatAge(at - ToTime(in.last_value_time()))
                                 : "-",
        in.error().empty() ? "-" : in.error(),
    });
  }
  PrintTable(rows, out);

  out << "\nrecent recommendations (oldest first):\n";
  rows = {{"TIME", "REPLICAS", "DESIRED", "CURRENT", "LIMITED BY"}};
  for (const ballast::v1::Recommendation& past : response.recent()) {
    rows.push_back({FormatTime(past.time()), absl::StrCat(past.replicas()),
                    absl::StrCat(past.desired_replicas()),
                    absl::StrCat(past.current_replicas()), past.limited_by()});
  }
  PrintTable(rows, out);
}

int Explain(const ExplainOptions& options, const Invocation& call) {
  std::ostream& out = call.out;
  std::ostream& err = call.err;
  const std::string server = options.server.value_or("127.0.0.1:9090");
  auto channel =
      grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = ballast::v1::Ballast::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  ballast::v1::GetRecommendationRequest request;
  request.set_target(options.target);
  request.set_history(options.history.value_or(10));
  ballast::v1::GetRecommendationResponse response;
  const grpc::Status status =
      stub->GetRecommendation(&context, request, &response);
  if (!status.ok()) {
    err << "ballast explain: " << server << ": " << status.error_message()
        << "\n";
    return 1;
  }
  if (options.json) {
    std::string json;
    google::protobuf::util::JsonPrintOptions print;
    print.add_whitespace = true;
    print.preserve_proto_field_names = true;
    if (!google::protobuf::util::MessageToJsonString(response, &json, print)
             .ok()) {
      err << "ballast explain: cannot print the answer as JSON\n";
      return 1;
    }
    out << json;
    return 0;
  }
  PrintExplanation(response, out);
  return 0;
}

}  // namespace

void AddExplainCommand(Cli& cli) {
  auto options = std::make_shared<ExplainOptions>();
  CLI::App* cmd = cli.AddCommand(
      "explain", "why TARGET has its recommendation (over gRPC)",
      "Asks a running ballast (ballast.v1 GetRecommendation over gRPC) why\n"
      "TARGET has its recommendation: the numbers, what limited it, each\n"
      "input's values and the last few recommendations. Exit 0 on success,\n"
      "1 when the call fails, 2 on a usage error.",
      [options](const Invocation& call) { return Explain(*options, call); });
  cmd->add_option("TARGET", options->target, "the target's name")
      ->required()
      ->type_name("");
  AddString(cmd, "--server", &options->server, "HOST:PORT",
            "the ballast's gRPC port (default 127.0.0.1:9090)");
  AddWholeNumber(cmd, "--history", &options->history, 1,
                 "how many past recommendations to show (default 10)");
  cmd->add_flag("--json", options->json, "print the raw answer as JSON");
}

}  // namespace ballast::app
