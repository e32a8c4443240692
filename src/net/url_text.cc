#include "ballast/net/url_text.h"

#include "absl/strings/str_cat.h"

namespace ballast::net {
namespace {

size_t HostStart(absl::string_view url) {
  const size_t scheme = url.find("://");
  return scheme == absl::string_view::npos ? 0 : scheme + 3;
}

}  // namespace

size_t UrlUserinfoEnd(absl::string_view url) {
  const size_t at = url.rfind('@');
  return at == absl::string_view::npos || at < HostStart(url) ? 0 : at;
}

std::string RedactUrlUserinfo(absl::string_view url) {
  const size_t at = UrlUserinfoEnd(url);
  if (at == 0) return std::string(url);
  return absl::StrCat(url.substr(0, HostStart(url)), "REDACTED",
                      url.substr(at));
}

}  // namespace ballast::net
