// A port of k8s.io/apimachinery/pkg/labels' selector lexer and parser,
// restricted to the set-based and equality forms.
#include "ballast/server/label_selector.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace ballast::server {

namespace {

enum class Tok {
  kEnd,
  kIdentifier,
  kEquals,        // =
  kDoubleEquals,  // ==
  kNotEquals,     // !=
  kBang,          // !
  kOpenParen,
  kCloseParen,
  kComma,
  kCompare,  // < or >, which Kubernetes knows and this API refuses
};

struct Token {
  Tok tok;
  std::string text;
  size_t position;  // byte offset in the selector
};

bool IsSpecial(char c) {
  return c == '=' || c == '!' || c == '(' || c == ')' || c == ',' || c == '<' ||
         c == '>';
}

bool IsSpace(char c) {
  return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::vector<Token> Lex(absl::string_view text) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (!IsSpecial(c)) {
      while (i < text.size() && !IsSpace(text[i]) && !IsSpecial(text[i])) ++i;
      tokens.push_back({Tok::kIdentifier,
                        std::string(text.substr(start, i - start)), start});
      continue;
    }
    const bool next_is_equals = i + 1 < text.size() && text[i + 1] == '=';
    Tok tok = Tok::kComma;
    size_t length = 1;
    switch (c) {
      case '=':
        tok = next_is_equals ? Tok::kDoubleEquals : Tok::kEquals;
        length = next_is_equals ? 2 : 1;
        break;
      case '!':
        tok = next_is_equals ? Tok::kNotEquals : Tok::kBang;
        length = next_is_equals ? 2 : 1;
        break;
      case '(':
        tok = Tok::kOpenParen;
        break;
      case ')':
        tok = Tok::kCloseParen;
        break;
      case '<':
      case '>':
        tok = Tok::kCompare;
        break;
      default:
        break;
    }
    tokens.push_back({tok, std::string(text.substr(start, length)), start});
    i += length;
  }
  tokens.push_back({Tok::kEnd, "", text.size()});
  return tokens;
}

bool IsAlnum(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0;
}

// [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?, at most 63 characters.
bool IsLabelName(absl::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.';
  });
}

// A lowercase RFC 1123 DNS subdomain, at most 253 characters.
bool IsDnsSubdomain(absl::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  auto lower_alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  };
  if (!lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return lower_alnum(c) || c == '-' || c == '.';
  });
}

absl::Status CheckKey(absl::string_view key) {
  const size_t slash = key.find('/');
  const bool ok = slash == absl::string_view::npos
                      ? IsLabelName(key)
                      : IsDnsSubdomain(key.substr(0, slash)) &&
                            IsLabelName(key.substr(slash + 1));
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid label key \"", key,
      "\": must be [prefix/]name, name at most 63 characters of [A-Za-z0-9-_.] "
      "starting and ending with an alphanumeric character"));
}

absl::Status CheckValue(absl::string_view value) {
  if (value.empty() || IsLabelName(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "invalid label value \"", value,
      "\": must be empty or at most 63 characters of [A-Za-z0-9-_.] starting "
      "and ending with an alphanumeric character"));
}

class Parser {
 public:
  Parser(absl::string_view text) : text_(text), tokens_(Lex(text)) {}

  absl::StatusOr<std::vector<LabelRequirement>> Parse() {
    std::vector<LabelRequirement> requirements;
    if (Peek().tok == Tok::kEnd) return requirements;
    for (;;) {
      absl::StatusOr<LabelRequirement> r = ParseRequirement();
      if (!r.ok()) return r.status();
      requirements.push_back(*std::move(r));
      const Token& t = Next();
      if (t.tok == Tok::kEnd) return requirements;
      if (t.tok != Tok::kComma) return Unexpected(t, "',' or end of selector");
    }
  }

