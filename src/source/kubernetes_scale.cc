#include "ballast/source/kubernetes_scale.h"

#include <cmath>
#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/source/kubernetes_client.h"
#include "rapidjson/document.h"

namespace ballast::source {
namespace {

// Kubernetes error bodies are Status objects whose "message" says why.
std::string StatusMessage(absl::string_view body) {
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  const rapidjson::Value* message =
      doc.ok() ? JsonFind(*doc, "message") : nullptr;
  if (message != nullptr && message->IsString()) {
    return net::Shorten(JsonText(*message), 300);
  }
  return net::Shorten(body, 200);
}

absl::StatusOr<int32_t> ReplicaField(const rapidjson::Value& doc,
                                     absl::string_view part, bool required) {
  const rapidjson::Value* section = JsonFind(doc, part);
  const rapidjson::Value* replicas =
      section == nullptr ? nullptr : JsonFind(*section, "replicas");
  // Kubernetes omits zero-valued fields ("omitempty").
  if (replicas == nullptr) {
    if (required && section == nullptr) {
      return absl::DataLossError(absl::StrCat("no \"", part, "\" object"));
    }
    return 0;
  }
  if (!replicas->IsNumber() || replicas->GetDouble() < 0 ||
      replicas->GetDouble() > 1e9 ||
      replicas->GetDouble() != std::floor(replicas->GetDouble())) {
    return absl::DataLossError(
        absl::StrCat(part, ".replicas is not a replica count"));
  }
  return static_cast<int32_t>(replicas->GetDouble());
}

}  // namespace

absl::StatusOr<DeploymentScale> ParseScaleResponse(int http_status,
                                                   absl::string_view body,
                                                   absl::string_view ns,
                                                   absl::string_view name) {
  const std::string what = absl::StrCat("deployment ", ns, "/", name);
  if (http_status != 200) {
    std::string hint;
    switch (http_status) {
      case 401:
        hint = "the service account token was rejected; ";
        break;
      case 403:
        hint =
            "the service account may not get deployments/scale (RBAC: "
            "apiGroups [apps], resources [deployments/scale], verbs [get]); ";
        break;
      case 404:
        hint = "no such deployment; ";
        break;
      default:
        break;
    }
    return absl::Status(net::CodeForHttpStatus(http_status),
                        absl::StrCat(what, ": HTTP ", http_status, ": ", hint,
                                     StatusMessage(body)));
  }
  absl::StatusOr<rapidjson::Document> doc = ParseJson(body);
  if (!doc.ok()) {
    return absl::DataLossError(
        absl::StrCat(what, ": scale response: ", doc.status().message()));
  }
  const rapidjson::Value* kind = JsonFind(*doc, "kind");
  if (kind == nullptr || !kind->IsString() || JsonText(*kind) != "Scale") {
    return absl::DataLossError(
        absl::StrCat(what, ": the response is not a Scale object"));
  }
  absl::StatusOr<int32_t> spec = ReplicaField(*doc, "spec", true);
  absl::StatusOr<int32_t> status = ReplicaField(*doc, "status", false);
  for (const absl::StatusOr<int32_t>* field : {&spec, &status}) {
    if (!field->ok()) {
      return absl::DataLossError(
          absl::StrCat(what, ": ", field->status().message()));
    }
  }
  DeploymentScale out{.spec_replicas = *spec, .status_replicas = *status};
  const rapidjson::Value* st = JsonFind(*doc, "status");
  const rapidjson::Value* selector =
      st == nullptr ? nullptr : JsonFind(*st, "selector");
  if (selector != nullptr && selector->IsString()) {
    out.selector = std::string(JsonText(*selector));
  }
  return out;
}

absl::StatusOr<net::HttpClientOptions> KubernetesScaleReader::ClientOptions(
    const KubernetesScaleOptions& options) {
  absl::StatusOr<net::HttpClientOptions> http = net::HttpClientOptions{};
  if (options.client) {
    http = *options.client;
  } else if (!options.api_server.empty()) {
    http = net::HttpClientOptions{.base_url = options.api_server,
                                  .ca_file = options.ca_file,
                                  .bearer_token_file = options.token_file};
  } else {
    http = KubernetesClientOptions({}, {.host_env = options.host_env,
                                        .port_env = options.port_env,
                                        .token_file = options.token_file,
                                        .ca_file = options.ca_file});
  }
  if (!http.ok()) return http.status();
  http->timeout = options.timeout;
  http->max_body_bytes = size_t{1} << 20;
  http->max_in_flight = options.max_in_flight;
  return http;
}

absl::StatusOr<std::unique_ptr<KubernetesScaleReader>>
KubernetesScaleReader::Create(boost::asio::io_context& io,
                              const KubernetesScaleOptions& options) {
  absl::StatusOr<net::HttpClientOptions> http = ClientOptions(options);
  if (!http.ok()) return http.status();
  absl::StatusOr<std::unique_ptr<net::HttpClient>> client =
      net::HttpClient::Create(io, *std::move(http));
  if (!client.ok()) return client.status();
  return std::unique_ptr<KubernetesScaleReader>(
      new KubernetesScaleReader(*std::move(client)));
}

void KubernetesScaleReader::Read(absl::string_view ns, absl::string_view name,
                                 Callback done) {
  net::HttpRequest request{
      .target = absl::StrCat("/apis/apps/v1/namespaces/", net::UrlEncode(ns),
                             "/deployments/", net::UrlEncode(name), "/scale")};
  http_->Send(
      std::move(request),
      [ns = std::string(ns), name = std::string(name), done = std::move(done)](
          absl::StatusOr<net::HttpResponse> response) mutable {
        if (!response.ok()) {
          std::move(done)(response.status());
          return;
        }
        std::move(done)(
            ParseScaleResponse(response->status, response->body, ns, name));
      });
}

}  // namespace ballast::source
