// JSON libraries on ballast's two hot paths, to choose one (bench/README.md):
//   (a) a Prometheus /api/v1/query vector response with 1 and 1000 series,
//       parsed and its samples extracted as source/prometheus_response.cc
//       does (time, value string -> double, labels of the metric left alone);
//   (b) an external.metrics.k8s.io ExternalMetricValueList with 1 and 100
//       items written as server/external_metrics_api.cc does (quantity and
//       timestamp already formatted: only the JSON is measured).
// Each library's figures are for the same input and the same extraction.
// The hand-written parser and writer ballast had before issue 10 are
// measured when their headers are there (the commit before their removal);
// BM_*_Ballast are ballast's own code on RapidJSON (ParseQueryResponse, and
// JsonWriter as external_metrics_api.cc uses it).
//
//   build-release/bench/json_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true   (one line)
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "ballast/core/json.h"
#include "ballast/source/prometheus_client.h"
#include "benchmark/benchmark.h"
#include "rapidjson/document.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"

#if __has_include("ballast/source/json.h")
#define BALLAST_BENCH_HANDWRITTEN 1
#include "ballast/core/json_text.h"
#include "ballast/source/json.h"
#endif
#if __has_include(<nlohmann/json.hpp>)
#define BALLAST_BENCH_NLOHMANN 1
#include <nlohmann/json.hpp>
#endif
#if __has_include(<simdjson.h>) && defined(BALLAST_BENCH_SIMDJSON)
#include <simdjson.h>
#else
#undef BALLAST_BENCH_SIMDJSON
#endif

namespace {

// ---- (a) the Prometheus response --------------------------------------

std::string VectorResponse(int series) {
  std::vector<std::string> items;
  for (int i = 0; i < series; ++i) {
    items.push_back(absl::StrCat(
        R"({"metric":{"__name__":"celery_queue_length","instance":"10.1.)",
        i / 250, ".", i % 250,
        R"(:9540","job":"celery-exporter","queue_name":"asr-)", i,
        R"("},"value":[1700000000.123,")", 0.5 * i + 1.25, R"("]})"));
  }
  return absl::StrCat(
      R"({"status":"success","data":{"resultType":"vector","result":[)",
      absl::StrJoin(items, ","), "]}}");
}

