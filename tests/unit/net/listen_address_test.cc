#include "ballast/net/listen_address.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast {
namespace {

using ::testing::HasSubstr;

TEST(ParseListenAddress, ReadsWhatTheServersBind) {
  struct Case {
    const char* text;
    const char* ip;
    int port;
  };
  for (const Case& c :
       {Case{"127.0.0.1:8443", "127.0.0.1", 8443},
        Case{"0.0.0.0:0", "0.0.0.0", 0}, Case{":9090", "0.0.0.0", 9090},
        Case{"localhost:80", "127.0.0.1", 80}, Case{"[::1]:6443", "::1", 6443},
        Case{"[::]:65535", "::", 65535}}) {
    absl::StatusOr<net::ListenAddress> a = net::ParseListenAddress(c.text);
    ASSERT_TRUE(a.ok()) << c.text << ": " << a.status();
    EXPECT_EQ(a->ip, c.ip) << c.text;
    EXPECT_EQ(a->port, c.port) << c.text;
  }
}

TEST(ParseListenAddress, RefusesNamesAndMalformedAddresses) {
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c :
       {Case{"ballast.example.com:8443", "must be an IP"},
        Case{"::1:8443", "IPv6 in brackets"},
        Case{"[127.0.0.1]:80", "must be an IP"}, Case{"[]:80", "must be an IP"},
        Case{"127.0.0.1", "not host:port"}, Case{"8443", "not host:port"},
        Case{"127.0.0.1:65536", "bad port"}, Case{"127.0.0.1:-1", "bad port"},
        Case{"127.0.0.1:http", "bad port"},
        Case{"300.1.1.1:80", "must be an IP"}}) {
    absl::StatusOr<net::ListenAddress> a = net::ParseListenAddress(c.text);
    ASSERT_FALSE(a.ok()) << c.text;
    EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(a.status().message(), HasSubstr(c.message)) << c.text;
    EXPECT_THAT(a.status().message(), HasSubstr(c.text)) << c.text;
  }
}

}  // namespace
}  // namespace ballast
