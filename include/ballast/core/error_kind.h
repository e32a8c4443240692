// ballast/core/error_kind.h
//
// A status code as a metric label, the same word everywhere a failure is
// counted (`ballast_source_errors_total{error=...}` and the servers' own):
//
//   ErrorKind(absl::UnavailableError("x"))       // "unavailable"
//   ErrorKind(absl::DeadlineExceededError("x"))  // "deadline_exceeded"
#ifndef BALLAST_CORE_ERROR_KIND_H_
#define BALLAST_CORE_ERROR_KIND_H_

#include <string>

#include "absl/status/status.h"

namespace ballast {

std::string ErrorKind(const absl::Status& status);

}  // namespace ballast

#endif  // BALLAST_CORE_ERROR_KIND_H_