 private:
  const Token& Peek() const { return tokens_[pos_]; }
  const Token& Next() {
    const Token& t = tokens_[pos_];
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return t;
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid labelSelector \"", text_, "\": ", what));
  }
  absl::Status Unexpected(const Token& t, absl::string_view expected) const {
    const std::string found =
        t.tok == Tok::kEnd
            ? "end of selector"
            : absl::StrCat("'", t.text, "' at position ", t.position);
    return Error(absl::StrCat("expected ", expected, ", found ", found));
  }

  absl::StatusOr<LabelRequirement> ParseRequirement() {
    LabelRequirement r;
    const Token& first = Next();
    if (first.tok == Tok::kBang) {
      const Token& key = Next();
      if (key.tok != Tok::kIdentifier) return Unexpected(key, "a label key");
      r.key = key.text;
      r.op = LabelRequirement::Op::kDoesNotExist;
      return Checked(std::move(r));
    }
    if (first.tok != Tok::kIdentifier) {
      return Unexpected(first, "a label key or '!'");
    }
    r.key = first.text;
    const Token& op = Peek();
    switch (op.tok) {
      case Tok::kEnd:
      case Tok::kComma:
        r.op = LabelRequirement::Op::kExists;
        return Checked(std::move(r));
      case Tok::kEquals:
      case Tok::kDoubleEquals:
      case Tok::kNotEquals: {
        Next();
        r.op = op.tok == Tok::kNotEquals ? LabelRequirement::Op::kNotEquals
                                         : LabelRequirement::Op::kEquals;
        // `k=` (nothing before ',' or the end) is the empty value.
        const Token& value = Peek();
        if (value.tok == Tok::kIdentifier) {
          r.values.push_back(Next().text);
        } else if (value.tok == Tok::kEnd || value.tok == Tok::kComma) {
          r.values.emplace_back();
        } else {
          return Unexpected(value, "a label value");
        }
        return Checked(std::move(r));
      }
      case Tok::kIdentifier:
        if (op.text == "in" || op.text == "notin") {
          Next();
          r.op = op.text == "in" ? LabelRequirement::Op::kIn
                                 : LabelRequirement::Op::kNotIn;
          absl::Status s = ParseValueList(r);
          if (!s.ok()) return s;
          return Checked(std::move(r));
        }
        break;
      case Tok::kCompare:
        return Error(absl::StrCat("operator '", op.text, "' at position ",
                                  op.position, " is not supported"));
      default:
        break;
    }
    return Unexpected(op, "'=', '==', '!=', 'in', 'notin', ',' or end");
  }

  // "(a, b,c)"; an empty element between commas is the empty value, as in
  // Kubernetes; "()" is an error.
  absl::Status ParseValueList(LabelRequirement& r) {
    const Token& open = Next();
    if (open.tok != Tok::kOpenParen) return Unexpected(open, "'('");
    if (Peek().tok == Tok::kCloseParen) {
      return Error(
          absl::StrCat("the values of '", r.key, "' in/notin cannot be empty"));
    }
    bool expect_value = true;
    for (;;) {
      const Token& t = Next();
      if (t.tok == Tok::kIdentifier && expect_value) {
        r.values.push_back(t.text);
        expect_value = false;
      } else if (t.tok == Tok::kComma) {
        if (expect_value) r.values.emplace_back();
        expect_value = true;
      } else if (t.tok == Tok::kCloseParen) {
        if (expect_value) r.values.emplace_back();
        return absl::OkStatus();
      } else {
        return Unexpected(
            t, expect_value ? "a label value, ',' or ')'" : "',' or ')'");
      }
    }
  }

  absl::StatusOr<LabelRequirement> Checked(LabelRequirement r) const {
    absl::Status s = CheckKey(r.key);
    for (const std::string& v : r.values) {
      if (!s.ok()) break;
      s = CheckValue(v);
    }
    if (!s.ok()) return Error(s.message());
    return r;
  }

  absl::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

}  // namespace

bool LabelRequirement::Matches(const Labels& labels) const {
  auto it = labels.find(key);
  const bool has = it != labels.end();
  auto in_values = [&] {
    return has &&
           std::find(values.begin(), values.end(), it->second) != values.end();
  };
  switch (op) {
    case Op::kEquals:
    case Op::kIn:
      return in_values();
    case Op::kNotEquals:
    case Op::kNotIn:
      return !in_values();
    case Op::kExists:
      return has;
    case Op::kDoesNotExist:
      return !has;
  }
  return false;
}

std::string LabelRequirement::ToString() const {
  switch (op) {
    case Op::kEquals:
      return absl::StrCat(key, "=", values.empty() ? "" : values[0]);
    case Op::kNotEquals:
      return absl::StrCat(key, "!=", values.empty() ? "" : values[0]);
    case Op::kIn:
      return absl::StrCat(key, " in (", absl::StrJoin(values, ","), ")");
    case Op::kNotIn:
      return absl::StrCat(key, " notin (", absl::StrJoin(values, ","), ")");
    case Op::kExists:
      return key;
    case Op::kDoesNotExist:
      return absl::StrCat("!", key);
  }
  return key;
}

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  absl::StatusOr<std::vector<LabelRequirement>> requirements =
      Parser(text).Parse();
  if (!requirements.ok()) return requirements.status();
  LabelSelector selector;
  selector.requirements_ = *std::move(requirements);
  return selector;
}

bool LabelSelector::Matches(const Labels& labels) const {
  return std::all_of(
      requirements_.begin(), requirements_.end(),
      [&](const LabelRequirement& r) { return r.Matches(labels); });
}

std::optional<std::set<std::string, std::less<>>> LabelSelector::RequiredValues(
    absl::string_view key) const {
  std::optional<std::set<std::string, std::less<>>> allowed;
  for (const LabelRequirement& r : requirements_) {
    if (r.key != key || (r.op != LabelRequirement::Op::kEquals &&
                         r.op != LabelRequirement::Op::kIn)) {
      continue;
    }
    std::set<std::string, std::less<>> these(r.values.begin(), r.values.end());
    if (!allowed) {
      allowed = std::move(these);
      continue;
    }
    for (auto it = allowed->begin(); it != allowed->end();) {
      it = these.contains(*it) ? std::next(it) : allowed->erase(it);
    }
  }
  return allowed;
}

std::string LabelSelector::ToString() const {
  return absl::StrJoin(requirements_, ",",
                       [](std::string* out, const LabelRequirement& r) {
                         out->append(r.ToString());
                       });
}

}  // namespace ballast::server
