#include "ballast/state/lease_record.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::state {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(FormatMicroTime, IsRfc3339InUtcWithMicroseconds) {
  const absl::Time t =
      absl::FromUnixSeconds(1136214245) + absl::Microseconds(120);
  EXPECT_EQ(FormatMicroTime(t), "2006-01-02T15:04:05.000120Z");
  // Nanoseconds are cut, not rounded.
  EXPECT_EQ(FormatMicroTime(absl::FromUnixNanos(999'999'999)),
            "1970-01-01T00:00:00.999999Z");
}

// As the API server answers a GET of a Lease client-go wrote.
constexpr char kServerLease[] = R"({
  "kind": "Lease", "apiVersion": "coordination.k8s.io/v1",
  "metadata": {"name": "ballast-leader", "namespace": "autoscaling",
    "uid": "0b9c5c9e-7c1f-4a6e-9d51-1b9cbd1d8a11", "resourceVersion": "4711",
    "creationTimestamp": "2026-12-07T10:00:00Z",
    "labels": {"app": "ballast"},
    "managedFields": [{"manager": "ballast", "operation": "Update",
      "apiVersion": "coordination.k8s.io/v1", "time": "2026-12-07T10:00:00Z",
      "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}}]},
  "spec": {"holderIdentity": "ballast-0", "leaseDurationSeconds": 15,
    "acquireTime": "2026-12-07T10:00:00.000000Z",
    "renewTime": "2026-12-07T10:05:02.123456Z", "leaseTransitions": 3}
})";

TEST(ParseLease, ReadsTheRecordAndWhatAnUpdateSendsBack) {
  absl::StatusOr<Lease> lease = ParseLease(kServerLease);
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->name, "ballast-leader");
  EXPECT_EQ(lease->namespace_, "autoscaling");
  EXPECT_EQ(lease->uid, "0b9c5c9e-7c1f-4a6e-9d51-1b9cbd1d8a11");
  EXPECT_EQ(lease->resource_version, "4711");
  EXPECT_THAT(lease->labels, ElementsAre(Pair("app", "ballast")));
  EXPECT_TRUE(lease->annotations.empty());
  EXPECT_EQ(lease->spec,
            (LeaseSpec{.holder_identity = "ballast-0",
                       .lease_duration_seconds = 15,
                       .acquire_time = "2026-12-07T10:00:00.000000Z",
                       .renew_time = "2026-12-07T10:05:02.123456Z",
                       .lease_transitions = 3}));
}

TEST(ParseLease, AbsentSpecFieldsAreEmpty) {
  absl::StatusOr<Lease> lease =
      ParseLease(R"({"metadata": {"name": "l", "namespace": "n"}})");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->spec, LeaseSpec{});
  lease = ParseLease(
      R"({"metadata": {"name": "l"}, "spec": {"holderIdentity": null}})");
  ASSERT_TRUE(lease.ok()) << lease.status();
  EXPECT_EQ(lease->spec.holder_identity, "");
}

TEST(ParseLease, RefusesWhatIsNotALease) {
  EXPECT_EQ(ParseLease("not json").status().code(),
            absl::StatusCode::kDataLoss);
  EXPECT_THAT(ParseLease(R"({"kind": "Status"})").status().message(),
              HasSubstr("no metadata"));
  EXPECT_THAT(ParseLease(R"({"metadata": {}})").status().message(),
              HasSubstr("no metadata.name"));
  EXPECT_THAT(
      ParseLease(
          R"({"metadata": {"name": "l"}, "spec": {"leaseTransitions": 1.5}})")
          .status()
          .message(),
      HasSubstr("leaseTransitions is not an integer"));
  EXPECT_THAT(
      ParseLease(
          R"({"metadata": {"name": "l"}, "spec": {"holderIdentity": 7}})")
          .status()
          .message(),
      HasSubstr("holderIdentity is a number, not a string"));
}

TEST(LeaseJson, ACreateHasNoResourceVersionAndEverySpecField) {
  const Lease lease{.name = "ballast-leader",
                    .namespace_ = "autoscaling",
                    .spec = {.holder_identity = "ballast-0",
                             .lease_duration_seconds = 15,
                             .acquire_time = "2026-12-07T10:00:00.000000Z",
                             .renew_time = "2026-12-07T10:00:00.000000Z"}};
  EXPECT_EQ(
      LeaseJson(lease),
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",)"
      R"("metadata":{"name":"ballast-leader","namespace":"autoscaling"},)"
      R"("spec":{"holderIdentity":"ballast-0","leaseDurationSeconds":15,)"
      R"("acquireTime":"2026-12-07T10:00:00.000000Z",)"
      R"("renewTime":"2026-12-07T10:00:00.000000Z","leaseTransitions":0}})");
}

TEST(LeaseJson, AnUpdateRoundTripsAndKeepsAnEmptyHolder) {
  absl::StatusOr<Lease> lease = ParseLease(kServerLease);
  ASSERT_TRUE(lease.ok());
  lease->spec.holder_identity = "";  // a release
  lease->spec.lease_duration_seconds = 1;
  const std::string json = LeaseJson(*lease);
  EXPECT_THAT(json, HasSubstr(R"("resourceVersion":"4711")"));
  EXPECT_THAT(json, HasSubstr(R"("labels":{"app":"ballast"})"));
  EXPECT_THAT(json, HasSubstr(R"("holderIdentity":"")"));
  absl::StatusOr<Lease> back = ParseLease(json);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->spec, lease->spec);
  EXPECT_EQ(back->uid, lease->uid);
  EXPECT_EQ(back->resource_version, "4711");
}

}  // namespace
}  // namespace ballast::state
