// KEDA's external scaler (server::KedaScalerService, src/server/keda_scaler.cc)
// on arbitrary requests: a ScaledObjectRef with any name, namespace and
// scalerMetadata map (GetMetrics: and any metricName), against a store the
// input also drives (see grpc_fuzz.h). Every method is called as gRPC calls
// it: the unary ones (IsActive, GetMetricSpec, GetMetrics) through their
// DefaultReactor, the streams (StreamIsActive, StreamMetricSpec) bound to a
// writer while the input's snapshots are published.
//
// Oracles: a call is OK exactly when the metadata names a target (`target`,
// non-empty) that the store has (with a recommendation, for the methods that
// serve one); the error otherwise is the documented one (InvalidArgument,
// Unavailable before the first publish or tick, NotFound naming the target)
// with a message, and its response is left empty. An OK answer carries the
// store's value: the spec "ballast-<target>" with target size 1, the metric
// value (and float) the latest recommendation under the name asked for,
// IsActive = replicas > 0. A stream sends exactly the changes the published
// snapshots call for, in order, and ends with the lookup's error when one
// fails (CANCELLED when the client ends it); a client gone with a write out
// gets a prefix of them, and the stream still finishes, after the write.
//
// Input (FuzzedDataProvider; integers from the end): mode byte (bits 0-2:
// IsActive, GetMetricSpec, GetMetrics, StreamIsActive, StreamMetricSpec,
// GetMetrics, GetMetrics, IsActive; bit 3: the store starts empty; bit 4:
// a stream's client goes away with the last event's write out), the
// number of metadata entries (0-4), the events (a count 0-8, then 2 bytes
// each); from the front: name, namespace, each entry's key and value,
// GetMetrics' metricName.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "ballast/server/keda_scaler.h"
#include "externalscaler/externalscaler.pb.h"
#include "grpc_fuzz.h"

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // targetsize()

namespace {

using namespace ballast_fuzz;  // NOLINT: a harness

enum Method {
  kIsActive,
  kGetMetricSpec,
  kGetMetrics,
  kStreamIsActive,
  kStreamMetricSpec,
};

// The lookup every method starts with, decided from the metadata and the
// model alone: the target, or the error code.
struct Lookup {
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string name;
  const store::TargetState* state = nullptr;
};

Lookup Expect(const externalscaler::ScaledObjectRef& ref,
              const store::Snapshot* snapshot, bool needs_value) {
  Lookup l;
  auto it = ref.scalermetadata().find("target");
  if (it == ref.scalermetadata().end() || it->second.empty()) {
    l.code = grpc::StatusCode::INVALID_ARGUMENT;
    return l;
  }
  l.name = it->second;
  if (snapshot == nullptr) {
    l.code = grpc::StatusCode::UNAVAILABLE;
    return l;
  }
  l.state = snapshot->Find(l.name);
  if (l.state == nullptr) {
    l.code = grpc::StatusCode::NOT_FOUND;
  } else if (needs_value && !l.state->latest) {
    l.code = grpc::StatusCode::UNAVAILABLE;
  }
  return l;
}

void CheckStatus(const grpc::Status& got, const Lookup& want) {
  GRPC_FUZZ_CHECK(got.error_code() == want.code);
  if (want.code == grpc::StatusCode::INVALID_ARGUMENT) {
    GRPC_FUZZ_CHECK(absl::StrContains(got.error_message(), "'target'"));
  }
  if (want.code == grpc::StatusCode::NOT_FOUND) {
    GRPC_FUZZ_CHECK(absl::StrContains(got.error_message(),
                                      "no target '" + want.name + "'"));
  }
}

void CheckSpec(const externalscaler::GetMetricSpecResponse& r,
               const std::string& target) {
  GRPC_FUZZ_CHECK(r.metricspecs_size() == 1);
  GRPC_FUZZ_CHECK(r.metricspecs(0).metricname() == "ballast-" + target);
  GRPC_FUZZ_CHECK(r.metricspecs(0).targetsize() == 1);
  GRPC_FUZZ_CHECK(r.metricspecs(0).targetsizefloat() == 1.0);
}

void Unary(Method method, World& world,
           const externalscaler::GetMetricsRequest& request) {
  const externalscaler::ScaledObjectRef& ref = request.scaledobjectref();
  server::SnapshotFanout fanout(world.store());
  server::KedaScalerService service(fanout, Metrics());
  const store::Snapshot* now =
      world.generation() == 0 ? nullptr : world.history().back().get();
  const Lookup want = Expect(ref, now, method != kGetMetricSpec);
  switch (method) {
    case kIsActive: {
      externalscaler::IsActiveResponse r;
      grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
        return service.IsActive(c, &ref, &r);
      });
      CheckStatus(s, want);
      GRPC_FUZZ_CHECK(r.result() ==
                      (s.ok() && want.state->latest->replicas > 0));
      break;
    }
    case kGetMetricSpec: {
      externalscaler::GetMetricSpecResponse r;
      grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
        return service.GetMetricSpec(c, &ref, &r);
      });
      CheckStatus(s, want);
      if (s.ok()) {
        CheckSpec(r, want.name);
      } else {
        GRPC_FUZZ_CHECK(r.ByteSizeLong() == 0);
      }
      break;
    }
    default: {
      externalscaler::GetMetricsResponse r;
      grpc::Status s = RunUnary([&](grpc::CallbackServerContext* c) {
        return service.GetMetrics(c, &request, &r);
      });
      CheckStatus(s, want);
      if (!s.ok()) {
        GRPC_FUZZ_CHECK(r.ByteSizeLong() == 0);
        break;
      }
      GRPC_FUZZ_CHECK(r.metricvalues_size() == 1);
      const externalscaler::MetricValue& v = r.metricvalues(0);
      GRPC_FUZZ_CHECK(v.metricname() == (request.metricname().empty()
                                             ? "ballast-" + want.name
                                             : request.metricname()));
      const int32_t replicas = want.state->latest->replicas;
      GRPC_FUZZ_CHECK(v.metricvalue() == replicas);
      GRPC_FUZZ_CHECK(v.metricvaluefloat() == static_cast<double>(replicas));
      // What the store holds now, not only the model.
      GRPC_FUZZ_CHECK(
          world.store().Current()->Find(want.name)->latest->replicas ==
          replicas);
      break;
    }
  }
}

