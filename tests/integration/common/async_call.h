// tests/integration/common/async_call.h
//
// Runs one asynchronous call of the code under test to completion on an
// io_context, on the test thread (the Asio fixture pattern of STYLE.md).
//
//   boost::asio::io_context io;
//   absl::StatusOr<QueryResult> r = AsyncCall<QueryResult>(io, [&](auto done) {
//     client->Query(query, absl::Now(), std::move(done));
//   });
#ifndef BALLAST_TESTS_INTEGRATION_COMMON_ASYNC_CALL_H_
#define BALLAST_TESTS_INTEGRATION_COMMON_ASYNC_CALL_H_

#include <utility>
//
#include <boost/asio/io_context.hpp>
#include <optional>

#include "absl/status/statusor.h"

namespace ballast::testing {

// `start(done)` must arrange for `done(absl::StatusOr<T>)` to be called on
// `io`. Runs `io` until it is (at most `limit`; then DeadlineExceeded).
template <class T, class Start>
absl::StatusOr<T> AsyncCall(
    boost::asio::io_context& io, Start&& start,
    std::chrono::seconds limit = std::chrono::seconds(60)) {
  std::optional<absl::StatusOr<T>> result;
  std::forward<Start>(start)(
      [&result](absl::StatusOr<T> r) { result = std::move(r); });
  io.restart();
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!result.has_value() && std::chrono::steady_clock::now() < deadline) {
    if (io.run_one_until(deadline) == 0) break;
  }
  if (!result.has_value()) {
    return absl::DeadlineExceededError("the async call did not complete");
  }
  return *std::move(result);
}

}  // namespace ballast::testing

#endif  // BALLAST_TESTS_INTEGRATION_COMMON_ASYNC_CALL_H_
