// ballast/state/lease_record.h
//
// A coordination.k8s.io/v1 Lease as the Lease elector (state/leader.h)
// reads and writes it: the fields of its spec that client-go's LeaseLock
// uses as the leader election record, and the metadata an update must send
// back (resourceVersion for optimistic concurrency; labels and annotations,
// so that an update does not drop them).
//
//   absl::StatusOr<Lease> lease = ParseLease(response.body);
//   lease->spec.renew_time = FormatMicroTime(absl::Now());
//   std::string body = LeaseJson(*lease);   // PUT it back
#ifndef BALLAST_STATE_LEASE_RECORD_H_
#define BALLAST_STATE_LEASE_RECORD_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ballast::state {

// LeaseSpec, as client-go's LeaseSpecToLeaderElectionRecord reads it: an
// absent field is empty or zero.
struct LeaseSpec {
  std::string holder_identity;
  int64_t lease_duration_seconds = 0;
  // MicroTime text as the API server returned it ("" when absent): kept as
  // text, compared as text (a change of the record is a change of bytes).
  std::string acquire_time;
  std::string renew_time;
  int64_t lease_transitions = 0;

  bool operator==(const LeaseSpec&) const = default;
};

struct Lease {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;  // "" for a create
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;
  LeaseSpec spec;
};

// RFC 3339 in UTC with microseconds, as metav1.MicroTime is written:
// "2006-01-02T15:04:05.000000Z".
std::string FormatMicroTime(absl::Time t);

// A Lease object from the API server's JSON. DataLoss when it is not a
// Lease (not JSON, no metadata.name, a spec field of the wrong type).
absl::StatusOr<Lease> ParseLease(absl::string_view json);

// The Lease as JSON for a create (POST, resource_version empty) or an
// update (PUT): apiVersion, kind, metadata (name, namespace, and uid,
// resourceVersion, labels, annotations when set) and every spec field
// (client-go's LeaderElectionRecordToLeaseSpec sets them all, the holder
// even when empty).
std::string LeaseJson(const Lease& lease);

}  // namespace ballast::state

#endif  // BALLAST_STATE_LEASE_RECORD_H_
