// ballast/server/delegated_auth.h
//
// Authentication and authorization as an extension API server does them
// behind the kube-apiserver's aggregation layer (k8s.io/apiserver's
// "delegated" mode), without sockets of its own but the API server client:
//
// - The front-proxy trust: the CA that signs the aggregator's client
//   certificate, the names that certificate may carry and the headers that
//   carry the user. In a cluster it lives in the ConfigMap
//   kube-system/extension-apiserver-authentication, which the API server
//   writes from its --requestheader-* flags; ParseAuthenticationConfigMap
//   reads it.
// - Request attributes: what a request does in the API server's terms (its
//   RequestInfo): a GET of /apis/external.metrics.k8s.io/v1beta1/namespaces/
//   {ns}/{metric} is verb "list" on resource {metric} in that group and
//   namespace; discovery paths are non-resource "get"s of their path.
// - SubjectAccessReviewAuthorizer: asks the API server (POST
//   authorization.k8s.io/v1 subjectaccessreviews) whether the user may do
//   it, caching allowed and denied answers for their own times. Members of
//   system:masters are allowed without asking, as k8s.io/apiserver does.
//   When the API server cannot answer, the request fails closed.
#ifndef BALLAST_SERVER_DELEGATED_AUTH_H_
#define BALLAST_SERVER_DELEGATED_AUTH_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "ballast/core/clock.h"
#include "ballast/net/http_client.h"
#include "ballast/net/http_server.h"

namespace ballast::server {

// The identity of an authenticated request.
struct RemoteUser {
  std::string name;                 // the first username header's value
  std::vector<std::string> groups;  // every group header's values, in order
  // Extra headers: "<prefix><key>" with the key lowercased and
  // percent-decoded, as k8s.io/apiserver reads them.
  std::map<std::string, std::vector<std::string>> extra;
};

// How the front proxy's requests are recognised and whom they carry.
struct RequestHeaderConfig {
  std::vector<std::string> allowed_names;  // empty: any common name
  std::vector<std::string> username_headers = {"X-Remote-User"};
  std::vector<std::string> group_headers = {"X-Remote-Group"};
  std::vector<std::string> extra_header_prefixes = {"X-Remote-Extra-"};

  bool operator==(const RequestHeaderConfig&) const = default;
};

inline constexpr char kAuthenticatedGroup[] = "system:authenticated";
inline constexpr char kUnauthenticatedGroup[] = "system:unauthenticated";
inline constexpr char kAnonymousUser[] = "system:anonymous";

// The user a front-proxied request carries, by `config`'s header names
// (the certificate was verified by the caller). Unauthenticated when no
// username header has a value. As an extension API server built on
// k8s.io/apiserver does, system:authenticated is appended to the groups
// (once: not when it or system:unauthenticated is already there, nor for
// system:anonymous), so that the aggregator's own requests, which carry
// the user system:kube-aggregator and no group, are authorized as the API
// server authorizes that user.
absl::StatusOr<RemoteUser> UserFromHeaders(const net::HttpRequest& request,
                                           const RequestHeaderConfig& config);

struct FrontProxyTrust {
  std::string client_ca_pem;  // requestheader-client-ca-file
  RequestHeaderConfig headers;

  bool operator==(const FrontProxyTrust&) const = default;
};

inline constexpr char kAuthenticationConfigMapPath[] =
    "/api/v1/namespaces/kube-system/configmaps/"
    "extension-apiserver-authentication";

// The front-proxy trust in the body of that ConfigMap (a GET's response).
// FailedPrecondition when it has no requestheader-client-ca-file (the API
// server runs without the aggregation layer's flags); DataLoss for a body
// that is not such a ConfigMap.
absl::StatusOr<FrontProxyTrust> ParseAuthenticationConfigMap(
    absl::string_view body);

// What a request does, in the API server's authorization terms.
struct RequestAttributes {
  bool resource_request = false;
  std::string verb;  // "list", "get"
  // Resource requests:
  std::string namespace_;
  std::string group;
  std::string version;
  std::string resource;
  // Non-resource requests:
  std::string path;

  bool operator==(const RequestAttributes&) const = default;
};

// The attributes of a request to the external metrics API.
RequestAttributes AttributesOf(const net::HttpRequest& request);

// The SubjectAccessReview (authorization.k8s.io/v1) asking whether `user`
// may do `attributes`, as JSON.
std::string SubjectAccessReviewJson(const RemoteUser& user,
                                    const RequestAttributes& attributes);

struct AuthorizationDecision {
  bool allowed = false;
  std::string reason;   // the authorizer's reason, may be empty
  bool cached = false;  // answered from the cache
};

// A SubjectAccessReview response (any HTTP status) as a decision; a status
// other than 201/200 or a body without status.allowed is an error (the
// API server could not answer).
absl::StatusOr<AuthorizationDecision> ParseSubjectAccessReviewResponse(
    int http_status, absl::string_view body);

// "user \"alice\" cannot list resource \"m\" in API group \"g\" in the
// namespace \"default\"" (the API server's own wording of a denial).
std::string DescribeDenial(const RemoteUser& user,
                           const RequestAttributes& attributes,
                           absl::string_view reason);

// Decisions by (user, attributes), each valid for its own time. Pure: time
// is an argument. Thread-safe.
class AuthorizationCache {
 public:
  AuthorizationCache(absl::Duration allowed_ttl, absl::Duration denied_ttl,
                     size_t max_entries = 4096);
  std::optional<AuthorizationDecision> Get(const RemoteUser& user,
                                           const RequestAttributes& attributes,
                                           absl::Time now) const;
  void Put(const RemoteUser& user, const RequestAttributes& attributes,
           const AuthorizationDecision& decision, absl::Time now);
  size_t size() const;

 private:
  struct Entry {
    AuthorizationDecision decision;
    absl::Time expires;
  };
  const absl::Duration allowed_ttl_;
  const absl::Duration denied_ttl_;
  const size_t max_entries_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

class SubjectAccessReviewAuthorizer {
 public:
  struct Options {
    absl::Duration allowed_ttl = absl::Seconds(10);
    absl::Duration denied_ttl = absl::Seconds(10);
    // Members are allowed without a review.
    std::vector<std::string> always_allow_groups = {"system:masters"};
    // Monotonic: a step of the wall clock must not stretch a TTL.
    Clock now = MonotonicNow;
  };
  using Callback =
      absl::AnyInvocable<void(absl::StatusOr<AuthorizationDecision>) &&>;

  // `client` reaches the API server (KubernetesClientOptions); its timeout
  // bounds each review.
  static absl::StatusOr<std::unique_ptr<SubjectAccessReviewAuthorizer>> Create(
      boost::asio::io_context& io, net::HttpClientOptions client,
      Options options);

  // `done` runs once: at once for a cached or always-allowed answer, else
  // on the io_context with the API server's answer or Unavailable (naming
  // why the API server could not be asked).
  void Authorize(const RemoteUser& user, const RequestAttributes& attributes,
                 Callback done);

 private:
  SubjectAccessReviewAuthorizer(std::unique_ptr<net::HttpClient> http,
                                Options options);
  std::unique_ptr<net::HttpClient> http_;
  const Options options_;
  std::shared_ptr<AuthorizationCache> cache_;
};

}  // namespace ballast::server

#endif  // BALLAST_SERVER_DELEGATED_AUTH_H_
