// ballast/net/redis_options.h
//
// How to reach one Redis server: the options RedisClient takes, as plain
// values with no I/O, so that the config (`sources.redis.<name>`) holds them
// as they are and the client receives exactly what the YAML said.
//
//   RedisOptions options{.host = "127.0.0.1", .port = 6379, .db = 2};
//   options.Address();  // "127.0.0.1:6379"
#ifndef BALLAST_NET_REDIS_OPTIONS_H_
#define BALLAST_NET_REDIS_OPTIONS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace ballast::net {

// How to reach one Redis server.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;  // SELECTed on connect when not 0
  // AUTH on connect: `AUTH username password` when both are set, `AUTH
  // password` when only the password is. The caller reads the password from
  // an environment variable or a file; it is never logged nor put in a
  // status message.
  std::string username;
  std::string password;
  bool tls = false;
  std::string ca_file;      // PEM CAs to verify the server; empty: system CAs
  std::string server_name;  // SNI and certificate name; empty: host
  // No check of the server's certificate or name (tls.insecureSkipVerify:
  // for tests; the traffic is still encrypted, but to whoever answers).
  bool insecure_skip_verify = false;
  // resolve..AUTH/SELECT (`connectTimeoutMs`, default 1000)
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration command_timeout = absl::Milliseconds(500);  // one pipeline
  // After a failure the client waits backoff_initial, doubling up to
  // backoff_max, before it connects again; a successful pipeline resets it.
  absl::Duration backoff_initial = absl::Milliseconds(100);
  absl::Duration backoff_max = absl::Seconds(10);

  bool operator==(const RedisOptions&) const = default;

  // "host:port", as status messages name the server.
  std::string Address() const {
    if (host.find(':') != std::string::npos) {  // IPv6
      return absl::StrCat("[", host, "]:", port);
    }
    return absl::StrCat(host, ":", port);
  }
};

// The one parser of a Redis address (the config's `sources.redis.*.address`):
// "host:port", "redis://[user@]host[:port][/db]" or "rediss://..." (TLS).
// Fills host, port (6379 when a URL leaves it out), the username and db
// when given (`user@`, `/db`, in either form) and TLS for rediss://;
// `options` is unchanged on error. InvalidArgument
// says what is wrong, never echoing a URL's user information; a password in
// the URL is refused (it belongs in an environment variable or a file).
absl::Status ParseRedisAddress(absl::string_view address,
                               RedisOptions& options);

}  // namespace ballast::net

#endif  // BALLAST_NET_REDIS_OPTIONS_H_
