#include "integration/external_metrics/tls_client.h"

// Boost 1.74's awaitable.hpp uses std::exchange without including <utility>.
#include <utility>
//
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "integration/common/process.h"

namespace ballast::testing {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

absl::Status Openssl(std::vector<std::string> args) {
  absl::StatusOr<std::string> openssl = FindBinary("openssl");
  if (!openssl.ok()) return openssl.status();
  args.insert(args.begin(), *openssl);
  return RunCommand(args).status();
}

constexpr char kCurve[] = "ec_paramgen_curve:prime256v1";

absl::Status MakeCa(const std::string& base, const std::string& cn) {
  return Openssl({"req", "-x509", "-newkey", "ec", "-pkeyopt", kCurve, "-nodes",
                  "-keyout", base + ".key", "-out", base + ".crt", "-days", "2",
                  "-subj", "/CN=" + cn});
}

absl::StatusOr<KeyPair> MakeLeaf(const std::string& dir,
                                 const std::string& name, const std::string& cn,
                                 const std::string& ca,
                                 const std::string& extensions) {
  const std::string base = absl::StrCat(dir, "/", name);
  absl::Status req = Openssl({"req", "-new", "-newkey", "ec", "-pkeyopt",
                              kCurve, "-nodes", "-keyout", base + ".key",
                              "-out", base + ".csr", "-subj", "/CN=" + cn});
  if (!req.ok()) return req;
  const std::string ext_file = base + ".ext";
  std::ofstream(ext_file) << extensions;
  absl::Status s =
      Openssl({"x509", "-req", "-in", base + ".csr", "-CA", ca + ".crt",
               "-CAkey", ca + ".key", "-CAcreateserial", "-out", base + ".crt",
               "-days", "2", "-extfile", ext_file});
  if (!s.ok()) return s;
  return KeyPair{base + ".crt", base + ".key"};
}

std::string CommonName(X509* cert) {
  char buf[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, buf,
                            sizeof(buf));
  return buf;
}

auto Await(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

template <class Stream>
asio::awaitable<void> WriteAndRead(Stream& stream, const std::string& bytes,
                                   Exchange& out, bool& done) {
  error_code ec;
  if (!bytes.empty()) {
    co_await asio::async_write(stream, asio::buffer(bytes), Await(ec));
  }
  char buf[4096];
  for (;;) {
    const size_t n =
        co_await stream.async_read_some(asio::buffer(buf), Await(ec));
    out.received.append(buf, n);
    if (ec) break;
  }
  out.closed_by_server = true;
  done = true;
}

}  // namespace

absl::StatusOr<TestPki> MakeTestPki(const std::string& dir) {
  TestPki pki;
  pki.dir = dir;
  const std::string serving_ca = dir + "/serving-ca";
  const std::string proxy_ca = dir + "/front-proxy-ca";
  const std::string rogue_ca = dir + "/rogue-ca";
  for (auto [base, cn] : {std::pair{serving_ca, "serving-ca"},
                          std::pair{proxy_ca, "front-proxy-ca"},
                          std::pair{rogue_ca, "rogue-ca"}}) {
    if (absl::Status s = MakeCa(base, cn); !s.ok()) return s;
  }
  pki.serving_ca = serving_ca + ".crt";
  pki.front_proxy_ca = proxy_ca + ".crt";
  const std::string server_ext =
      "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
      "extendedKeyUsage=serverAuth\n";
  const std::string client_ext = "extendedKeyUsage=clientAuth\n";
  struct Leaf {
    KeyPair* out;
    const char* name;
    const char* cn;
    std::string ca;
    const std::string* ext;
  };
  for (const Leaf& leaf : {
           Leaf{&pki.serving_a, "serving-a", "ballast-a", serving_ca,
                &server_ext},
           Leaf{&pki.serving_b, "serving-b", "ballast-b", serving_ca,
                &server_ext},
           Leaf{&pki.proxy_client, "proxy-client", "front-proxy-client",
                proxy_ca, &client_ext},
           Leaf{&pki.other_client, "other-client", "someone-else", proxy_ca,
                &client_ext},
           Leaf{&pki.rogue_client, "rogue-client", "front-proxy-client",
                rogue_ca, &client_ext},
       }) {
    absl::StatusOr<KeyPair> pair =
        MakeLeaf(dir, leaf.name, leaf.cn, leaf.ca, *leaf.ext);
    if (!pair.ok()) return pair.status();
    *leaf.out = *std::move(pair);
  }
  return pki;
}

absl::StatusOr<Exchange> RawExchange(int port, const ClientTls* tls,
                                     const std::string& bytes,
                                     absl::Duration timeout) {
  asio::io_context io;
  tcp::socket socket(io);
  error_code ec;
  const absl::Time start = absl::Now();
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"),
                               static_cast<uint16_t>(port)),
                 ec);
  if (ec) return absl::UnavailableError("connect: " + ec.message());
  Exchange out;
  bool done = false;
  const auto chrono_timeout = absl::ToChronoMilliseconds(timeout);
  if (tls == nullptr) {
    asio::co_spawn(io, WriteAndRead(socket, bytes, out, done), asio::detached);
    io.run_for(chrono_timeout);
  } else {
    ssl::context ctx(ssl::context::tls_client);
    if (!tls->ca_file.empty()) {
      ctx.load_verify_file(tls->ca_file, ec);
      if (ec) return absl::InvalidArgumentError("CA: " + ec.message());
      ctx.set_verify_mode(ssl::verify_peer);
    }
    if (tls->client) {
      ctx.use_certificate_chain_file(tls->client->cert_file, ec);
      if (!ec)
        ctx.use_private_key_file(tls->client->key_file, ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("client cert: " + ec.message());
    }
    ssl::stream<tcp::socket> stream(std::move(socket), ctx);
    // The handshake is synchronous: the server answers it at once.
    stream.handshake(ssl::stream_base::client, ec);
    if (ec) return absl::UnavailableError("TLS handshake: " + ec.message());
    if (X509* cert = SSL_get1_peer_certificate(stream.native_handle())) {
      out.server_cn = CommonName(cert);
      X509_free(cert);
    }
    asio::co_spawn(io, WriteAndRead(stream, bytes, out, done), asio::detached);
    io.run_for(chrono_timeout);
  }
  out.closed_by_server = done;
  out.elapsed = absl::Now() - start;
  return out;
}

