#include "ballast/source/json.h"

#include <charconv>
#include <cstdint>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ballast::source {
namespace {

constexpr int kMaxDepth = 128;

// A recursive-descent parser over the whole text; `pos_` is the next byte.
class Parser {
 public:
  explicit Parser(absl::string_view text) : text_(text) {}

  absl::StatusOr<Json> ParseDocument() {
    SkipWhitespace();
    absl::StatusOr<Json> value = ParseValue(0);
    if (!value.ok()) return value;
    SkipWhitespace();
    if (pos_ != text_.size()) return Error("unexpected data after the value");
    return value;
  }

 private:
  absl::Status Error(absl::string_view what) const {
    if (pos_ >= text_.size()) {
      return absl::DataLossError(absl::StrCat("invalid JSON at byte ", pos_,
                                              ": unexpected end of input (",
                                              what, ")"));
    }
    return absl::DataLossError(
        absl::StrCat("invalid JSON at byte ", pos_, ": ", what));
  }

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                        text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(absl::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  absl::StatusOr<Json> ParseValue(int depth) {
    if (depth > kMaxDepth) return Error("nested too deeply");
    switch (Peek()) {
      case '{':
        return ParseObject(depth);
      case '[':
        return ParseArray(depth);
      case '"': {
        absl::StatusOr<std::string> s = ParseString();
        if (!s.ok()) return s.status();
        return Json(*std::move(s));
      }
      case 't':
        if (Consume("true")) return Json(true);
        break;
      case 'f':
        if (Consume("false")) return Json(false);
        break;
      case 'n':
        if (Consume("null")) return Json();
        break;
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) {
          return ParseNumber();
        }
    }
    return Error("expected a value");
  }

  absl::StatusOr<Json> ParseObject(int depth) {
    ++pos_;  // '{'
    Json::Object members;
    SkipWhitespace();
    if (Peek() == '}') {
      ++pos_;
      return Json(std::move(members));
    }
    while (true) {
      SkipWhitespace();
      if (Peek() != '"') return Error("expected a string key");
      absl::StatusOr<std::string> key = ParseString();
      if (!key.ok()) return key.status();
      SkipWhitespace();
      if (Peek() != ':') return Error("expected ':'");
      ++pos_;
      SkipWhitespace();
      absl::StatusOr<Json> value = ParseValue(depth + 1);
      if (!value.ok()) return value;
      members.emplace_back(*std::move(key), *std::move(value));
      SkipWhitespace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return Json(std::move(members));
      }
      return Error("expected ',' or '}'");
    }
  }

  absl::StatusOr<Json> ParseArray(int depth) {
    ++pos_;  // '['
    Json::Array elements;
    SkipWhitespace();
    if (Peek() == ']') {
      ++pos_;
      return Json(std::move(elements));
    }
    while (true) {
      SkipWhitespace();
      absl::StatusOr<Json> value = ParseValue(depth + 1);
      if (!value.ok()) return value;
      elements.push_back(*std::move(value));
      SkipWhitespace();
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return Json(std::move(elements));
      }
      return Error("expected ',' or ']'");
    }
  }

  // RFC 8259 number grammar, checked here; the value from std::from_chars.
  absl::StatusOr<Json> ParseNumber() {
    const size_t start = pos_;
    if (Peek() == '-') ++pos_;
    if (Peek() == '0') {
      ++pos_;
    } else if (Peek() >= '1' && Peek() <= '9') {
      SkipDigits();
    } else {
      return Error("expected a digit");
    }
    if (Peek() == '.') {
      ++pos_;
      if (!IsDigit(Peek())) return Error("expected a digit after '.'");
      SkipDigits();
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!IsDigit(Peek())) return Error("expected a digit in the exponent");
      SkipDigits();
    }
    double value = 0;
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    const std::from_chars_result r = std::from_chars(first, last, value);
    if (r.ec == std::errc::result_out_of_range) {
      return Error("number out of range");
    }
    if (r.ec != std::errc() || r.ptr != last) return Error("invalid number");
    return Json(value);
  }

  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }
  void SkipDigits() {
    while (IsDigit(Peek())) ++pos_;
  }

  absl::StatusOr<uint32_t> ParseHex4() {
    if (text_.size() - pos_ < 4) {
      pos_ = text_.size();
      return Error("expected 4 hex digits");
    }
    uint32_t code = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      const char c = text_[pos_];
      code <<= 4;
      if (c >= '0' && c <= '9') {
        code |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        code |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        code |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("expected a hex digit");
      }
    }
    return code;
  }

  static void AppendUtf8(uint32_t code, std::string& out) {
    if (code < 0x80) {
      out.push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (code >> 6)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (code >> 12)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (code >> 18)));
      out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  // After "\u": one code point, joining a surrogate pair.
  absl::Status ParseUnicodeEscape(std::string& out) {
    absl::StatusOr<uint32_t> high = ParseHex4();
    if (!high.ok()) return high.status();
    uint32_t code = *high;
    if (code >= 0xDC00 && code <= 0xDFFF) return Error("lone low surrogate");
    if (code >= 0xD800 && code <= 0xDBFF) {
      if (!Consume("\\u")) return Error("expected a low surrogate");
      absl::StatusOr<uint32_t> low = ParseHex4();
      if (!low.ok()) return low.status();
      if (*low < 0xDC00 || *low > 0xDFFF) return Error("invalid low surrogate");
      code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
    }
    AppendUtf8(code, out);
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> ParseString() {
    ++pos_;  // '"'
    std::string out;
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const char c = text_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return Error("control character in string");
      }
      if (c != '\\') {
        out.push_back(c);
        ++pos_;
        continue;
      }
      ++pos_;
      const char e = Peek();
      ++pos_;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u':
          if (absl::Status s = ParseUnicodeEscape(out); !s.ok()) return s;
          break;
        default:
          --pos_;
          return Error("invalid escape in string");
      }
    }
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

const Json* Json::Find(absl::string_view key) const {
  if (!IsObject()) return nullptr;
  for (const auto& [name, value] : AsObject()) {
    if (name == key) return &value;
  }
  return nullptr;
}

absl::string_view Json::TypeName() const {
  static constexpr absl::string_view kNames[] = {"null",   "boolean", "number",
                                                 "string", "array",   "object"};
  return kNames[value_.index()];
}

absl::StatusOr<Json> ParseJson(absl::string_view text) {
  return Parser(text).ParseDocument();
}

}  // namespace ballast::source
