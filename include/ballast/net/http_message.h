// ballast/net/http_message.h
//
// One HTTP request and one response type for both sides: the server fills a
// request from the wire and sends a response; the client sends a request and
// receives a response.
//
//   HttpRequest req{.method = "POST", .target = "/api/v1/query",
//                   .body = "query=up",
//                   .content_type = "application/x-www-form-urlencoded"};
//   HttpResponse ok{.status = 200, .body = "ok\n"};
#ifndef BALLAST_NET_HTTP_MESSAGE_H_
#define BALLAST_NET_HTTP_MESSAGE_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace ballast::net {

struct HttpRequest {
  std::string method = "GET";
  // Path and query as sent: "/apis/x?labelSelector=a%3Db". A client appends
  // it to its base URL's path prefix.
  std::string target;
  // Filled by the server: `target` before '?', still percent-encoded, and
  // after it (empty when there is none).
  std::string path;
  std::string query;
  // In the order sent; the server lowercases names. A client sends these
  // after its own (HttpClientOptions::headers).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // A client sends it when `body` is not empty; the server leaves it empty
  // (the header is in `headers`).
  std::string content_type;

  // Every value of header `name` (any case), in order.
  std::vector<std::string> HeaderValues(absl::string_view name) const;
  // The first value of header `name`, or nullopt.
  std::optional<std::string> Header(absl::string_view name) const;
};

struct HttpResponse {
  int status = 200;  // for a client, any status is a response, not an error
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // Sent by the server after the standard ones; a client leaves it empty.
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace ballast::net

#endif  // BALLAST_NET_HTTP_MESSAGE_H_
