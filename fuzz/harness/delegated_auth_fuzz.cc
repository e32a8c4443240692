// The Kubernetes API answers delegated authentication and authorization
// read (server/delegated_auth.h): the extension-apiserver-authentication
// ConfigMap and a SubjectAccessReview response. The first byte picks the
// parser (and the HTTP status of the review).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ballast/server/delegated_auth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  if ((mode & 1) == 0) {
    const std::string body = in.ConsumeRemainingBytesAsString();
    absl::StatusOr<ballast::server::FrontProxyTrust> trust =
        ballast::server::ParseAuthenticationConfigMap(body);
    if (trust.ok()) (void)trust->headers.username_headers.size();
    return 0;
  }
  constexpr int kStatuses[] = {201, 200, 400, 401, 403, 404, 500, 503};
  const int status = kStatuses[(mode >> 1) & 7];
  const std::string body = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<ballast::server::AuthorizationDecision> d =
      ballast::server::ParseSubjectAccessReviewResponse(status, body);
  if (d.ok()) (void)d->reason.size();
  return 0;
}
