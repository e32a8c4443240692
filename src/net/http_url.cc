// URL parsing and encoding, and SecretFile: the parts of the HTTP client
// that need no sockets.
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "ballast/net/http_client.h"
#include "ballast/net/url_text.h"

namespace ballast::net {
namespace {

// Never echoes user information (user:password@).
absl::Status BadUrl(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid URL \"", RedactUrlUserinfo(url), "\": ", why));
}

bool IsUnreserved(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

std::string Url::Origin() const {
  const bool ipv6 = host.find(':') != std::string::npos;
  return absl::StrCat(tls ? "https://" : "http://", ipv6 ? "[" : "", host,
                      ipv6 ? "]" : "", ":", port);
}

absl::StatusOr<Url> ParseUrl(absl::string_view url) {
  Url out;
  absl::string_view rest = url;
  if (absl::ConsumePrefix(&rest, "https://")) {
    out.tls = true;
  } else if (!absl::ConsumePrefix(&rest, "http://")) {
    return BadUrl(url, "the scheme must be http:// or https://");
  }
  if (rest.find_first_of("?#") != absl::string_view::npos) {
    return BadUrl(url, "a base URL has no query or fragment");
  }
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (slash != absl::string_view::npos) {
    absl::string_view path = rest.substr(slash);
    while (absl::ConsumeSuffix(&path, "/")) {
    }
    out.path_prefix = std::string(path);
  }
  if (authority.find('@') != absl::string_view::npos) {
    return BadUrl(url, "credentials in the URL are not supported");
  }
  absl::string_view port;
  if (absl::ConsumePrefix(&authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) return BadUrl(url, "unclosed '['");
    out.host = std::string(authority.substr(0, close));
    absl::string_view after = authority.substr(close + 1);
    if (!after.empty() && !absl::ConsumePrefix(&after, ":")) {
      return BadUrl(url, "expected ':' after ']'");
    }
    port = after;
  } else {
    const size_t colon = authority.find(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) return BadUrl(url, "no host");
  if (port.empty()) {
    out.port = out.tls ? 443 : 80;
    return out;
  }
  unsigned value = 0;
  const auto [ptr, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
      value > 65535) {
    return BadUrl(url, "invalid port");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

std::string UrlEncode(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (IsUnreserved(c)) {
      out.push_back(c);
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xF]);
  }
  return out;
}

std::string EncodeQuery(
    const std::vector<std::pair<std::string, std::string>>& params) {
  return absl::StrJoin(params, "&", [](std::string* out, const auto& p) {
    absl::StrAppend(out, UrlEncode(p.first), "=", UrlEncode(p.second));
  });
}

absl::StatusCode CodeForHttpStatus(int http_status) {
  switch (http_status) {
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 408:
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    case 429:
      return absl::StatusCode::kUnavailable;
    default:
      return http_status >= 500 ? absl::StatusCode::kUnavailable
                                : absl::StatusCode::kInvalidArgument;
  }
}

std::string Shorten(absl::string_view text, size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = '?';
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

absl::StatusOr<std::string> SecretFile::Get() {
  absl::StatusOr<FileStamp> stamp = StatFile(path_);
  if (!stamp.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot read ", path_, ": ", stamp.status().message()));
  }
  absl::MutexLock lock(&mu_);
  if (*stamp == stamp_ && !value_.empty()) return value_;
  std::ifstream in(path_, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat("cannot read ", path_));
  }
  std::string value(absl::StripAsciiWhitespace(contents.str()));
  if (value.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " is empty"));
  }
  stamp_ = *stamp;
  value_ = std::move(value);
  return value_;
}

}  // namespace ballast::net
