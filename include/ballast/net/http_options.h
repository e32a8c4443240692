// ballast/net/http_options.h
//
// What HttpClient is built with: the endpoint, limits, TLS and credentials
// (by reference: files and environment variables, read by the client), as
// plain values with no I/O, so that the config (`sources.prometheus.<name>`)
// holds them as they are.
//
//   HttpClientOptions options{.base_url = "https://prom:9090",
//                             .timeout = absl::Seconds(2)};
#ifndef BALLAST_NET_HTTP_OPTIONS_H_
#define BALLAST_NET_HTTP_OPTIONS_H_

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace ballast::net {

struct HttpClientOptions {
  // scheme://host[:port][/prefix]; request targets are appended to it.
  std::string base_url;
  // Deadline of a whole request, from the moment it leaves the queue.
  absl::Duration timeout = absl::Seconds(5);
  // A larger response body is an error (ResourceExhausted).
  size_t max_body_bytes = size_t{16} << 20;
  // Requests on the wire at once (and so connections); more wait in a queue.
  int max_in_flight = 4;
  // https: PEM CA bundle to verify the server against; empty uses the
  // system's default paths. Host name (or IP) is checked against the cert.
  std::string ca_file;
  // https: PEM CA certificates given inline (a kubeconfig's
  // certificate-authority-data); used instead of ca_file when set.
  std::string ca_pem;
  bool verify_peer = true;
  // https: a client certificate (chain, leaf first) and its key, as files or
  // inline PEM (a kubeconfig's client-certificate[-data] and
  // client-key[-data]); both of one kind or none.
  std::string client_cert_file;
  std::string client_key_file;
  std::string client_cert_pem;
  std::string client_key_pem;
  // https: the SNI and verified name; empty uses the URL's host.
  std::string tls_server_name;
  // Sent with every request.
  std::vector<std::pair<std::string, std::string>> headers;
  // "Authorization: Bearer <contents>", the file read again when it changes.
  std::string bearer_token_file;
  // Basic auth when basic_auth_user is set; the password comes from the
  // environment variable or (if that is empty) the file.
  std::string basic_auth_user;
  std::string basic_auth_password_env;
  std::string basic_auth_password_file;
};

}  // namespace ballast::net

#endif  // BALLAST_NET_HTTP_OPTIONS_H_
