// Delegated authentication and authorization (see the header).
#include "ballast/server/delegated_auth.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ballast/core/json.h"
#include "rapidjson/document.h"

namespace ballast::server {
namespace {

void WriteStringList(JsonWriter& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (const std::string& item : items) w.String(item);
  w.EndArray();
}

// A ConfigMap value holding a JSON list of strings ("[\"a\",\"b\"]").
absl::StatusOr<std::vector<std::string>> StringListValue(
    const rapidjson::Value& data, absl::string_view key) {
  const rapidjson::Value* value = JsonFind(data, key);
  if (value == nullptr) return std::vector<std::string>();
  if (!value->IsString()) {
    return absl::DataLossError(absl::StrCat(key, " is not a string"));
  }
  absl::StatusOr<rapidjson::Document> list = ParseJson(JsonText(*value));
  if (!list.ok() || !list->IsArray()) {
    return absl::DataLossError(
        absl::StrCat(key, " is not a JSON list of strings"));
  }
  std::vector<std::string> out;
  for (const rapidjson::Value& item : list->GetArray()) {
    if (!item.IsString()) {
      return absl::DataLossError(
          absl::StrCat(key, " is not a JSON list of strings"));
    }
    out.emplace_back(JsonText(item));
  }
  return out;
}

std::string CacheKey(const RemoteUser& user, const RequestAttributes& a) {
  std::string key = absl::StrCat(user.name, "\x1e",
                                 absl::StrJoin(user.groups, "\x1f"), "\x1e");
  for (const auto& [name, values] : user.extra) {
    absl::StrAppend(&key, name, "=", absl::StrJoin(values, "\x1f"), "\x1d");
  }
  absl::StrAppend(&key, "\x1e", a.resource_request ? "r" : "n", "\x1e", a.verb,
                  "\x1e", a.namespace_, "\x1e", a.group, "\x1e", a.version,
                  "\x1e", a.resource, "\x1e", a.path);
  return key;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// k8s.io/apiserver unescapes extra keys (they may carry any character).
std::string UnescapeExtraKey(absl::string_view key) {
  std::string out;
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '%' && i + 2 < key.size() && HexDigit(key[i + 1]) >= 0 &&
        HexDigit(key[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(HexDigit(key[i + 1]) * 16 + HexDigit(key[i + 2])));
      i += 2;
    } else {
      out.push_back(key[i]);
    }
  }
  return absl::AsciiStrToLower(out);
}

}  // namespace

absl::StatusOr<RemoteUser> UserFromHeaders(const net::HttpRequest& request,
                                           const RequestHeaderConfig& config) {
  RemoteUser user;
  for (const std::string& header : config.username_headers) {
    for (const std::string& value : request.HeaderValues(header)) {
      if (!value.empty()) {
        user.name = value;
        break;
      }
    }
    if (!user.name.empty()) break;
  }
  if (user.name.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("the front proxy sent no user (",
                     absl::StrJoin(config.username_headers, ", "), ")"));
  }
  for (const std::string& header : config.group_headers) {
    for (const std::string& value : request.HeaderValues(header)) {
      user.groups.push_back(value);
    }
  }
  // As k8s.io/apiserver's authenticated-group adder wraps the request-header
  // authenticator: every authenticated user but system:anonymous is in
  // system:authenticated, unless the proxy already put it in that group or
  // in system:unauthenticated.
  if (user.name != kAnonymousUser &&
      std::find_if(
          user.groups.begin(), user.groups.end(), [](const std::string& g) {
            return g == kAuthenticatedGroup || g == kUnauthenticatedGroup;
          }) == user.groups.end()) {
    user.groups.emplace_back(kAuthenticatedGroup);
  }
  for (const auto& [name, value] : request.headers) {
    for (const std::string& prefix : config.extra_header_prefixes) {
      if (prefix.empty() || name.size() <= prefix.size() ||
          !absl::StartsWithIgnoreCase(name, prefix)) {
        continue;
      }
      user.extra[UnescapeExtraKey(name.substr(prefix.size()))].push_back(value);
    }
  }
  return user;
}

