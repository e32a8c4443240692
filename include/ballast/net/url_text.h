// ballast/net/url_text.h
//
// URLs in messages: the user information of a URL (user[:password]@) may
// hold a secret and is never echoed. Shared by the config's errors and the
// HTTP client's.
//
//   RedactUrlUserinfo("http://u:pw@h:1/x")  // "http://REDACTED@h:1/x"
#ifndef BALLAST_NET_URL_TEXT_H_
#define BALLAST_NET_URL_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace ballast::net {

// The position of the '@' that ends a URL's user information (the last '@'
// after the scheme, as a password may hold '/' or '@'), or 0 when it has
// none.
size_t UrlUserinfoEnd(absl::string_view url);

// `url` with its user information replaced by REDACTED.
std::string RedactUrlUserinfo(absl::string_view url);

}  // namespace ballast::net

#endif  // BALLAST_NET_URL_TEXT_H_
