// The external metrics API (server::ExternalMetricsApi::Handle) on an
// arbitrary request: method, path, query, headers and the client
// certificate's verdict, against a store holding a snapshot (one target with
// a recommendation and inputs, one with none yet). Oracles: every response
// has an HTTP status in [200, 600), and every JSON response parses.
#include <fuzzer/FuzzedDataProvider.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "ballast/core/json.h"
#include "ballast/server/external_metrics_server.h"
#include "ballast/store/recommendation_store.h"
#include "integration/common/store_targets.h"

namespace {

using namespace ballast;  // NOLINT: a harness

struct Fixture {
  store::RecommendationStore store;
  std::unique_ptr<server::ExternalMetricsApi> api;
  std::unique_ptr<server::ExternalMetricsApi> trusting;
  Fixture() {
    // Each target also has an input whose last read failed.
    std::vector<store::TargetState> targets = {
        testing::MetricTarget("asr", 7, 1.5),
        testing::MetricTarget("tts", std::nullopt, 1e300)};
    for (store::TargetState& t : targets) {
      t.inputs.push_back({.name = "latency", .error = "connection refused"});
    }
    testing::PublishTargets(store, std::move(targets));
    api = std::make_unique<server::ExternalMetricsApi>(
        store,
        server::ExternalMetricsApiOptions{
            .window_seconds = 15,
            .request_header = {.allowed_names = {"front-proxy-client"}}});
    trusting = std::make_unique<server::ExternalMetricsApi>(
        store, server::ExternalMetricsApiOptions{
                   .trust_all_clients_for_benchmark = true});
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture* const fixture = new Fixture;
  FuzzedDataProvider in(data, size);
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  net::HttpRequest request;
  request.method = (flags & 1) ? in.ConsumeRandomLengthString(8) : "GET";
  request.path = in.ConsumeRandomLengthString(256);
  request.query = in.ConsumeRandomLengthString(256);
  request.target =
      request.query.empty() ? request.path : request.path + "?" + request.query;
  const int headers = in.ConsumeIntegralInRange(0, 6);
  for (int i = 0; i < headers; ++i) {
    std::string name = in.ConsumeRandomLengthString(32);
    for (char& c : name) c = static_cast<char>(std::tolower(c));
    request.headers.emplace_back(std::move(name),
                                 in.ConsumeRandomLengthString(64));
  }
  request.body = in.ConsumeRemainingBytesAsString();
  net::PeerInfo peer{.remote_address = "127.0.0.1:40000", .tls = true};
  if (flags & 2) {
    peer.client_cert_verified = true;
    peer.client_common_name = (flags & 4) ? "front-proxy-client" : "mallory";
  }
  const server::ExternalMetricsApi& api =
      (flags & 8) ? *fixture->trusting : *fixture->api;
  const net::HttpResponse r = api.Handle(request, peer);
  if (r.status < 200 || r.status >= 600) std::abort();
  if (absl::StrContains(r.content_type, "json") && !ParseJson(r.body).ok()) {
    std::abort();
  }
  (void)server::ExternalMetricsApi::PathKind(request.path);
  return 0;
}
