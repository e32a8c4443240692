// ballast/core/json_text.h
//
// Writing JSON text by hand (the API answers, `probe --output json`, JSON
// logs): a string literal with the escapes JSON requires.
//
//   out += JsonQuote("say \"hi\"\n");  // "say \"hi\"\n" with the quotes
#ifndef BALLAST_CORE_JSON_TEXT_H_
#define BALLAST_CORE_JSON_TEXT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace ballast {

// `s` as a JSON string literal, quotes included: `"` and `\` escaped,
// control characters as \n, \t, \r or \u00XX. Other bytes pass through
// (UTF-8 stays UTF-8).
std::string JsonQuote(absl::string_view s);

}  // namespace ballast

#endif  // BALLAST_CORE_JSON_TEXT_H_
