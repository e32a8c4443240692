// The external metrics API server over TLS with a store of --targets
// targets, for bench/external_metrics_bench.sh: it prints "port N" once it
// listens and serves until SIGINT/SIGTERM.
//
// --trust_all_clients_for_benchmark makes every request count as
// authenticated, because wrk cannot present a client certificate. That
// switch exists only in ExternalMetricsServer::Options, which this binary
// sets; the config file and `ballast serve` cannot reach it.
#include <utility>
//
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "ballast/server/external_metrics_server.h"
#include "prometheus/registry.h"

ABSL_FLAG(std::string, cert, "", "serving certificate (PEM)");
ABSL_FLAG(std::string, key, "", "serving key (PEM)");
ABSL_FLAG(std::string, client_ca, "", "request-header client CA (PEM)");
ABSL_FLAG(std::string, listen, "127.0.0.1:0", "listen address");
ABSL_FLAG(int, targets, 10, "number of targets in the store");
ABSL_FLAG(int, threads, 1, "threads running the io_context");
ABSL_FLAG(bool, trust_all_clients_for_benchmark, false,
          "treat every request as authenticated (wrk has no client cert)");
ABSL_FLAG(std::string, dump_path, "",
          "request path whose response body is written to --dump_file");
ABSL_FLAG(std::string, dump_file, "", "where to write the --dump_path body");

namespace {

ballast::store::Snapshot MakeSnapshot(int targets) {
  ballast::store::Snapshot snapshot;
  const absl::Time now = absl::FromUnixSeconds(1790000000);
  for (int i = 0; i < targets; ++i) {
    ballast::store::TargetState target;
    auto spec = std::make_shared<ballast::TargetSpec>();
    spec->name = absl::StrCat("worker-", i);
    target.spec = std::move(spec);
    target.inputs.push_back(
        {.name = "backlog", .value = 120.5 * (i + 1), .sampled_at = now});
    ballast::engine::Recommendation r;
    r.time = now;
    r.replicas = 3 + i;
    target.latest = std::make_shared<const ballast::engine::Recommendation>(r);
    snapshot.Add(std::move(target));
  }
  return snapshot;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  ballast::store::RecommendationStore store;
  store.Publish(MakeSnapshot(absl::GetFlag(FLAGS_targets)));

  if (!absl::GetFlag(FLAGS_dump_path).empty()) {
    ballast::server::ExternalMetricsApi api(
        store, {.trust_all_clients_for_benchmark = true});
    ballast::net::HttpRequest request{.method = "GET"};
    const std::string path = absl::GetFlag(FLAGS_dump_path);
    request.target = path;
    request.path = path.substr(0, path.find('?'));
    if (path.find('?') != std::string::npos) {
      request.query = path.substr(path.find('?') + 1);
    }
    ballast::net::HttpResponse response = api.Handle(request, {});
    std::ofstream(absl::GetFlag(FLAGS_dump_file)) << response.body;
    if (response.status != 200) {
      std::cerr << "dump: status " << response.status << ": " << response.body
                << "\n";
      return 1;
    }
  }

  boost::asio::io_context io;
  prometheus::Registry registry;
  ballast::config::ExternalMetricsServerConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  config.tls_cert_file = absl::GetFlag(FLAGS_cert);
  config.tls_key_file = absl::GetFlag(FLAGS_key);
  config.requestheader_client_ca_file = absl::GetFlag(FLAGS_client_ca);
  config.max_connections = 1024;
  auto server = ballast::server::ExternalMetricsServer::Start(
      io, store, registry,
      {.config = config,
       .trust_all_clients_for_benchmark =
           absl::GetFlag(FLAGS_trust_all_clients_for_benchmark)});
  if (!server.ok()) {
    std::cerr << server.status() << "\n";
    return 1;
  }
  std::cout << "port " << (*server)->port() << std::endl;

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    (*server)->Stop(absl::Seconds(1), [&io] { io.stop(); });
  });
  std::vector<std::thread> threads;
  for (int i = 1; i < absl::GetFlag(FLAGS_threads); ++i) {
    threads.emplace_back([&io] { io.run(); });
  }
  io.run();
  for (std::thread& t : threads) t.join();
  return 0;
}