// As prometheus_response.cc: "NaN" and "+Inf" aside, from_chars.
double SampleValue(absl::string_view text) {
  if (text == "NaN") return std::nan("");
  if (text == "+Inf") return INFINITY;
  if (text == "-Inf") return -INFINITY;
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// What the extraction yields: the sum of values and the latest time.
struct Extracted {
  double sum = 0;
  double time = 0;
  void Add(double t, absl::string_view v) {
    sum += SampleValue(v);
    time = std::max(time, t);
  }
};

void Check(benchmark::State& state, const Extracted& e, int series) {
  const double want = 0.5 * (series - 1) * series / 2 + 1.25 * series;
  if (std::abs(e.sum - want) > 1e-6 * want || e.time != 1700000000.123) {
    state.SkipWithError(
        absl::StrCat("wrong extraction: ", e.sum, " at ", e.time).c_str());
  }
}

#ifdef BALLAST_BENCH_HANDWRITTEN
void BM_Parse_Handwritten(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = VectorResponse(n);
  Extracted e;
  for (auto _ : state) {
    e = {};
    absl::StatusOr<ballast::source::Json> doc =
        ballast::source::ParseJson(body);
    const ballast::source::Json* status = doc->Find("status");
    if (!status->IsString() || status->AsString() != "success") break;
    const ballast::source::Json* data = doc->Find("data");
    if (data->Find("resultType")->AsString() != "vector") break;
    for (const ballast::source::Json& s : data->Find("result")->AsArray()) {
      const ballast::source::Json* value = s.Find("value");
      if (value == nullptr || !value->IsArray() ||
          value->AsArray().size() != 2 || !value->AsArray()[0].IsNumber() ||
          !value->AsArray()[1].IsString()) {
        break;
      }
      e.Add(value->AsArray()[0].AsNumber(), value->AsArray()[1].AsString());
    }
    benchmark::DoNotOptimize(e);
  }
  Check(state, e, n);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_Parse_Handwritten)->Arg(1)->Arg(1000);
#endif

void BM_Parse_RapidJson(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = VectorResponse(n);
  Extracted e;
  for (auto _ : state) {
    e = {};
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseFullPrecisionFlag>(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) break;
    auto status = doc.FindMember("status");
    if (status == doc.MemberEnd() || !status->value.IsString() ||
        absl::string_view(status->value.GetString(),
                          status->value.GetStringLength()) != "success") {
      break;
    }
    const rapidjson::Value& data = doc["data"];
    if (absl::string_view(data["resultType"].GetString()) != "vector") break;
    for (const rapidjson::Value& s : data["result"].GetArray()) {
      auto value = s.FindMember("value");
      if (value == s.MemberEnd() || !value->value.IsArray() ||
          value->value.Size() != 2 || !value->value[0].IsNumber() ||
          !value->value[1].IsString()) {
        break;
      }
      e.Add(value->value[0].GetDouble(),
            absl::string_view(value->value[1].GetString(),
                              value->value[1].GetStringLength()));
    }
    benchmark::DoNotOptimize(e);
  }
  Check(state, e, n);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_Parse_RapidJson)->Arg(1)->Arg(1000);

// ballast's whole parse: ParseJson (RapidJSON with the depth limit and the
// checks) and ParseQueryResponse's extraction and sum.
void BM_Parse_Ballast(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = VectorResponse(n);
  const ballast::source::PrometheusQuery query{.promql = "q"};
  Extracted e;
  for (auto _ : state) {
    absl::StatusOr<ballast::source::QueryResult> r =
        ballast::source::ParseQueryResponse(200, body, query);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    // (DoNotOptimize on a plain double reads back 0 with Debian's GCC.)
    e.sum = r->value;
    e.time = static_cast<double>(absl::ToUnixMillis(r->timestamp)) / 1000;
    benchmark::DoNotOptimize(e);
  }
  Check(state, e, n);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_Parse_Ballast)->Arg(1)->Arg(1000);

#ifdef BALLAST_BENCH_NLOHMANN
void BM_Parse_Nlohmann(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = VectorResponse(n);
  Extracted e;
  for (auto _ : state) {
    e = {};
    nlohmann::json doc = nlohmann::json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) break;
    auto status = doc.find("status");
    if (status == doc.end() || !status->is_string() ||
        status->get_ref<const std::string&>() != "success") {
      break;
    }
    const nlohmann::json& data = doc["data"];
    if (data["resultType"].get_ref<const std::string&>() != "vector") break;
    for (const nlohmann::json& s : data["result"]) {
      auto value = s.find("value");
      if (value == s.end() || !value->is_array() || value->size() != 2 ||
          !(*value)[0].is_number() || !(*value)[1].is_string()) {
        break;
      }
      e.Add((*value)[0].get<double>(),
            (*value)[1].get_ref<const std::string&>());
    }
    benchmark::DoNotOptimize(e);
  }
  Check(state, e, n);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_Parse_Nlohmann)->Arg(1)->Arg(1000);
#endif

#ifdef BALLAST_BENCH_SIMDJSON
// The DOM API with a parser kept across iterations, as a client would.
void BM_Parse_Simdjson(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  const std::string body = VectorResponse(n);
  simdjson::dom::parser parser;
  Extracted e;
  for (auto _ : state) {
    e = {};
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc) != simdjson::SUCCESS) break;
    std::string_view status;
    if (doc["status"].get(status) != simdjson::SUCCESS || status != "success") {
      break;
    }
    simdjson::dom::element data = doc["data"];
    std::string_view type;
    if (data["resultType"].get(type) != simdjson::SUCCESS || type != "vector") {
      break;
    }
    simdjson::dom::array result;
    if (data["result"].get(result) != simdjson::SUCCESS) break;
    for (simdjson::dom::element s : result) {
      simdjson::dom::array value;
      double t = 0;
      std::string_view v;
      if (s["value"].get(value) != simdjson::SUCCESS || value.size() != 2 ||
          value.at(0).get(t) != simdjson::SUCCESS ||
          value.at(1).get(v) != simdjson::SUCCESS) {
        break;
      }
      e.Add(t, absl::string_view(v.data(), v.size()));
    }
    benchmark::DoNotOptimize(e);
  }
  Check(state, e, n);
  state.SetBytesProcessed(state.iterations() *
                          static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_Parse_Simdjson)->Arg(1)->Arg(1000);
#endif

// ---- (b) the ExternalMetricValueList ---------------------------------

struct Item {
  std::vector<std::pair<std::string, std::string>> labels;
  std::string timestamp;
  std::string value;
};

std::vector<Item> Items(int n) {
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) {
    items.push_back({.labels = {{"target", absl::StrCat("asr-worker-", i)}},
                     .timestamp = "2024-05-01T12:00:00Z",
                     .value = absl::StrCat(i % 50 + 1)});
  }
  return items;
}