// The messages a stream must send for the snapshots published from
// `first` on, and how it ends (CANCELLED: it does not end by itself, the
// client ends it).
template <typename Response, typename StepFn>
void ExpectStream(const World& world, size_t first, StepFn&& step,
                  std::vector<Response>* out, grpc::StatusCode* end) {
  *end = grpc::StatusCode::CANCELLED;
  for (size_t i = first; i < world.history().size(); ++i) {
    std::optional<grpc::StatusCode> code = step(*world.history()[i], out);
    if (code.has_value()) {
      *end = *code;
      return;
    }
  }
}

template <typename Response, typename Open, typename StepFn>
void Stream(World& world, FuzzedDataProvider& in, bool stall,
            const externalscaler::ScaledObjectRef& ref, Open&& open,
            StepFn&& step) {
  server::SnapshotFanout fanout(world.store());
  server::KedaScalerService service(fanout, Metrics());
  grpc::CallbackServerContext context;
  // The current snapshot at the call, unless nothing is published yet.
  const size_t first = world.generation() == 0 ? 0 : world.generation() - 1;
  Writer<Response> writer;
  writer.Bind(open(service, &context));
  writer.Drain();
  // `stall`: the client reads nothing the last event brings and goes away
  // with a write out.
  world.PublishEvents(in, [&](bool last) {
    if (!stall || !last) writer.Drain();
  });
  const grpc::Status status = writer.End(stall);

  std::vector<Response> want;
  grpc::StatusCode end;
  ExpectStream<Response>(world, first, step, &want, &end);
  GRPC_FUZZ_CHECK(status.error_code() == end);
  // Everything due was sent, in order; a write lost to the client's going
  // away loses it and what was queued after it.
  GRPC_FUZZ_CHECK(writer.lost() ? writer.sent().size() < want.size()
                                : writer.sent().size() == want.size());
  for (size_t i = 0; i < writer.sent().size(); ++i) {
    GRPC_FUZZ_CHECK(writer.sent()[i].SerializeAsString() ==
                    want[i].SerializeAsString());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  static constexpr Method kMethods[8] = {
      kIsActive,         kGetMetricSpec, kGetMetrics, kStreamIsActive,
      kStreamMetricSpec, kGetMetrics,    kGetMetrics, kIsActive};
  const Method method = kMethods[mode & 7];
  const bool stall = (mode & 0x10) != 0;  // streams: see Stream
  const int entries = in.ConsumeIntegralInRange(0, 4);
  externalscaler::GetMetricsRequest request;
  externalscaler::ScaledObjectRef& ref = *request.mutable_scaledobjectref();
  ref.set_name(in.ConsumeRandomLengthString(64));
  ref.set_namespace_(in.ConsumeRandomLengthString(64));
  for (int i = 0; i < entries; ++i) {
    std::string key = in.ConsumeRandomLengthString(64);
    (*ref.mutable_scalermetadata())[key] = in.ConsumeRandomLengthString(128);
  }
  if (method == kGetMetrics) {
    request.set_metricname(in.ConsumeRandomLengthString(128));
  }

  World world;
  if ((mode & 8) == 0) world.Publish();
  if (method == kStreamIsActive) {
    std::optional<bool> last;
    Stream<externalscaler::IsActiveResponse>(
        world, in, stall, ref,
        [&](server::KedaScalerService& s, grpc::CallbackServerContext* c) {
          return s.StreamIsActive(c, &ref);
        },
        [&](const store::Snapshot& snapshot,
            std::vector<externalscaler::IsActiveResponse>* out)
            -> std::optional<grpc::StatusCode> {
          const Lookup l = Expect(ref, &snapshot, true);
          if (l.code == grpc::StatusCode::UNAVAILABLE) return std::nullopt;
          if (l.code != grpc::StatusCode::OK) return l.code;
          const bool active = l.state->latest->replicas > 0;
          if (last != active) out->emplace_back().set_result(active);
          last = active;
          return std::nullopt;
        });
  } else if (method == kStreamMetricSpec) {
    bool sent = false;
    Stream<externalscaler::GetMetricSpecResponse>(
        world, in, stall, ref,
        [&](server::KedaScalerService& s, grpc::CallbackServerContext* c) {
          return s.StreamMetricSpec(c, &ref);
        },
        [&](const store::Snapshot& snapshot,
            std::vector<externalscaler::GetMetricSpecResponse>* out)
            -> std::optional<grpc::StatusCode> {
          const Lookup l = Expect(ref, &snapshot, false);
          if (l.code != grpc::StatusCode::OK) return l.code;
          // The spec only depends on the name: sent once.
          if (!sent) {
            externalscaler::GetMetricSpecResponse& r = out->emplace_back();
            externalscaler::MetricSpec* spec = r.add_metricspecs();
            spec->set_metricname("ballast-" + l.name);
            spec->set_targetsize(1);
            spec->set_targetsizefloat(1);
            CheckSpec(r, l.name);
          }
          sent = true;
          return std::nullopt;
        });
  } else {
    world.PublishEvents(in);
    Unary(method, world, request);
  }
  return 0;
}
