// tests/integration/common/http_reply.h
//
// An HTTP/1.1 response as the test clients read it, and its parser.
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_HTTP_REPLY_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_HTTP_REPLY_H_

#include <map>
#include <string>

#include "absl/strings/string_view.h"

namespace ballast::testing {

struct HttpReply {
  int status = 0;                              // 0: no parsable status line
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  bool close = false;  // the server said Connection: close
};

// Parses a status line and headers (`head`, without the blank line) into
// `reply`; false when the status line is not one.
bool ParseHead(absl::string_view head, HttpReply& reply);

// Parses the first response in `received` (Content-Length bodies; without
// one, the rest).
HttpReply ParseReply(const std::string& received);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_HTTP_REPLY_H_
