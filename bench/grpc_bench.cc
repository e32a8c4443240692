// grpc_bench: GetMetrics throughput and latency of ballast's gRPC server
// (KEDA external scaler over a store of 10 targets) against a minimal gRPC
// C++ callback server that answers a constant, with the same client.
//
//   build-release/bench/grpc_bench --seconds 10 --concurrency 8
//
// Both servers run in this process on loopback; the client keeps
// --concurrency GetMetrics calls in flight (callback API, one channel per
// server, a new call as soon as one completes) for --seconds after a 1 s
// warm-up, and reports req/s, p50 and p99 for each and their ratio. Client
// and servers share the machine's cores, so the figures are a comparison,
// not a capacity.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "ballast/server/grpc_server.h"
#include "ballast/server/keda_scaler.h"
#include "ballast/store/recommendation_store.h"
#include "externalscaler/externalscaler.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "prometheus/registry.h"

ABSL_FLAG(int, seconds, 5, "measured seconds per server");
ABSL_FLAG(int, concurrency, 8, "GetMetrics calls kept in flight");

namespace {

using Clock = std::chrono::steady_clock;

// The baseline: ExternalScaler.GetMetrics answering a constant.
class ConstantScaler final
    : public externalscaler::ExternalScaler::CallbackService {
  grpc::ServerUnaryReactor* GetMetrics(
      grpc::CallbackServerContext* context,
      const externalscaler::GetMetricsRequest* request,
      externalscaler::GetMetricsResponse* response) override {
    externalscaler::MetricValue* value = response->add_metricvalues();
    value->set_metricname(request->metricname());
    value->set_metricvaluefloat(7);
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

ballast::store::Snapshot TenTargets() {
  ballast::store::Snapshot snapshot;
  for (int i = 0; i < 10; ++i) {
    const std::string name = absl::StrCat("target-", i);
    ballast::store::TargetState t;
    auto spec = std::make_shared<ballast::TargetSpec>();
    spec->name = name;
    spec->min_replicas = 1;
    spec->max_replicas = 50;
    spec->inputs.push_back({.name = "backlog", .target = 30});
    t.spec = std::move(spec);
    t.inputs.push_back({.name = "backlog", .value = 30.0 * i});
    ballast::engine::Recommendation latest{.time = absl::Now(),
                                           .current_replicas = i,
                                           .desired = i + 1,
                                           .replicas = i + 1};
    latest.inputs.push_back({.name = "backlog", .raw = 30.0 * i});
    t.recent.Push(ballast::store::PastRecommendation::Of(latest), 20);
    t.latest = std::make_shared<const ballast::engine::Recommendation>(
        std::move(latest));
    snapshot.Add(std::move(t));
  }
  return snapshot;
}

// One caller: a chain of GetMetrics calls, the next started from the
// completion of the previous.
class Caller {
 public:
  Caller(externalscaler::ExternalScaler::Stub* stub, Clock::time_point measure,
         Clock::time_point end, absl::BlockingCounter* done)
      : stub_(stub), measure_(measure), end_(end), done_(done) {
    externalscaler::ScaledObjectRef* ref = request_.mutable_scaledobjectref();
    ref->set_name("worker");
    ref->set_namespace_("default");
    (*ref->mutable_scalermetadata())["target"] = "target-3";
    request_.set_metricname("s0-ballast-target-3");
    latencies_us_.reserve(1 << 20);
  }

  void Issue() {
    // Two contexts in turn: the previous call's context is not destroyed
    // inside its own completion callback.
    auto& context = contexts_[next_++ % 2];
    context = std::make_unique<grpc::ClientContext>();
    start_ = Clock::now();
    stub_->async()->GetMetrics(context.get(), &request_, &response_,
                               [this](grpc::Status s) { OnDone(s); });
  }

  const std::vector<double>& latencies_us() const { return latencies_us_; }
  int64_t errors() const { return errors_; }

 private:
  void OnDone(const grpc::Status& status) {
    const Clock::time_point now = Clock::now();
    if (!status.ok() || response_.metricvalues_size() != 1) {
      ++errors_;
    } else if (start_ >= measure_ && now <= end_) {
      latencies_us_.push_back(
          std::chrono::duration<double, std::micro>(now - start_).count());
    }
    if (now < end_) {
      Issue();
    } else {
      done_->DecrementCount();
    }
  }

  externalscaler::ExternalScaler::Stub* stub_;
  const Clock::time_point measure_;
  const Clock::time_point end_;
  absl::BlockingCounter* done_;
  externalscaler::GetMetricsRequest request_;
  externalscaler::GetMetricsResponse response_;
  std::array<std::unique_ptr<grpc::ClientContext>, 2> contexts_;
  unsigned next_ = 0;
  Clock::time_point start_;
  std::vector<double> latencies_us_;
  int64_t errors_ = 0;
};

struct Result {
  double rps = 0;
  double p50_us = 0;
  double p99_us = 0;
  int64_t calls = 0;
  int64_t errors = 0;
};

Result Run(const std::string& address, int concurrency, int seconds) {
  auto channel =
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = externalscaler::ExternalScaler::NewStub(channel);
  const Clock::time_point measure = Clock::now() + std::chrono::seconds(1);
  const Clock::time_point end = measure + std::chrono::seconds(seconds);
  absl::BlockingCounter done(concurrency);
  std::vector<std::unique_ptr<Caller>> callers;
  for (int i = 0; i < concurrency; ++i) {
    callers.push_back(
        std::make_unique<Caller>(stub.get(), measure, end, &done));
  }
  for (auto& caller : callers) caller->Issue();
  done.Wait();
  std::vector<double> all;
  Result result;
  for (const auto& caller : callers) {
    all.insert(all.end(), caller->latencies_us().begin(),
               caller->latencies_us().end());
    result.errors += caller->errors();
  }
  std::sort(all.begin(), all.end());
  result.calls = static_cast<int64_t>(all.size());
  result.rps = static_cast<double>(all.size()) / seconds;
  if (!all.empty()) {
    result.p50_us = all[all.size() / 2];
    result.p99_us = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return result;
}

void Print(const char* name, const Result& r) {
  std::printf("%-22s %10lld %12.0f %10.1f %10.1f %8lld\n", name,
              static_cast<long long>(r.calls), r.rps, r.p50_us, r.p99_us,
              static_cast<long long>(r.errors));
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int seconds = absl::GetFlag(FLAGS_seconds);
  const int concurrency = absl::GetFlag(FLAGS_concurrency);

  ballast::store::RecommendationStore store;
  store.Publish(TenTargets());
  prometheus::Registry registry;
  auto ballast_server = ballast::server::GrpcServer::Start(
      {.listen = "127.0.0.1:0"}, store, registry);
  if (!ballast_server.ok()) {
    std::fprintf(stderr, "grpc_bench: %s\n",
                 std::string(ballast_server.status().message()).c_str());
    return 1;
  }

  ConstantScaler constant;
  int constant_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &constant_port);
  builder.RegisterService(&constant);
  std::unique_ptr<grpc::Server> constant_server = builder.BuildAndStart();
  if (constant_server == nullptr || constant_port == 0) {
    std::fprintf(stderr, "grpc_bench: cannot start the constant server\n");
    return 1;
  }

  std::printf(
      "GetMetrics, %d callers in flight, %d s each (after 1 s warm-up)\n",
      concurrency, seconds);
  std::printf("%-22s %10s %12s %10s %10s %8s\n", "server", "calls", "req/s",
              "p50 us", "p99 us", "errors");
  const Result constant_result =
      Run(absl::StrCat("127.0.0.1:", constant_port), concurrency, seconds);
  Print("constant (baseline)", constant_result);
  const Result ballast_result =
      Run(absl::StrCat("127.0.0.1:", (*ballast_server)->port()), concurrency,
          seconds);
  Print("ballast (10 targets)", ballast_result);
  std::printf("ballast/baseline: throughput %.2fx, p50 %.2fx, p99 %.2fx\n",
              ballast_result.rps / constant_result.rps,
              ballast_result.p50_us / constant_result.p50_us,
              ballast_result.p99_us / constant_result.p99_us);

  constant_server->Shutdown(std::chrono::system_clock::now());
  (*ballast_server)->Shutdown(absl::Now() + absl::Seconds(1));
  return ballast_result.errors + constant_result.errors == 0 ? 0 : 1;
}
