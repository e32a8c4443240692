// The Lease elector: client-go's LeaseLock and the Lease half of its
// tryAcquireOrRenew and release, over net::HttpClient. The timing is the
// shared Campaign's (election.cc).

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "ballast/core/json.h"
#include "ballast/net/http_client.h"
#include "ballast/state/election.h"
#include "ballast/state/leader.h"
#include "ballast/state/lease_record.h"
#include "rapidjson/document.h"

namespace ballast::state {

// --- The record -------------------------------------------------------------

std::string FormatMicroTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

namespace {

absl::Status ReadString(const rapidjson::Value& object, absl::string_view key,
                        std::string& out) {
  const rapidjson::Value* v = JsonFind(object, key);
  if (v == nullptr || v->IsNull()) return absl::OkStatus();
  if (!v->IsString()) {
    return absl::DataLossError(absl::StrCat(
        "Lease: ", key, " is a ", JsonTypeName(*v), ", not a string"));
  }
  out = std::string(JsonText(*v));
  return absl::OkStatus();
}

absl::Status ReadInt(const rapidjson::Value& object, absl::string_view key,
                     int64_t& out) {
  const rapidjson::Value* v = JsonFind(object, key);
  if (v == nullptr || v->IsNull()) return absl::OkStatus();
  // int32 in the API.
  if (!v->IsNumber() || v->GetDouble() != std::floor(v->GetDouble()) ||
      std::abs(v->GetDouble()) > 2147483647.0) {
    return absl::DataLossError(
        absl::StrCat("Lease: ", key, " is not an integer"));
  }
  out = static_cast<int64_t>(v->GetDouble());
  return absl::OkStatus();
}

absl::Status ReadMap(const rapidjson::Value& object, absl::string_view key,
                     std::vector<std::pair<std::string, std::string>>& out) {
  const rapidjson::Value* v = JsonFind(object, key);
  if (v == nullptr || v->IsNull()) return absl::OkStatus();
  if (!v->IsObject()) {
    return absl::DataLossError(
        absl::StrCat("Lease: metadata.", key, " is not an object"));
  }
  for (const auto& m : v->GetObject()) {
    if (!m.value.IsString()) {
      return absl::DataLossError(
          absl::StrCat("Lease: metadata.", key, " has a value not a string"));
    }
    out.emplace_back(JsonText(m.name), JsonText(m.value));
  }
  return absl::OkStatus();
}

void WriteMap(JsonWriter& w, absl::string_view key,
              const std::vector<std::pair<std::string, std::string>>& map) {
  if (map.empty()) return;
  w.Key(key).StartObject();
  for (const auto& [k, v] : map) w.Key(k).String(v);
  w.EndObject();
}

}  // namespace

absl::StatusOr<Lease> ParseLease(absl::string_view json) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(json);
  if (!doc.ok()) {
    return absl::DataLossError(absl::StrCat("Lease: ", doc.status().message()));
  }
  const rapidjson::Value* metadata = JsonFind(*doc, "metadata");
  if (metadata == nullptr || !metadata->IsObject()) {
    return absl::DataLossError("Lease: no metadata");
  }
  Lease lease;
  absl::Status s = ReadString(*metadata, "name", lease.name);
  if (s.ok() && lease.name.empty()) {
    s = absl::DataLossError("Lease: no metadata.name");
  }
  if (s.ok()) s = ReadString(*metadata, "namespace", lease.namespace_);
  if (s.ok()) s = ReadString(*metadata, "uid", lease.uid);
  if (s.ok()) {
    s = ReadString(*metadata, "resourceVersion", lease.resource_version);
  }
  if (s.ok()) s = ReadMap(*metadata, "labels", lease.labels);
  if (s.ok()) s = ReadMap(*metadata, "annotations", lease.annotations);
  const rapidjson::Value* spec = JsonFind(*doc, "spec");
  if (s.ok() && spec != nullptr && !spec->IsNull()) {
    if (!spec->IsObject()) return absl::DataLossError("Lease: spec");
    LeaseSpec& r = lease.spec;
    s = ReadString(*spec, "holderIdentity", r.holder_identity);
    if (s.ok()) {
      s = ReadInt(*spec, "leaseDurationSeconds", r.lease_duration_seconds);
    }
    if (s.ok()) s = ReadString(*spec, "acquireTime", r.acquire_time);
    if (s.ok()) s = ReadString(*spec, "renewTime", r.renew_time);
    if (s.ok()) s = ReadInt(*spec, "leaseTransitions", r.lease_transitions);
  }
  if (!s.ok()) return s;
  return lease;
}

