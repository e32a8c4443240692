#include "integration/common/http_reply.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace ballast::testing {

bool ParseHead(absl::string_view head, HttpReply& reply) {
  std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 ||
      !absl::SimpleAtoi(status_line[1], &reply.status)) {
    reply.status = 0;
    return false;
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    reply.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  if (auto it = reply.headers.find("connection"); it != reply.headers.end()) {
    reply.close = absl::EqualsIgnoreCase(it->second, "close");
  }
  return true;
}

HttpReply ParseReply(const std::string& received) {
  HttpReply reply;
  const size_t end = received.find("\r\n\r\n");
  if (end == std::string::npos) return reply;
  if (!ParseHead(absl::string_view(received).substr(0, end), reply)) {
    return reply;
  }
  size_t length = received.size() - end - 4;
  if (auto it = reply.headers.find("content-length");
      it != reply.headers.end()) {
    size_t declared = 0;
    if (absl::SimpleAtoi(it->second, &declared)) {
      length = std::min(length, declared);
    }
  }
  reply.body = received.substr(end + 4, length);
  return reply;
}

}  // namespace ballast::testing
