// tests/integration/prometheus/expect_status.h
//
// The check both Prometheus test files use: a query failed with `code` and a
// message that names `part`.
#ifndef BALLAST_TESTS_INTEGRATION_PROMETHEUS_EXPECT_STATUS_H_
#define BALLAST_TESTS_INTEGRATION_PROMETHEUS_EXPECT_STATUS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "ballast/source/prometheus_client.h"
#include "gtest/gtest.h"

namespace ballast::source {

inline void ExpectCode(const absl::StatusOr<QueryResult>& r,
                       absl::StatusCode code, const std::string& part) {
  ASSERT_FALSE(r.ok()) << "got value " << r->value;
  EXPECT_EQ(r.status().code(), code) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), part))
      << r.status() << " lacks " << part;
}

}  // namespace ballast::source

#endif  // BALLAST_TESTS_INTEGRATION_PROMETHEUS_EXPECT_STATUS_H_
