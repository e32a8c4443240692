#include "ballast/net/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace ballast::net {

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen) {
  const size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", listen, "\" is not host:port"));
  }
  absl::string_view host = listen.substr(0, colon);
  const bool bracketed =
      absl::StartsWith(host, "[") && absl::EndsWith(host, "]");
  if (bracketed) host = host.substr(1, host.size() - 2);
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address \"", listen, "\" has a bad port"));
  }
  ListenAddress out{.ip = std::string(host), .port = port};
  if (out.ip.empty() && !bracketed) out.ip = "0.0.0.0";
  if (out.ip == "localhost") out.ip = "127.0.0.1";
  in_addr v4;
  in6_addr v6;
  const bool is_v4 = inet_pton(AF_INET, out.ip.c_str(), &v4) == 1;
  const bool is_v6 = inet_pton(AF_INET6, out.ip.c_str(), &v6) == 1;
  // An IPv6 address needs its brackets (host:port would be ambiguous), and
  // brackets hold only an IPv6 address.
  if ((!is_v4 && !is_v6) || (is_v6 && !bracketed) || (is_v4 && bracketed)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address \"", listen,
        "\": host must be an IP address (IPv6 in brackets), localhost, or "
        "empty for every interface"));
  }
  return out;
}

}  // namespace ballast::net
