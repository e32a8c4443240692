#include "integration/common/redis_commands.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace ballast::testing {

std::vector<std::string> LPushCommand(const std::string& queue, int messages) {
  std::vector<std::string> lpush = {"LPUSH", queue};
  for (int i = 0; i < messages; ++i) lpush.push_back(absl::StrCat("m", i));
  return lpush;
}

net::RedisOptions RedisAt(int port, const std::string& password) {
  net::RedisOptions options;
  options.port = port;
  options.password = password;
  return options;
}

absl::StatusOr<std::vector<net::RedisReply>> RunRedis(
    int port, std::vector<std::vector<std::string>> commands) {
  return net::RunPipelineSync(RedisAt(port), std::move(commands));
}

absl::Status PushMessages(int port, const std::string& queue, int messages,
                          const std::string& password) {
  return net::RunPipelineSync(RedisAt(port, password),
                              {LPushCommand(queue, messages)})
      .status();
}

absl::Status SetBacklog(int port, const std::string& queue, int messages) {
  return RunRedis(port, {{"MULTI"},
                         {"DEL", queue},
                         LPushCommand(queue, messages),
                         {"EXEC"}})
      .status();
}

}  // namespace ballast::testing
