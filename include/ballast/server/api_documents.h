// ballast/server/api_documents.h
//
// The documents an extension API server behind the kube-apiserver's
// aggregation layer serves besides its resources, as servers built on
// k8s.io/apiserver serve them, and the content negotiation that picks them:
//
// - Aggregated discovery: /apis with
//   `Accept:
//   application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList` (what
//   the aggregator's discovery manager asks for every minute, v2 and,
//   before 1.37, v2beta1) is an APIGroupDiscoveryList of that version with
//   every served metric as a resource; any other acceptable Accept gets the
//   legacy APIGroupList. With an ETag: an If-None-Match of it is a 304.
// - OpenAPI v2 (/openapi/v2, what the aggregator merges into its own) and
//   v3 (/openapi/v3, the root listing the group-version with its hash, and
//   /openapi/v3/apis/external.metrics.k8s.io/v1beta1, what `kubectl
//   explain` reads through the aggregator): Swagger 2.0 and OpenAPI 3.0
//   documents of the discovery document and the ExternalMetricValueList
//   each metric returns, with the model names of k8s.io/metrics. JSON only:
//   an Accept of protobuf alone is 406 NotAcceptable.
//
// The documents are constant (generated once from the served metrics).
// Pure: no sockets.
#ifndef BALLAST_SERVER_API_DOCUMENTS_H_
#define BALLAST_SERVER_API_DOCUMENTS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "ballast/net/http_message.h"

namespace ballast::server {

// The metrics served, in discovery order.
const std::vector<absl::string_view>& ServedExternalMetrics();

// One media range of an Accept header.
struct MediaRange {
  std::string type;                           // lowercased; "*" for any
  std::string subtype;                        // lowercased; "*" for any
  std::map<std::string, std::string> params;  // names lowercased, no q
  double q = 1;
};

// The ranges of an Accept header, most preferred first (by q, then in the
// order sent); ranges with q=0 and malformed ones are left out.
std::vector<MediaRange> ParseAccept(absl::string_view accept);

enum class DiscoveryFormat { kLegacy, kAggregatedV2, kAggregatedV2Beta1 };

// The /apis document for an Accept header (empty: legacy); nullopt when
// nothing we serve is acceptable.
std::optional<DiscoveryFormat> NegotiateDiscovery(absl::string_view accept);

// Whether an Accept header (empty: yes) accepts application/json.
bool AcceptsJson(absl::string_view accept);

// The aggregated discovery document (kAggregatedV2 or kAggregatedV2Beta1)
// and its content type.
const std::string& AggregatedDiscoveryJson(DiscoveryFormat format);
std::string AggregatedDiscoveryContentType(DiscoveryFormat format);

const std::string& OpenApiV2Json();
// The group-version document and the root that lists it (with its hash).
const std::string& OpenApiV3GroupVersionJson();
const std::string& OpenApiV3RootJson();
// "apis/external.metrics.k8s.io/v1beta1", the root's key for it.
std::string OpenApiV3GroupVersionKey();

// The hex SHA-512 of a body, unquoted (as k8s.io/kube-openapi's).
std::string BodyHash(absl::string_view body);

// 200 with `body`, `content_type` and a quoted ETag of its hash (plus Vary:
// Accept), or 304 without a body when the request's If-None-Match is that
// ETag.
net::HttpResponse WithETag(const net::HttpRequest& request, std::string body,
                           std::string content_type);

// A 406 NotAcceptable Status naming what is served.
net::HttpResponse NotAcceptable(absl::string_view accept,
                                absl::string_view served);

// /openapi/... (path segments decoded, "openapi" first): the documents
// above, 404 for any other OpenAPI path.
net::HttpResponse ServeOpenApi(const net::HttpRequest& request,
                               const std::vector<std::string>& segments);

}  // namespace ballast::server

#endif  // BALLAST_SERVER_API_DOCUMENTS_H_
