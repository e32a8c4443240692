// tests/integration/common/redis_commands.h
//
// Setting up a Celery backlog on a test redis-server: LPUSH a number of
// messages, or replace a queue's backlog at once.
//
//   ASSERT_TRUE(PushMessages(redis.port(), "asr", 12).ok());
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_REDIS_COMMANDS_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_REDIS_COMMANDS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ballast/net/redis_client.h"

namespace ballast::testing {

// LPUSH QUEUE m0 m1 ... (`messages` of them).
std::vector<std::string> LPushCommand(const std::string& queue, int messages);

// The options of a throwaway connection to 127.0.0.1:port.
net::RedisOptions RedisAt(int port, const std::string& password = "");

// Runs `commands` on a throwaway connection to 127.0.0.1:port.
absl::StatusOr<std::vector<net::RedisReply>> RunRedis(
    int port, std::vector<std::vector<std::string>> commands);

// LPUSHes `messages` messages onto `queue`.
absl::Status PushMessages(int port, const std::string& queue, int messages,
                          const std::string& password = "");

// Replaces `queue` with `messages` messages in one transaction.
absl::Status SetBacklog(int port, const std::string& queue, int messages);

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_REDIS_COMMANDS_H_
