// ballast/net/listen_address.h
//
// The address a server listens on, parsed once for everyone: the servers
// bind what this returns and `check-config` validates with it, so a config
// that passes check-config starts.
//
//   ParseListenAddress("127.0.0.1:8443")  // {"127.0.0.1", 8443}
//   ParseListenAddress("[::1]:0")         // {"::1", 0}: port 0 picks one
//   ParseListenAddress(":9090")           // {"0.0.0.0", 9090}
//   ParseListenAddress("localhost:9090")  // {"127.0.0.1", 9090}
//   ParseListenAddress("example:80")      // InvalidArgument: a server binds
//                                         // an address, not a name
#ifndef BALLAST_NET_LISTEN_ADDRESS_H_
#define BALLAST_NET_LISTEN_ADDRESS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace ballast::net {

struct ListenAddress {
  std::string ip;  // numeric IPv4 or IPv6, without brackets
  int port = 0;    // 0..65535
};

absl::StatusOr<ListenAddress> ParseListenAddress(absl::string_view listen);

}  // namespace ballast::net

#endif  // BALLAST_NET_LISTEN_ADDRESS_H_