constexpr char kMetric[] = "ballast_recommended_replicas";
constexpr int64_t kWindow = 60;

void Count(benchmark::State& state, size_t bytes) {
  state.counters["bytes"] = static_cast<double>(bytes);
}

#ifdef BALLAST_BENCH_HANDWRITTEN
void BM_Write_Handwritten(benchmark::State& state) {
  using ballast::JsonQuote;
  const std::vector<Item> items = Items(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::vector<std::string> out;
    for (const Item& item : items) {
      const std::string labels = absl::StrCat(
          "{",
          absl::StrJoin(item.labels, ",",
                        [](std::string* o, const auto& kv) {
                          absl::StrAppend(o, JsonQuote(kv.first), ":",
                                          JsonQuote(kv.second));
                        }),
          "}");
      out.push_back(absl::StrCat(R"({"metricName":)", JsonQuote(kMetric),
                                 R"(,"metricLabels":)", labels,
                                 R"(,"timestamp":)", JsonQuote(item.timestamp),
                                 R"(,"window":)", kWindow, R"(,"value":)",
                                 JsonQuote(item.value), "}"));
    }
    std::string body = absl::StrCat(
        R"({"kind":"ExternalMetricValueList","apiVersion":)",
        JsonQuote("external.metrics.k8s.io/v1beta1"),
        R"(,"metadata":{},"items":[)", absl::StrJoin(out, ","), "]}");
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  Count(state, bytes);
}
BENCHMARK(BM_Write_Handwritten)->Arg(1)->Arg(100);
#endif

void BM_Write_RapidJson(benchmark::State& state) {
  const std::vector<Item> items = Items(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("kind");
    w.String("ExternalMetricValueList");
    w.Key("apiVersion");
    w.String("external.metrics.k8s.io/v1beta1");
    w.Key("metadata");
    w.StartObject();
    w.EndObject();
    w.Key("items");
    w.StartArray();
    for (const Item& item : items) {
      w.StartObject();
      w.Key("metricName");
      w.String(kMetric);
      w.Key("metricLabels");
      w.StartObject();
      for (const auto& [k, v] : item.labels) {
        w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
      }
      w.EndObject();
      w.Key("timestamp");
      w.String(item.timestamp.data(),
               static_cast<rapidjson::SizeType>(item.timestamp.size()));
      w.Key("window");
      w.Int64(kWindow);
      w.Key("value");
      w.String(item.value.data(),
               static_cast<rapidjson::SizeType>(item.value.size()));
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    std::string body(buffer.GetString(), buffer.GetSize());
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  Count(state, bytes);
}
BENCHMARK(BM_Write_RapidJson)->Arg(1)->Arg(100);

void BM_Write_Ballast(benchmark::State& state) {
  const std::vector<Item> items = Items(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    ballast::JsonWriter w;
    w.StartObject()
        .Key("kind")
        .String("ExternalMetricValueList")
        .Key("apiVersion")
        .String("external.metrics.k8s.io/v1beta1")
        .Key("metadata")
        .StartObject()
        .EndObject()
        .Key("items")
        .StartArray();
    for (const Item& item : items) {
      w.StartObject().Key("metricName").String(kMetric).Key("metricLabels");
      w.StartObject();
      for (const auto& [k, v] : item.labels) w.Key(k).String(v);
      w.EndObject()
          .Key("timestamp")
          .String(item.timestamp)
          .Key("window")
          .Int(kWindow)
          .Key("value")
          .String(item.value)
          .EndObject();
    }
    std::string body = w.EndArray().EndObject().Take();
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  Count(state, bytes);
}
BENCHMARK(BM_Write_Ballast)->Arg(1)->Arg(100);

#ifdef BALLAST_BENCH_NLOHMANN
void BM_Write_Nlohmann(benchmark::State& state) {
  const std::vector<Item> items = Items(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    nlohmann::ordered_json list = {
        {"kind", "ExternalMetricValueList"},
        {"apiVersion", "external.metrics.k8s.io/v1beta1"},
        {"metadata", nlohmann::ordered_json::object()},
        {"items", nlohmann::ordered_json::array()}};
    nlohmann::ordered_json& out = list["items"];
    for (const Item& item : items) {
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& [k, v] : item.labels) labels[k] = v;
      out.push_back({{"metricName", kMetric},
                     {"metricLabels", std::move(labels)},
                     {"timestamp", item.timestamp},
                     {"window", kWindow},
                     {"value", item.value}});
    }
    std::string body = list.dump();
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  Count(state, bytes);
}
BENCHMARK(BM_Write_Nlohmann)->Arg(1)->Arg(100);
#endif

}  // namespace
