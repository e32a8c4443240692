#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "ballast/net/http_client.h"
#include "gtest/gtest.h"

namespace ballast::source {
namespace {

TEST(ParseUrl, SplitsSchemeHostPortAndPrefix) {
  absl::StatusOr<net::Url> u =
      net::ParseUrl("https://prom.example:9443/prometheus/");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "prom.example");
  EXPECT_EQ(u->port, 9443);
  EXPECT_EQ(u->path_prefix, "/prometheus");
  EXPECT_EQ(u->Origin(), "https://prom.example:9443");
}

TEST(ParseUrl, DefaultsPortsAndReadsIpv6) {
  EXPECT_EQ(net::ParseUrl("http://h")->port, 80);
  EXPECT_EQ(net::ParseUrl("https://h/")->port, 443);
  EXPECT_EQ(net::ParseUrl("https://h/")->path_prefix, "");
  absl::StatusOr<net::Url> u = net::ParseUrl("http://[::1]:9090");
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->Origin(), "http://[::1]:9090");
}

TEST(ParseUrl, RejectsWhatItCannotServe) {
  for (const char* url :
       {"", "ftp://h", "127.0.0.1:9090", "http://", "http://:80", "http://h:0",
        "http://h:65536", "http://h:x", "http://h/?q=1", "http://u:p@h",
        "http://[::1", "http://[::1]x"}) {
    absl::StatusOr<net::Url> u = net::ParseUrl(url);
    EXPECT_FALSE(u.ok()) << url;
    if (!u.ok()) {
      EXPECT_EQ(u.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_TRUE(absl::StrContains(u.status().message(), "invalid URL"));
    }
  }
}

TEST(UrlEncode, KeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(net::UrlEncode("aZ09-._~"), "aZ09-._~");
  EXPECT_EQ(net::UrlEncode("a b+c&d=e/f?%\"\xC3\xA9"),
            "a%20b%2Bc%26d%3De%2Ff%3F%25%22%C3%A9");
  EXPECT_EQ(net::EncodeQuery({{"query", "up == 1"}, {"t", ""}}),
            "query=up%20%3D%3D%201&t=");
}

TEST(CodeForHttpStatus, MapsClassesOfErrors) {
  EXPECT_EQ(net::CodeForHttpStatus(400), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net::CodeForHttpStatus(401), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(net::CodeForHttpStatus(403), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(net::CodeForHttpStatus(404), absl::StatusCode::kNotFound);
  EXPECT_EQ(net::CodeForHttpStatus(422), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(net::CodeForHttpStatus(429), absl::StatusCode::kUnavailable);
  EXPECT_EQ(net::CodeForHttpStatus(500), absl::StatusCode::kUnavailable);
  EXPECT_EQ(net::CodeForHttpStatus(503), absl::StatusCode::kUnavailable);
  EXPECT_EQ(net::CodeForHttpStatus(504), absl::StatusCode::kDeadlineExceeded);
}

TEST(Shorten, CutsAndHidesControlCharacters) {
  EXPECT_EQ(net::Shorten("abc", 5), "abc");
  EXPECT_EQ(net::Shorten("abcdef", 3), "abc...");
  EXPECT_EQ(net::Shorten("a\nb\x7f", 10), "a?b?");
}

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/ballast_secret_XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void Write(const std::string& text) {
    // Like kubelet: write a new file and rename it over the old one.
    const std::string tmp = path_ + ".new";
    std::ofstream(tmp) << text;
    ASSERT_EQ(std::rename(tmp.c_str(), path_.c_str()), 0);
  }
  std::string path_;
};

TEST_F(SecretFileTest, ReadsTrimmedContentsAndFollowsRotation) {
  Write("token-one\n");
  net::SecretFile secret(path_);
  EXPECT_EQ(secret.Get().value(), "token-one");
  EXPECT_EQ(secret.Get().value(), "token-one");
  Write("token-two\n");
  EXPECT_EQ(secret.Get().value(), "token-two");
}

TEST_F(SecretFileTest, MissingOrEmptyFileIsFailedPrecondition) {
  Write("  \n");
  net::SecretFile secret(path_);
  EXPECT_EQ(secret.Get().status().code(),
            absl::StatusCode::kFailedPrecondition);
  net::SecretFile missing(path_ + ".absent");
  absl::StatusOr<std::string> s = missing.Get();
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(s.status().message(), ".absent"));
}

}  // namespace
}  // namespace ballast::source