HttpReply ParseReply(const std::string& received) {
  HttpReply reply;
  const size_t end = received.find("\r\n\r\n");
  if (end == std::string::npos) return reply;
  std::vector<std::string> lines =
      absl::StrSplit(received.substr(0, end), "\r\n");
  std::vector<std::string> status_line = absl::StrSplit(lines[0], ' ');
  if (status_line.size() < 2 ||
      !absl::SimpleAtoi(status_line[1], &reply.status)) {
    return reply;
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    reply.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
  }
  size_t length = received.size() - end - 4;
  if (auto it = reply.headers.find("content-length");
      it != reply.headers.end()) {
    size_t declared = 0;
    if (absl::SimpleAtoi(it->second, &declared))
      length = std::min(length, declared);
  }
  reply.body = received.substr(end + 4, length);
  return reply;
}

absl::StatusOr<HttpReply> Get(int port, const ClientTls* tls,
                              const std::string& target) {
  absl::StatusOr<Exchange> e = RawExchange(
      port, tls,
      absl::StrCat(
          "GET ", target,
          " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
          // As the aggregator sends them; trusted only from a client whose
          // certificate the server verifies.
          "X-Remote-User: system:serviceaccount:kube-system:"
          "horizontal-pod-autoscaler\r\n"
          "X-Remote-Group: system:serviceaccounts\r\n"
          "Connection: close\r\n\r\n"));
  if (!e.ok()) return e.status();
  HttpReply reply = ParseReply(e->received);
  if (reply.status == 0) {
    return absl::DataLossError("no HTTP response in: " + e->received);
  }
  return reply;
}

}  // namespace ballast::testing
