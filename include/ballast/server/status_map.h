// ballast/server/status_map.h
//
// The one place where an absl::Status becomes a protocol's error: a gRPC
// status (the codes are the same numbers) or an HTTP status with the
// Kubernetes `Status` reason that goes with it.
//
//   grpc::Status g = ToGrpcStatus(absl::NotFoundError("no target 'x'"));
//   HttpError e = ToHttpError(absl::UnavailableError("no recommendation yet"));
//   // e.code == 503, e.reason == "ServiceUnavailable"
#ifndef BALLAST_SERVER_STATUS_MAP_H_
#define BALLAST_SERVER_STATUS_MAP_H_

#include <string>

#include "absl/status/status.h"
#include "grpcpp/support/status.h"

namespace ballast::server {

grpc::Status ToGrpcStatus(const absl::Status& status);

struct HttpError {
  int code;            // 400, 401, 403, 404, 500, 503, ...
  std::string reason;  // Kubernetes StatusReason: "NotFound", ...
};

// InvalidArgument/FailedPrecondition/OutOfRange → 400 BadRequest;
// Unauthenticated → 401 Unauthorized; PermissionDenied → 403 Forbidden;
// NotFound → 404 NotFound; Unimplemented → 405 MethodNotAllowed;
// Unavailable/DeadlineExceeded → 503
// ServiceUnavailable; ResourceExhausted → 429 TooManyRequests;
// anything else → 500 InternalError.
HttpError ToHttpError(const absl::Status& status);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_STATUS_MAP_H_