absl::StatusOr<FrontProxyTrust> ParseAuthenticationConfigMap(
    absl::string_view body) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) {
    return absl::DataLossError(absl::StrCat(
        "the ConfigMap response is not JSON: ", doc.status().message()));
  }
  const rapidjson::Value* kind = JsonFind(*doc, "kind");
  const rapidjson::Value* data = JsonFind(*doc, "data");
  if (kind == nullptr || !kind->IsString() || JsonText(*kind) != "ConfigMap" ||
      (data != nullptr && !data->IsObject())) {
    return absl::DataLossError("the response is not a ConfigMap");
  }
  const rapidjson::Value* ca =
      data == nullptr ? nullptr
                      : JsonFind(*data, "requestheader-client-ca-file");
  if (ca == nullptr || !ca->IsString() || JsonText(*ca).empty()) {
    return absl::FailedPreconditionError(
        "kube-system/extension-apiserver-authentication has no "
        "requestheader-client-ca-file: the API server runs without the "
        "aggregation layer's --requestheader-client-ca-file");
  }
  FrontProxyTrust trust{.client_ca_pem = std::string(JsonText(*ca))};
  struct Field {
    const char* key;
    std::vector<std::string>* out;
  };
  for (const Field& field :
       {Field{"requestheader-allowed-names", &trust.headers.allowed_names},
        Field{"requestheader-username-headers",
              &trust.headers.username_headers},
        Field{"requestheader-group-headers", &trust.headers.group_headers},
        Field{"requestheader-extra-headers-prefix",
              &trust.headers.extra_header_prefixes}}) {
    absl::StatusOr<std::vector<std::string>> list =
        StringListValue(*data, field.key);
    if (!list.ok()) return list.status();
    *field.out = *std::move(list);
  }
  if (trust.headers.username_headers.empty()) {
    return absl::FailedPreconditionError(
        "extension-apiserver-authentication names no "
        "requestheader-username-headers");
  }
  return trust;
}

RequestAttributes AttributesOf(const net::HttpRequest& request) {
  std::vector<std::string> parts;
  for (absl::string_view s :
       absl::StrSplit(request.path, '/', absl::SkipEmpty())) {
    absl::StatusOr<std::string> decoded = net::DecodePathSegment(s);
    parts.push_back(decoded.ok() ? *decoded : std::string(s));
  }
  const std::string method = absl::AsciiStrToUpper(request.method);
  // /apis/{group}/{version}/namespaces/{ns}/{resource}[/{name}]
  if (parts.size() >= 6 && parts[0] == "apis" && parts[3] == "namespaces") {
    RequestAttributes a{.resource_request = true,
                        .namespace_ = parts[4],
                        .group = parts[1],
                        .version = parts[2],
                        .resource = parts[5]};
    const bool named = parts.size() >= 7;
    if (method == "GET" || method == "HEAD") {
      a.verb = named ? "get" : "list";
    } else if (method == "POST") {
      a.verb = "create";
    } else if (method == "PUT") {
      a.verb = "update";
    } else if (method == "PATCH") {
      a.verb = "patch";
    } else if (method == "DELETE") {
      a.verb = named ? "delete" : "deletecollection";
    } else {
      a.verb = absl::AsciiStrToLower(method);
    }
    return a;
  }
  RequestAttributes a{.resource_request = false, .path = request.path};
  a.verb = absl::AsciiStrToLower(method);
  if (a.path.empty()) a.path = "/";
  return a;
}

std::string SubjectAccessReviewJson(const RemoteUser& user,
                                    const RequestAttributes& a) {
  JsonWriter w;
  w.StartObject()
      .Key("apiVersion")
      .String("authorization.k8s.io/v1")
      .Key("kind")
      .String("SubjectAccessReview")
      .Key("spec")
      .StartObject();
  if (a.resource_request) {
    w.Key("resourceAttributes")
        .StartObject()
        .Key("namespace")
        .String(a.namespace_)
        .Key("verb")
        .String(a.verb)
        .Key("group")
        .String(a.group)
        .Key("version")
        .String(a.version)
        .Key("resource")
        .String(a.resource)
        .EndObject();
  } else {
    w.Key("nonResourceAttributes")
        .StartObject()
        .Key("path")
        .String(a.path)
        .Key("verb")
        .String(a.verb)
        .EndObject();
  }
  w.Key("user").String(user.name).Key("groups");
  WriteStringList(w, user.groups);
  w.Key("extra").StartObject();
  for (const auto& [key, values] : user.extra) {
    w.Key(key);
    WriteStringList(w, values);
  }
  return w.EndObject().EndObject().EndObject().Take();
}

absl::StatusOr<AuthorizationDecision> ParseSubjectAccessReviewResponse(
    int http_status, absl::string_view body) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  if (http_status != 200 && http_status != 201) {
    const rapidjson::Value* message =
        doc.ok() ? JsonFind(*doc, "message") : nullptr;
    return absl::UnavailableError(absl::StrCat(
        "SubjectAccessReview: HTTP ", http_status, ": ",
        message != nullptr && message->IsString()
            ? net::Shorten(JsonText(*message), 300)
            : net::Shorten(body, 200),
        http_status == 403 ? " (ballast's service account needs create on "
                             "subjectaccessreviews: system:auth-delegator)"
                           : ""));
  }
  if (!doc.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "SubjectAccessReview response is not JSON: ", doc.status().message()));
  }
  const rapidjson::Value* status = JsonFind(*doc, "status");
  const rapidjson::Value* allowed =
      status == nullptr ? nullptr : JsonFind(*status, "allowed");
  if (allowed == nullptr || !allowed->IsBool()) {
    return absl::UnavailableError(
        "SubjectAccessReview response has no status.allowed");
  }
  AuthorizationDecision decision{.allowed = allowed->GetBool()};
  const rapidjson::Value* denied = JsonFind(*status, "denied");
  if (denied != nullptr && denied->IsBool() && denied->GetBool()) {
    decision.allowed = false;
  }
  for (const char* key : {"reason", "evaluationError"}) {
    const rapidjson::Value* text = JsonFind(*status, key);
    if (text != nullptr && text->IsString() && !JsonText(*text).empty()) {
      absl::StrAppend(&decision.reason, decision.reason.empty() ? "" : "; ",
                      JsonText(*text));
    }
  }
  return decision;
}

