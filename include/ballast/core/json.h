// ballast/core/json.h
//
// JSON through RapidJSON (Debian's rapidjson-dev, header-only): the one way
// ballast reads JSON (ParseJson into a rapidjson::Document, then RapidJSON's
// Value API and the helpers below) and the one way it writes it (JsonWriter,
// RapidJSON's Writer into a string). bench/README.md says why RapidJSON.
// Include this from .cc files only.
//
//   absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
//   if (!doc.ok()) return doc.status();        // DataLoss, with the offset
//   const rapidjson::Value* status = JsonFind(*doc, "status");  // or nullptr
//   if (status != nullptr && status->IsString()) Use(JsonText(*status));
//
//   JsonWriter w;
//   w.StartObject().Key("kind").String("Status").Key("code").Int(404);
//   std::string body = w.EndObject().Take();  // {"kind":"Status","code":404}
#ifndef BALLAST_CORE_JSON_H_
#define BALLAST_CORE_JSON_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "rapidjson/document.h"
#include "rapidjson/prettywriter.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

namespace ballast {

// Parses one JSON document (RFC 8259; surrounding whitespace allowed). It
// rejects what RFC 8259 rejects (trailing commas, comments, NaN, leading
// zeros, raw control characters, lone surrogates, trailing data) and nests
// at most 128 arrays and objects, so a hostile body cannot exhaust the
// stack. Duplicate keys are kept; JsonFind returns the first. Every number
// is a double (std::from_chars of its text: read with GetDouble). Errors are
// DataLoss and name the byte offset and what was expected, e.g. "invalid JSON
// at byte 17: expected ',' or '}'"; a body that ends early says "unexpected end
// of input".
absl::StatusOr<rapidjson::Document> ParseJson(absl::string_view text);

// The first member `key` of an object; nullptr when absent or when `value`
// is not an object.
const rapidjson::Value* JsonFind(const rapidjson::Value& value,
                                 absl::string_view key);

// The bytes of a string value. Precondition: value.IsString().
inline absl::string_view JsonText(const rapidjson::Value& value) {
  return absl::string_view(value.GetString(), value.GetStringLength());
}

// "null", "boolean", "number", "string", "array" or "object", for errors.
absl::string_view JsonTypeName(const rapidjson::Value& value);

// RapidJSON's Writer (or PrettyWriter: two spaces, `"key": value`) into a
// string, taking absl::string_view. Strings are escaped as JSON requires
// (`"`, `\`, control characters); other bytes pass through (UTF-8 stays
// UTF-8). Calls must make one well-formed value; Take() returns it.
template <typename RapidJsonWriter>
class BasicJsonWriter {
 public:
  BasicJsonWriter() : writer_(buffer_) {}
  BasicJsonWriter(const BasicJsonWriter&) = delete;
  BasicJsonWriter& operator=(const BasicJsonWriter&) = delete;

  BasicJsonWriter& StartObject() {
    writer_.StartObject();
    return *this;
  }
  BasicJsonWriter& EndObject() {
    writer_.EndObject();
    return *this;
  }
  BasicJsonWriter& StartArray() {
    writer_.StartArray();
    return *this;
  }
  BasicJsonWriter& EndArray() {
    writer_.EndArray();
    return *this;
  }
  BasicJsonWriter& Key(absl::string_view key) {
    writer_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    return *this;
  }
  BasicJsonWriter& String(absl::string_view s) {
    writer_.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    return *this;
  }
  BasicJsonWriter& Int(int64_t i) {
    writer_.Int64(i);
    return *this;
  }
  BasicJsonWriter& Bool(bool b) {
    writer_.Bool(b);
    return *this;
  }
  BasicJsonWriter& Null() {
    writer_.Null();
    return *this;
  }
  // A number already written as JSON text (e.g. sim::FormatNumber's).
  BasicJsonWriter& RawNumber(absl::string_view text) {
    writer_.RawValue(text.data(), text.size(), rapidjson::kNumberType);
    return *this;
  }

  std::string Take() const {
    return std::string(buffer_.GetString(), buffer_.GetSize());
  }

 protected:
  RapidJsonWriter& writer() { return writer_; }

 private:
  rapidjson::StringBuffer buffer_;
  RapidJsonWriter writer_;
};

using JsonWriter = BasicJsonWriter<rapidjson::Writer<rapidjson::StringBuffer>>;

class PrettyJsonWriter
    : public BasicJsonWriter<rapidjson::PrettyWriter<rapidjson::StringBuffer>> {
 public:
  PrettyJsonWriter() { writer().SetIndent(' ', 2); }
};

// `s` as a JSON string literal, quotes included (JsonWriter's escaping), for
// text that embeds one, such as a logfmt value.
std::string JsonQuote(absl::string_view s);

}  // namespace ballast

#endif  // BALLAST_CORE_JSON_H_