std::string LeaseJson(const Lease& lease) {
  JsonWriter w;
  w.StartObject()
      .Key("apiVersion")
      .String("coordination.k8s.io/v1")
      .Key("kind")
      .String("Lease");
  w.Key("metadata").StartObject().Key("name").String(lease.name);
  w.Key("namespace").String(lease.namespace_);
  if (!lease.uid.empty()) w.Key("uid").String(lease.uid);
  if (!lease.resource_version.empty()) {
    w.Key("resourceVersion").String(lease.resource_version);
  }
  WriteMap(w, "labels", lease.labels);
  WriteMap(w, "annotations", lease.annotations);
  w.EndObject();
  const LeaseSpec& r = lease.spec;
  w.Key("spec")
      .StartObject()
      .Key("holderIdentity")
      .String(r.holder_identity)
      .Key("leaseDurationSeconds")
      .Int(r.lease_duration_seconds);
  if (!r.acquire_time.empty()) w.Key("acquireTime").String(r.acquire_time);
  if (!r.renew_time.empty()) w.Key("renewTime").String(r.renew_time);
  w.Key("leaseTransitions").Int(r.lease_transitions).EndObject();
  return w.EndObject().Take();
}

// --- The lock ---------------------------------------------------------------

namespace {

// Kubernetes error bodies are Status objects whose "message" says why.
std::string StatusMessage(absl::string_view body) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  const rapidjson::Value* message =
      doc.ok() ? JsonFind(*doc, "message") : nullptr;
  if (message != nullptr && message->IsString()) {
    return net::Shorten(JsonText(*message), 300);
  }
  return net::Shorten(body, 200);
}

