// The Celery messages ballast reads from Redis (source/celery_backlog.cc):
// the values of the unacked hash (kombu's [message, exchange, routing_key]
// JSON arrays) and the members of the `_kombu.binding.*` sets.
// The first byte picks the parser. Oracles: UnackedRoutingKey agrees with
// the full JSON parser on every well-formed array, and a parsed binding
// joins back to the member.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "ballast/core/json.h"
#include "ballast/source/celery_backlog.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const uint8_t mode = in.ConsumeIntegral<uint8_t>();
  if ((mode & 1) == 0) {
    const std::string value = in.ConsumeRemainingBytesAsString();
    absl::StatusOr<std::string> key = ballast::source::UnackedRoutingKey(value);
    absl::StatusOr<rapidjson::Document> json = ballast::ParseJson(value);
    if (json.ok() && json->IsArray() && json->Size() >= 2 &&
        (*json)[json->Size() - 1].IsString()) {
      if (!key.ok() || *key != ballast::JsonText((*json)[json->Size() - 1])) {
        std::abort();
      }
    }
    return 0;
  }
  ballast::source::CeleryBrokerOptions options;
  if (mode & 2) {
    options.separator = in.ConsumeRandomLengthString(4);
    if (options.separator.empty()) options.separator = ".";
  }
  const std::string member = in.ConsumeRemainingBytesAsString();
  absl::StatusOr<ballast::source::CeleryBinding> b =
      ballast::source::ParseBindingMember(member, options);
  if (!b.ok()) return 0;
  if (b->queue.empty()) std::abort();
  if (absl::StrCat(b->routing_key, options.separator, b->pattern,
                   options.separator, b->queue) != member) {
    std::abort();
  }
  return 0;
}
