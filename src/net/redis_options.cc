#include "ballast/net/redis_options.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "ballast/net/url_text.h"

namespace ballast::net {

absl::Status ParseRedisAddress(absl::string_view address,
                               RedisOptions& options) {
  absl::string_view rest = address;
  const bool url = absl::ConsumePrefix(&rest, "rediss://") ||
                   absl::ConsumePrefix(&rest, "redis://");
  if (!url && absl::StrContains(rest, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value '", RedactUrlUserinfo(address),
                     "': expected host:port, redis://host:port[/db] or "
                     "rediss://host:port[/db]"));
  }
  RedisOptions parsed = options;
  parsed.tls = options.tls || absl::StartsWith(address, "rediss://");
  if (const size_t at = rest.rfind('@'); at != absl::string_view::npos) {
    const absl::string_view user = rest.substr(0, at);
    if (user.find(':') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          "a password in a redis URL is not accepted: use passwordEnv or "
          "passwordFile");
    }
    parsed.username = std::string(user);
    rest.remove_prefix(at + 1);
  }
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    const absl::string_view db = rest.substr(slash + 1);
    parsed.db = 0;
    if (!db.empty() && (!absl::SimpleAtoi(db, &parsed.db) || parsed.db < 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid database '", db, "' in '", RedactUrlUserinfo(address), "'"));
    }
    rest = rest.substr(0, slash);
  }
  // host:port; a URL may leave the port out (6379). IPv6 hosts in brackets.
  absl::string_view host = rest;
  absl::string_view port;
  if (const size_t colon = rest.rfind(':');
      colon != absl::string_view::npos && rest.back() != ']') {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  parsed.port = 6379;
  const bool port_ok = port.empty()
                           ? url
                           : absl::SimpleAtoi(port, &parsed.port) &&
                                 parsed.port >= 1 && parsed.port <= 65535;
  const bool bracketed = absl::StartsWith(host, "[") &&
                         absl::EndsWith(host, "]") && host.size() > 2;
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (!port_ok || host.empty() ||
      (!bracketed && host.find_first_of("[]") != absl::string_view::npos)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value '", RedactUrlUserinfo(address),
                     "': expected host:port, e.g. 127.0.0.1:6379"));
  }
  parsed.host = std::string(host);
  options = std::move(parsed);
  return absl::OkStatus();
}

}  // namespace ballast::net
