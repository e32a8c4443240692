#include "ballast/core/json.h"

#include <charconv>
#include <cstddef>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rapidjson/error/error.h"
#include "rapidjson/memorystream.h"
#include "rapidjson/reader.h"

namespace ballast {
namespace {

constexpr int kMaxDepth = 128;

// RapidJSON's SAX events into the document, stopping at kMaxDepth; numbers
// come as their (validated) text and are read with std::from_chars, as
// RapidJSON's own full-precision conversion trips UBSan on a zero
// significand ("0e-55"); `stopped` says why it stopped.
class Builder {
 public:
  explicit Builder(rapidjson::Document& doc) : doc_(doc) {}
  const char* stopped() const { return stopped_; }

  bool Null() { return doc_.Null(); }
  bool Bool(bool b) { return doc_.Bool(b); }
  bool Int(int i) { return doc_.Int(i); }
  bool Uint(unsigned u) { return doc_.Uint(u); }
  bool Int64(int64_t i) { return doc_.Int64(i); }
  bool Uint64(uint64_t u) { return doc_.Uint64(u); }
  bool Double(double d) { return doc_.Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    double value = 0;
    const std::from_chars_result r = std::from_chars(s, s + n, value);
    if (r.ec == std::errc::result_out_of_range) {
      return Stop("number out of range");
    }
    if (r.ec != std::errc() || r.ptr != s + n) return Stop("invalid number");
    return doc_.Double(value);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_.Key(s, n, copy);
  }
  bool StartObject() {
    if (++depth_ > kMaxDepth) return Stop("nested too deeply");
    return doc_.StartObject();
  }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndObject(n);
  }
  bool StartArray() {
    if (++depth_ > kMaxDepth) return Stop("nested too deeply");
    return doc_.StartArray();
  }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_.EndArray(n);
  }

 private:
  bool Stop(const char* why) {
    stopped_ = why;
    return false;
  }

  rapidjson::Document& doc_;
  int depth_ = 0;
  const char* stopped_ = "stopped";
};

absl::string_view Expected(rapidjson::ParseErrorCode code) {
  switch (code) {
    case rapidjson::kParseErrorDocumentEmpty:
    case rapidjson::kParseErrorValueInvalid:
      return "expected a value";
    case rapidjson::kParseErrorDocumentRootNotSingular:
      return "unexpected data after the value";
    case rapidjson::kParseErrorObjectMissName:
      return "expected a string key";
    case rapidjson::kParseErrorObjectMissColon:
      return "expected ':'";
    case rapidjson::kParseErrorObjectMissCommaOrCurlyBracket:
      return "expected ',' or '}'";
    case rapidjson::kParseErrorArrayMissCommaOrSquareBracket:
      return "expected ',' or ']'";
    case rapidjson::kParseErrorStringUnicodeEscapeInvalidHex:
      return "expected 4 hex digits";
    case rapidjson::kParseErrorStringUnicodeSurrogateInvalid:
      return "invalid surrogate pair";
    case rapidjson::kParseErrorStringEscapeInvalid:
      return "invalid escape in string";
    case rapidjson::kParseErrorStringMissQuotationMark:
      return "unterminated string";
    case rapidjson::kParseErrorStringInvalidEncoding:
      // Without kParseValidateEncodingFlag: a raw byte below 0x20.
      return "control character in string";
    case rapidjson::kParseErrorNumberTooBig:
      return "number out of range";
    case rapidjson::kParseErrorNumberMissFraction:
      return "expected a digit after '.'";
    case rapidjson::kParseErrorNumberMissExponent:
      return "expected a digit in the exponent";
    default:
      return "syntax error";
  }
}

absl::Status Error(size_t offset, size_t size, absl::string_view what) {
  if (offset >= size) {
    return absl::DataLossError(absl::StrCat("invalid JSON at byte ", offset,
                                            ": unexpected end of input (", what,
                                            ")"));
  }
  return absl::DataLossError(
      absl::StrCat("invalid JSON at byte ", offset, ": ", what));
}

bool IsWhitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The offset of a "\uDC00".."\uDFFF" escape that does not end a surrogate
// pair (RapidJSON checks only that a high surrogate has its low one), or
// npos. `text` has parsed, so every backslash starts a valid escape.
size_t LoneLowSurrogate(absl::string_view text) {
  for (size_t i = text.find('\\'); i != absl::string_view::npos;
       i = text.find('\\', i)) {
    if (text[i + 1] != 'u') {
      i += 2;
      continue;
    }
    unsigned code = 0;
    std::from_chars(text.data() + i + 2, text.data() + i + 6, code, 16);
    if (code >= 0xDC00 && code <= 0xDFFF) return i;
    i += code >= 0xD800 && code <= 0xDBFF ? 12 : 6;  // a pair: both escapes
  }
  return absl::string_view::npos;
}

}  // namespace

absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text) {
  // kParseStopWhenDoneFlag: the check for trailing data is below, since
  // RapidJSON's own stops at a NUL byte.
  constexpr unsigned kFlags =
      rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseStopWhenDoneFlag;
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::Reader reader;
  rapidjson::Document doc;
  Builder builder(doc);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document&) {
    result = reader.Parse<kFlags>(stream, builder);
    return !result.IsError();
  };
  doc.Populate(generate);
  if (result.IsError()) {
    return Error(result.Offset(), text.size(),
                 result.Code() == rapidjson::kParseErrorTermination
                     ? builder.stopped()
                     : Expected(result.Code()));
  }
  size_t end = stream.Tell();
  while (end < text.size() && IsWhitespace(text[end])) ++end;
  if (end != text.size()) {
    return Error(end, text.size(), "unexpected data after the value");
  }
  if (const size_t lone = LoneLowSurrogate(text.substr(0, end));
      lone != absl::string_view::npos) {
    return Error(lone, text.size(), "lone low surrogate");
  }
  return doc;
}

const rapidjson::Value* JsonFind(const rapidjson::Value& value,
                                 absl::string_view key) {
  if (!value.IsObject()) return nullptr;
  for (const auto& member : value.GetObject()) {
    if (JsonText(member.name) == key) return &member.value;
  }
  return nullptr;
}

absl::string_view JsonTypeName(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kNumberType:
      return "number";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kObjectType:
      return "object";
  }
  return "?";
}

std::string JsonQuote(absl::string_view s) {
  return JsonWriter().String(s).Take();
}

}  // namespace ballast