class LeaseLock : public LockBackend {
 public:
  LeaseLock(std::unique_ptr<net::HttpClient> http, std::string ns,
            std::string name, const ElectionOptions& options)
      : http_(std::move(http)),
        ns_(std::move(ns)),
        name_(std::move(name)),
        what_(absl::StrCat("Lease ", ns_, "/", name_)),
        collection_(absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/",
                                 net::UrlEncode(ns_), "/leases")),
        item_(absl::StrCat(collection_, "/", net::UrlEncode(name_))),
        identity_(options.identity),
        lease_seconds_(absl::ToInt64Seconds(options.lease_duration)),
        clock_(options.clock) {}

  void TryAcquireOrRenew(AttemptDone done) override {
    // The record's times are wall-clock facts for people (kubectl shows
    // them); no replica measures anything with them.
    const std::string now = FormatMicroTime(absl::Now());
    LeaseSpec desired{.holder_identity = identity_,
                      .lease_duration_seconds = lease_seconds_,
                      .acquire_time = now,
                      .renew_time = now};
    // client-go's fast path: the leader updates the record it last saw,
    // without reading it first; on any failure it reads and decides.
    if (observed_ && IsLeader() && Valid(clock_())) {
      Lease lease = *observed_;
      lease.spec = desired;
      lease.spec.acquire_time = observed_->spec.acquire_time;
      lease.spec.lease_transitions = observed_->spec.lease_transitions;
      Update(lease, [this, desired, done = std::move(done)](
                        absl::StatusOr<LockState> r) mutable {
        if (r.ok()) {
          std::move(done)(std::move(r));
        } else {
          SlowPath(std::move(desired), std::move(done));
        }
      });
      return;
    }
    SlowPath(std::move(desired), std::move(done));
  }

  void Release(ReleaseDone done) override {
    if (!observed_ || !IsLeader()) {
      std::move(done)(absl::OkStatus());
      return;
    }
    // client-go's release: no holder, a one-second duration, the
    // transitions kept (the next holder adds one).
    const std::string now = FormatMicroTime(absl::Now());
    Lease lease = *observed_;
    lease.spec =
        LeaseSpec{.holder_identity = "",
                  .lease_duration_seconds = 1,
                  .acquire_time = now,
                  .renew_time = now,
                  .lease_transitions = observed_->spec.lease_transitions};
    Update(lease, [done = std::move(done)](
                      const absl::StatusOr<LockState>& r) mutable {
      std::move(done)(r.status());
    });
  }

 private:
  using Done = absl::AnyInvocable<void(absl::StatusOr<LockState>) &&>;

  bool IsLeader() const {
    return observed_ && observed_->spec.holder_identity == identity_;
  }
  // Whether the observed record has not expired, measured from when this
  // replica saw it change (client-go's isLeaseValid).
  bool Valid(absl::Time now) const {
    return observed_ &&
           now < observed_time_ +
                     absl::Seconds(observed_->spec.lease_duration_seconds);
  }

  // Records `lease` as observed, its time now if its spec changed.
  void Observe(Lease lease) {
    if (!observed_ || !(observed_->spec == lease.spec)) {
      observed_time_ = clock_();
    }
    observed_ = std::move(lease);
  }

  LockState Held() const {
    return LockState{
        .held = true,
        .term = static_cast<uint64_t>(observed_->spec.lease_transitions) + 1,
        .holder = identity_};
  }

  absl::Status HttpError(absl::string_view verb, int status,
                         absl::string_view body) const {
    absl::StatusCode code = net::CodeForHttpStatus(status);
    if (status == 409) code = absl::StatusCode::kAborted;  // lost the race
    return absl::Status(code, absl::StrCat(verb, " ", what_, ": HTTP ", status,
                                           ": ", StatusMessage(body)));
  }

  void SlowPath(LeaseSpec desired, Done done) {
    http_->Send(
        {.target = item_},
        [this, desired = std::move(desired),
         done = std::move(done)](absl::StatusOr<net::HttpResponse> r) mutable {
          if (!r.ok()) {
            std::move(done)(absl::Status(
                r.status().code(),
                absl::StrCat("get ", what_, ": ", r.status().message())));
            return;
          }
          if (r->status == 404) {
            Create(std::move(desired), std::move(done));
            return;
          }
          if (r->status != 200) {
            std::move(done)(HttpError("get", r->status, r->body));
            return;
          }
          absl::StatusOr<Lease> lease = ParseLease(r->body);
          if (!lease.ok()) {
            std::move(done)(lease.status());
            return;
          }
          Observe(*std::move(lease));
          const LeaseSpec& seen = observed_->spec;
          if (!seen.holder_identity.empty() && Valid(clock_()) && !IsLeader()) {
            std::move(done)(LockState{.holder = seen.holder_identity});
            return;
          }
          if (IsLeader()) {
            desired.acquire_time = seen.acquire_time;
            desired.lease_transitions = seen.lease_transitions;
          } else {
            desired.lease_transitions = seen.lease_transitions + 1;
          }
          Lease update = *observed_;
          update.spec = std::move(desired);
          Update(update, std::move(done));
        });
  }

  void Create(LeaseSpec desired, Done done) {
    Lease lease{.name = name_, .namespace_ = ns_, .spec = std::move(desired)};
    lease.spec.lease_transitions = 0;
    http_->Send({.method = "POST",
                 .target = collection_,
                 .body = LeaseJson(lease),
                 .content_type = "application/json"},
                [this, done = std::move(done)](
                    absl::StatusOr<net::HttpResponse> r) mutable {
                  Finish("create", std::move(r), std::move(done));
                });
  }

  // PUT `lease` (its resourceVersion: the one it was read with).
  void Update(const Lease& lease, Done done) {
    http_->Send({.method = "PUT",
                 .target = item_,
                 .body = LeaseJson(lease),
                 .content_type = "application/json"},
                [this, done = std::move(done)](
                    absl::StatusOr<net::HttpResponse> r) mutable {
                  Finish("update", std::move(r), std::move(done));
                });
  }

  // The written Lease (the server's answer) becomes the observed record.
  void Finish(absl::string_view verb, absl::StatusOr<net::HttpResponse> r,
              Done done) {
    if (!r.ok()) {
      std::move(done)(absl::Status(
          r.status().code(),
          absl::StrCat(verb, " ", what_, ": ", r.status().message())));
      return;
    }
    if (r->status != 200 && r->status != 201) {
      std::move(done)(HttpError(verb, r->status, r->body));
      return;
    }
    absl::StatusOr<Lease> lease = ParseLease(r->body);
    if (!lease.ok()) {
      std::move(done)(lease.status());
      return;
    }
    Observe(*std::move(lease));
    if (!IsLeader()) {  // a release
      std::move(done)(LockState{.holder = observed_->spec.holder_identity});
      return;
    }
    std::move(done)(Held());
  }

  const std::unique_ptr<net::HttpClient> http_;
  const std::string ns_;
  const std::string name_;
  const std::string what_;
  const std::string collection_;
  const std::string item_;
  const std::string identity_;
  const int64_t lease_seconds_;
  const Clock clock_;
  // The record as last read or written, and when its spec last changed as
  // this replica saw it (on clock_). Touched by one call at a time.
  std::optional<Lease> observed_;
  absl::Time observed_time_ = absl::InfinitePast();
};

}  // namespace

absl::StatusOr<std::unique_ptr<Elector>> MakeLeaseElector(
    boost::asio::io_context& io, net::HttpClientOptions api,
    std::string namespace_, std::string name, const ElectionOptions& options) {
  if (absl::Status s = ValidateElectionOptions(options); !s.ok()) return s;
  if (options.lease_duration < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "leader election: a Lease's duration is whole seconds, at least 1");
  }
  if (namespace_.empty() || name.empty()) {
    return absl::InvalidArgumentError(
        "leader election: the Lease needs a namespace and a name");
  }
  // A hung API server must not keep a try going past the renew deadline:
  // the Campaign steps down on time regardless, but a try that never ends
  // would keep the next one from starting.
  api.timeout = std::min(api.timeout, options.renew_deadline / 2);
  api.max_body_bytes = std::min(api.max_body_bytes, size_t{1} << 20);
  absl::StatusOr<std::unique_ptr<net::HttpClient>> http =
      net::HttpClient::Create(io, std::move(api));
  if (!http.ok()) return http.status();
  return MakeElector(
      io,
      std::make_unique<LeaseLock>(*std::move(http), std::move(namespace_),
                                  std::move(name), options),
      options);
}

}  // namespace ballast::state
