// The HTTP core's connection limit and graceful stop, over plain TCP.
#include "ballast/net/http_server.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "integration/common/tls_client.h"

namespace ballast::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST(HttpServer, ClosesConnectionsBeyondTheLimitAndStopsGracefully) {
  asio::io_context io;
  std::atomic<int> rejected_503{0};
  absl::StatusOr<std::unique_ptr<net::HttpServer>> server =
      net::HttpServer::Start(
          io,
          {.listen = "127.0.0.1:0",
           .max_connections = 1,
           .request_timeout = absl::Seconds(20),
           .on_rejected =
               [&](int status) {
                 if (status == 503) ++rejected_503;
               }},
          [](const net::HttpRequest& request, const net::PeerInfo&) {
            return net::HttpResponse{.body = request.path};
          });
  ASSERT_TRUE(server.ok()) << server.status();
  std::thread runner([&io] { io.run(); });
  const int port = (*server)->port();

  // A silent client takes the only slot.
  asio::io_context client_io;
  tcp::socket silent(client_io);
  silent.connect(
      {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)});
  for (int i = 0; i < 200 && (*server)->connections() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ((*server)->connections(), 1u);

  absl::StatusOr<testing::Exchange> refused = testing::RawExchange(
      port, nullptr, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n", absl::Seconds(5));
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_TRUE(refused->closed_by_server);
  EXPECT_EQ(refused->received, "");
  EXPECT_EQ(rejected_503.load(), 1);

  // Stop closes the idle connection at once, long before the grace period.
  absl::Notification stopped;
  const absl::Time start = absl::Now();
  (*server)->Stop(absl::Seconds(10), [&] { stopped.Notify(); });
  ASSERT_TRUE(stopped.WaitForNotificationWithTimeout(absl::Seconds(5)));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  char byte;
  boost::system::error_code ec;
  asio::read(silent, asio::buffer(&byte, 1), ec);
  EXPECT_TRUE(ec) << "the silent connection should be closed";
  // And no longer accepts.
  EXPECT_FALSE(testing::Get(port, nullptr, "/x").ok());

  io.stop();
  runner.join();
}

}  // namespace
}  // namespace ballast::server
