#include "ballast/core/error_kind.h"

#include "absl/strings/ascii.h"

namespace ballast {

std::string ErrorKind(const absl::Status& status) {
  std::string name = absl::StatusCodeToString(status.code());
  absl::AsciiStrToLower(&name);
  return name;
}

}  // namespace ballast