std::string DescribeDenial(const RemoteUser& user, const RequestAttributes& a,
                           absl::string_view reason) {
  std::string what =
      a.resource_request
          ? absl::StrCat(a.verb, " resource \"", a.resource,
                         "\" in API group \"", a.group,
                         "\" in the namespace \"", a.namespace_, "\"")
          : absl::StrCat(a.verb, " path \"", a.path, "\"");
  return absl::StrCat("user \"", user.name, "\" cannot ", what,
                      reason.empty() ? "" : absl::StrCat(": ", reason));
}

AuthorizationCache::AuthorizationCache(absl::Duration allowed_ttl,
                                       absl::Duration denied_ttl,
                                       size_t max_entries)
    : allowed_ttl_(allowed_ttl),
      denied_ttl_(denied_ttl),
      max_entries_(std::max<size_t>(max_entries, 1)) {}

std::optional<AuthorizationDecision> AuthorizationCache::Get(
    const RemoteUser& user, const RequestAttributes& attributes,
    absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(CacheKey(user, attributes));
  if (it == entries_.end() || now >= it->second.expires) return std::nullopt;
  AuthorizationDecision decision = it->second.decision;
  decision.cached = true;
  return decision;
}

void AuthorizationCache::Put(const RemoteUser& user,
                             const RequestAttributes& attributes,
                             const AuthorizationDecision& decision,
                             absl::Time now) {
  const absl::Duration ttl = decision.allowed ? allowed_ttl_ : denied_ttl_;
  if (ttl <= absl::ZeroDuration()) return;
  absl::MutexLock lock(&mu_);
  if (entries_.size() >= max_entries_) {
    std::erase_if(entries_,
                  [now](const auto& e) { return now >= e.second.expires; });
    // Still full of live entries: start over rather than grow without end.
    if (entries_.size() >= max_entries_) entries_.clear();
  }
  entries_[CacheKey(user, attributes)] = {decision, now + ttl};
}

size_t AuthorizationCache::size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

SubjectAccessReviewAuthorizer::SubjectAccessReviewAuthorizer(
    std::unique_ptr<net::HttpClient> http, Options options)
    : http_(std::move(http)),
      options_(std::move(options)),
      cache_(std::make_shared<AuthorizationCache>(options_.allowed_ttl,
                                                  options_.denied_ttl)) {}

absl::StatusOr<std::unique_ptr<SubjectAccessReviewAuthorizer>>
SubjectAccessReviewAuthorizer::Create(boost::asio::io_context& io,
                                      net::HttpClientOptions client,
                                      Options options) {
  client.max_body_bytes = size_t{1} << 20;
  absl::StatusOr<std::unique_ptr<net::HttpClient>> http =
      net::HttpClient::Create(io, std::move(client));
  if (!http.ok()) return http.status();
  return std::unique_ptr<SubjectAccessReviewAuthorizer>(
      new SubjectAccessReviewAuthorizer(*std::move(http), std::move(options)));
}

void SubjectAccessReviewAuthorizer::Authorize(
    const RemoteUser& user, const RequestAttributes& attributes,
    Callback done) {
  for (const std::string& group : user.groups) {
    for (const std::string& allowed : options_.always_allow_groups) {
      if (group == allowed) {
        std::move(done)(AuthorizationDecision{
            .allowed = true, .reason = absl::StrCat("member of ", group)});
        return;
      }
    }
  }
  const absl::Time now = options_.now();
  if (std::optional<AuthorizationDecision> hit =
          cache_->Get(user, attributes, now)) {
    std::move(done)(*hit);
    return;
  }
  http_->Send({.method = "POST",
               .target = "/apis/authorization.k8s.io/v1/subjectaccessreviews",
               .body = SubjectAccessReviewJson(user, attributes),
               .content_type = "application/json"},
              [cache = cache_, user, attributes, now_fn = options_.now,
               done = std::move(done)](
                  absl::StatusOr<net::HttpResponse> response) mutable {
                if (!response.ok()) {
                  std::move(done)(absl::UnavailableError(
                      absl::StrCat("cannot ask the API server for a "
                                   "SubjectAccessReview: ",
                                   response.status().message())));
                  return;
                }
                absl::StatusOr<AuthorizationDecision> decision =
                    ParseSubjectAccessReviewResponse(response->status,
                                                     response->body);
                if (decision.ok())
                  cache->Put(user, attributes, *decision, now_fn());
                std::move(done)(std::move(decision));
              });
}

}  // namespace ballast::server
