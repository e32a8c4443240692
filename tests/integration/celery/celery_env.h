// tests/integration/celery/celery_env.h
//
// Helpers for the Celery/Redis integration tests: run an io_context until an
// asynchronous call completes, talk to a test Redis synchronously, and drive
// the real Celery app in celery_app.py (Debian's python3-celery).
//
//   RedisServer redis;
//   ASSERT_TRUE(redis.Start().ok());
//   ASSERT_TRUE(SendTasks(redis.port(), "a", 10, {"0", "9"}).ok());
//   std::optional<CeleryPollResult> r = PollOnce(io, source);
#ifndef BALLAST_TESTS_INTEGRATION_CELERY_CELERY_ENV_H_
#define BALLAST_TESTS_INTEGRATION_CELERY_CELERY_ENV_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/redis_client.h"
#include "ballast/source/celery_backlog.h"
#include "integration/common/process.h"

namespace ballast::testing {

using net::RedisClient;
using net::RedisOptions;
using net::RedisReply;
using source::CeleryPollResult;
using source::CeleryRedisSource;

inline const std::string kCeleryDir =
    std::string(BALLAST_SOURCE_DIR) + "/tests/integration/celery";

// Starts an asynchronous call with a callback that stores its result, and
// runs `io` until it arrives (nullopt after `timeout`).
template <typename T>
std::optional<T> Await(
    boost::asio::io_context& io,
    absl::AnyInvocable<void(absl::AnyInvocable<void(T)>)> start,
    absl::Duration timeout = absl::Seconds(10)) {
  auto out = std::make_shared<std::optional<T>>();
  start([out](T value) { *out = std::move(value); });
  const absl::Time deadline = absl::Now() + timeout;
  while (!out->has_value() && absl::Now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return std::move(*out);
}

inline std::optional<CeleryPollResult> PollOnce(boost::asio::io_context& io,
                                                CeleryRedisSource& source) {
  return Await<CeleryPollResult>(
      io, [&](auto done) { source.Poll(std::move(done)); });
}

inline std::optional<absl::StatusOr<std::vector<net::RedisReply>>> RunPipeline(
    boost::asio::io_context& io, net::RedisClient& client,
    std::vector<std::vector<std::string>> commands) {
  return Await<absl::StatusOr<std::vector<net::RedisReply>>>(
      io, [&](auto done) {
        client.Pipeline(std::move(commands), std::move(done));
      });
}

inline net::RedisOptions Loopback(int port) {
  return net::RedisOptions{.host = "127.0.0.1", .port = port};
}

// Runs commands on the test server with a throwaway connection; fails on a
// connection error or on any error reply.
inline absl::StatusOr<std::vector<net::RedisReply>> Redis(
    int port, std::vector<std::vector<std::string>> commands) {
  absl::StatusOr<std::vector<net::RedisReply>> replies =
      net::RunPipelineSync(Loopback(port), std::move(commands));
  if (!replies.ok()) return replies.status();
  for (const net::RedisReply& r : *replies) {
    if (absl::Status s = r.ToStatus("setup"); !s.ok()) return s;
  }
  return replies;
}

// The environment of celery_app.py for a broker on 127.0.0.1:port.
inline std::map<std::string, std::string> CeleryEnv(
    int port, const std::string& transport_options = "") {
  return {
      {"BALLAST_BROKER_URL", absl::StrCat("redis://127.0.0.1:", port, "/0")},
      {"BALLAST_TRANSPORT_OPTIONS", transport_options},
      {"PYTHONPATH", kCeleryDir},
      {"PYTHONDONTWRITEBYTECODE", "1"}};
}

// Sends `count` tasks per priority ("0".."9", or "none") to `queue` through
// Celery's own producer (app.send_task).
inline absl::Status SendTasks(int port, const std::string& queue, int count,
                              const std::vector<std::string>& priorities,
                              const std::string& transport_options = "") {
  std::vector<std::string> argv = {"/usr/bin/env"};
  for (const auto& [k, v] : CeleryEnv(port, transport_options)) {
    argv.push_back(absl::StrCat(k, "=", v));
  }
  argv.insert(argv.end(), {kSystemPython, kCeleryDir + "/celery_app.py", "send",
                           queue, std::to_string(count)});
  argv.insert(argv.end(), priorities.begin(), priorities.end());
  return RunCommand(argv, absl::Seconds(30)).status();
}

// Starts a real Celery worker of celery_app.py consuming `queues` (comma
// separated) with one process that prefetches `prefetch` messages; its log
// goes to `log_path`. The tasks sleep 60 s with acks_late: stop it with
// SIGKILL (a warm shutdown would wait for them).
inline absl::Status StartWorker(ChildProcess& worker, int port,
                                const std::string& queues, int prefetch,
                                const std::string& log_path) {
  return worker.Start(
      {kSystemPython, "-m", "celery", "-A", "celery_app", "worker",
       "--concurrency", "1", "--prefetch-multiplier", std::to_string(prefetch),
       "-Q", queues, "-n", "ballast-test@%h", "--without-heartbeat",
       "--without-gossip", "--without-mingle", "--loglevel", "info"},
      log_path, CeleryEnv(port));
}

// Fails unless Debian's Python can import celery: a missing Celery is a
// test failure, never a skip.
inline absl::Status CheckCelery() {
  return RunCommand({kSystemPython, "-c", "import celery"}).status();
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_CELERY_CELERY_ENV_H_
