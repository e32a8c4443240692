#include "ballast/net/redis_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseRedisUrl, HostPortDb) {
  absl::StatusOr<net::RedisOptions> o =
      net::ParseRedisUrl("redis://10.1.2.3:6380/4");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "10.1.2.3");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 4);
  EXPECT_FALSE(o->tls);
  EXPECT_EQ(o->Address(), "10.1.2.3:6380");
}

TEST(ParseRedisUrl, DefaultsAndTls) {
  absl::StatusOr<net::RedisOptions> o =
      net::ParseRedisUrl("rediss://cache.internal");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->tls);
}

TEST(ParseRedisUrl, UsernameAndIpv6) {
  absl::StatusOr<net::RedisOptions> o =
      net::ParseRedisUrl("redis://ballast@[::1]:7000/");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->username, "ballast");
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->Address(), "[::1]:7000");
}

TEST(ParseRedisUrl, RejectsPasswordWithoutEchoingIt) {
  absl::StatusOr<net::RedisOptions> o =
      net::ParseRedisUrl("redis://user:s3cret@host:6379/0");
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), Not(HasSubstr("s3cret")));
}

TEST(ParseRedisUrl, RejectsBadInput) {
  for (const char* bad :
       {"http://host", "redis://", "redis://host:0", "redis://host:99999",
        "redis://host:x", "redis://host/-1", "redis://host/db"}) {
    EXPECT_EQ(net::ParseRedisUrl(bad).status().code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(RedisReply, ErrorRepliesMapToStatusCodes) {
  auto status = [](const char* text) {
    return net::RedisReply{.type = net::RedisReply::Type::kError, .str = text}
        .ToStatus("LLEN \"q\"");
  };
  EXPECT_EQ(status("WRONGTYPE Operation against a key").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(status("WRONGTYPE Operation against a key").message(),
            "LLEN \"q\": WRONGTYPE Operation against a key");
  EXPECT_EQ(status("NOPERM this user has no permissions").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(status("LOADING Redis is loading").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(status("ERR unknown command").code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(net::RedisReply{.type = net::RedisReply::Type::kInteger}
                  .ToStatus("x")
                  .ok());
}

TEST(RedisReply, DebugString) {
  EXPECT_EQ(net::RedisReply{}.DebugString(), "nil");
  EXPECT_EQ(
      (net::RedisReply{.type = net::RedisReply::Type::kInteger, .integer = 7})
          .DebugString(),
      "7");
  EXPECT_EQ(
      (net::RedisReply{.type = net::RedisReply::Type::kArray,
                       .elements = {net::RedisReply{}, net::RedisReply{}}})
          .DebugString(),
      "array of 2");
}

}  // namespace
}  // namespace ballast::source
