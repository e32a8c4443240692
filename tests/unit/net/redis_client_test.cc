#include "ballast/net/redis_client.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(ParseRedisAddress, HostPortDb) {
  net::RedisOptions parsed;
  const absl::Status s =
      net::ParseRedisAddress("redis://10.1.2.3:6380/4", parsed);
  ASSERT_TRUE(s.ok()) << s;
  const net::RedisOptions* o = &parsed;
  EXPECT_EQ(o->host, "10.1.2.3");
  EXPECT_EQ(o->port, 6380);
  EXPECT_EQ(o->db, 4);
  EXPECT_FALSE(o->tls);
  EXPECT_EQ(o->Address(), "10.1.2.3:6380");
}

TEST(ParseRedisAddress, DefaultsAndTls) {
  net::RedisOptions parsed;
  const absl::Status s =
      net::ParseRedisAddress("rediss://cache.internal", parsed);
  ASSERT_TRUE(s.ok()) << s;
  const net::RedisOptions* o = &parsed;
  EXPECT_EQ(o->host, "cache.internal");
  EXPECT_EQ(o->port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(o->tls);
}

TEST(ParseRedisAddress, UsernameAndIpv6) {
  net::RedisOptions parsed;
  const absl::Status s =
      net::ParseRedisAddress("redis://ballast@[::1]:7000/", parsed);
  ASSERT_TRUE(s.ok()) << s;
  const net::RedisOptions* o = &parsed;
  EXPECT_EQ(o->username, "ballast");
  EXPECT_EQ(o->host, "::1");
  EXPECT_EQ(o->port, 7000);
  EXPECT_EQ(o->Address(), "[::1]:7000");
}

TEST(ParseRedisAddress, RejectsPasswordWithoutEchoingIt) {
  net::RedisOptions o;
  const absl::Status s =
      net::ParseRedisAddress("redis://user:s3cret@host:6379/0", o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), Not(HasSubstr("s3cret")));
  EXPECT_EQ(o.host, "127.0.0.1");  // unchanged on error
}

TEST(ParseRedisAddress, RejectsBadInput) {
  for (const char* bad :
       {"http://host", "redis://", "redis://host:0", "redis://host:99999",
        "redis://host:x", "redis://host/-1", "redis://host/db", "host",
        "host:", ":6379", "[::1:6379", "10.0.0.1:70000"}) {
    net::RedisOptions o;
    EXPECT_EQ(net::ParseRedisAddress(bad, o).code(),
              absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(ParseRedisAddress, HostPortWithoutScheme) {
  net::RedisOptions o;
  ASSERT_TRUE(net::ParseRedisAddress("[::1]:6380", o).ok());
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 6380);
  EXPECT_FALSE(o.tls);
  ASSERT_TRUE(net::ParseRedisAddress("redis.internal:6379", o).ok());
  EXPECT_EQ(o.Address(), "redis.internal:6379");
  ASSERT_TRUE(net::ParseRedisAddress("worker@10.0.0.1:6380/2", o).ok());
  EXPECT_EQ(o.username, "worker");
  EXPECT_EQ(o.host, "10.0.0.1");
  EXPECT_EQ(o.db, 2);
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
