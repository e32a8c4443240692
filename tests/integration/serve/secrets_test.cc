// Issue 12, "No secret anywhere": every secret a config can carry is set to a
// distinctive random marker (Redis passwords by file and by environment,
// Prometheus bearer token, basic-auth passwords and a custom header, the
// kubeconfig user's token, the external metrics and gRPC TLS keys, and the
// inline and in-URL passwords a config must refuse), then the real binary
// runs against real redis-servers (requirepass) and a stand-in Prometheus:
// `ballast serve` at debug level in both log formats (a wrong password first,
// then the right one; a rejected reload), /metrics, /readyz, the ballast.v1
// API, `ballast explain`, `ballast probe` and `ballast check-config`. No
// marker may appear in any of their outputs, and each output is non-empty.
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "ballast/net/redis_client.h"
#include "ballast/v1/ballast.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "integration/cli_util.h"
#include "integration/common/process.h"
#include "integration/common/prometheus_server.h"
#include "integration/common/redis_commands.h"
#include "integration/common/serve_process.h"
#include "integration/common/test_pki.h"

namespace ballast::testing {
namespace {

// A marker no output could contain by chance: a name and 24 random hex
// digits.
std::string Marker(const std::string& name) {
  static std::mt19937_64 rng{std::random_device{}()};
  return absl::StrCat("Zq", name, absl::Hex(rng(), absl::kZeroPad16),
                      absl::Hex(rng() & 0xffffffff, absl::kZeroPad8));
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

constexpr char kRedisPasswordEnv[] = "BALLAST_SECRETS_TEST_REDIS_PASSWORD";
constexpr char kPromPasswordEnv[] = "BALLAST_SECRETS_TEST_PROM_PASSWORD";

// The config, with every secret by reference. BAD_SOURCES and BAD_TARGET
// make the invalid variant: the secrets a config must refuse (inline, in a
// URL) next to an ordinary error.
constexpr char kConfig[] = R"(# generation GEN
kubernetes: {kubeconfig: DIR/kubeconfig}
sources:
  redis:
    filesrc: {address: "127.0.0.1:RA", passwordFile: DIR/redis-password, timeoutMs: 300, connectTimeoutMs: 300}
    envsrc: {address: "127.0.0.1:RB", passwordEnv: REDIS_ENV, timeoutMs: 300, connectTimeoutMs: 300}
BAD_SOURCES  prometheus:
    bearer: {url: "http://127.0.0.1:PP", bearerTokenFile: DIR/prom-token, headers: {X-Api-Key: HEADER}}
    basicenv: {url: "http://127.0.0.1:PP", basicAuth: {username: ballast, passwordEnv: PROM_ENV}}
    basicfile: {url: "http://127.0.0.1:PP", basicAuth: {username: ballast, passwordFile: DIR/prom-password}}
server:
  pollIntervalSeconds: 1
  telemetry: {listen: "127.0.0.1:TEL", targetMetrics: full}
  grpc: {listen: "127.0.0.1:GRPC"GRPC_TLS}
  externalMetrics: {listen: "127.0.0.1:HTTPS", tlsCertFile: DIR/em.crt, tlsKeyFile: DIR/em.key}
targets:
  - name: asr-worker
    maxReplicas: 20
    currentReplicas: {static: 2}
    inputs:
      - {name: file_backlog, celery: {source: filesrc, queues: [asr]}, averageValue: 3}
      - {name: env_backlog, celery: {source: envsrc, queues: [asr]}, averageValue: 3}
      - {name: bearer_rate, prometheus: {source: bearer, query: "value:7"}, averageValue: 1}
      - {name: basic_env_rate, prometheus: {source: basicenv, query: "value:5"}, averageValue: 1}
      - {name: basic_file_rate, prometheus: {source: basicfile, query: "value:6"}, averageValue: 1}
  - name: tts-worker
    maxReplicas: 10
BAD_TARGET    currentReplicas: {kubernetes: {namespace: speech, deployment: tts-worker}}
    inputs:
      - {name: backlog, celery: {source: envsrc, queues: [tts]}, averageValue: 3}
)";

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    markers_ = {
        {"redis password (file)", Marker("redisfile")},
        {"wrong redis password (file)", Marker("wrongredis")},
        {"redis password (env)", Marker("redisenv")},
        {"prometheus bearer token", Marker("bearer")},
        {"prometheus header", Marker("header")},
        {"prometheus basic-auth password (env)", Marker("basicenv")},
        {"prometheus basic-auth password (file)", Marker("basicfile")},
        {"kubeconfig token", Marker("kubetoken")},
        {"inline redis password", Marker("inline")},
        {"redis URL password", Marker("redisurl")},
        {"redis URL password (bad address)", Marker("redisurlbad")},
        {"prometheus URL password", Marker("promurl")},
        {"kubeconfig server URL password", Marker("kubeurl")},
    };
    // What a Basic Authorization header carries.
    for (const char* which : {"env", "file"}) {
      const std::string name =
          absl::StrCat("prometheus basic-auth password (", which, ")");
      markers_[absl::StrCat("basic-auth header (", which, ")")] =
          absl::Base64Escape(absl::StrCat("ballast:", markers_[name]));
    }

    ASSERT_TRUE(
        redis_file_.Start({"--requirepass", markers_["redis password (file)"]})
            .ok());
    ASSERT_TRUE(
        redis_env_.Start({"--requirepass", markers_["redis password (env)"]})
            .ok());
    Push(redis_file_, markers_["redis password (file)"], "asr", 12);
    Push(redis_env_, markers_["redis password (env)"], "asr", 6);
    Push(redis_env_, markers_["redis password (env)"], "tts", 9);

    // The stand-in Prometheus records the Authorization it was sent.
    absl::StatusOr<int> port = FreePort();
    ASSERT_TRUE(port.ok());
    prometheus_port_ = *port;
    ASSERT_TRUE(prometheus_
                    .Start({kSystemPython,
                            std::string(BALLAST_SOURCE_DIR) +
                                "/tests/integration/prometheus/"
                                "fake_prometheus.py",
                            absl::StrCat(prometheus_port_)},
                           dir_ + "/prometheus.log")
                    .ok());
    ASSERT_TRUE(WaitForPort(prometheus_port_, absl::Seconds(10)).ok());

    // TLS: a CA, and a key and certificate each for the external metrics
    // API and gRPC. A key's marker is its base64 body.
    absl::StatusOr<KeyPair> ca = MakeCa(dir_, "ca", "secrets-ca");
    ASSERT_TRUE(ca.ok()) << ca.status();
    for (const char* name : {"em", "grpc"}) {
      ASSERT_TRUE(
          IssueCert(dir_, name, *ca,
                    {.cn = "ballast", .sans = "IP:127.0.0.1,DNS:localhost"})
              .ok());
    }
    for (const char* name : {"em", "grpc"}) {
      std::string body;
      for (absl::string_view line :
           absl::StrSplit(ReadFile(absl::StrCat(dir_, "/", name, ".key")), '\n',
                          absl::SkipEmpty())) {
        if (absl::StartsWith(line, "-----")) continue;
        markers_[absl::StrCat(name, " TLS key line ", body.size() / 64)] =
            std::string(line);
        absl::StrAppend(&body, line);
      }
      ASSERT_GT(body.size(), 100u) << name;
      markers_[absl::StrCat(name, " TLS key")] = body;
    }

    // A kubeconfig whose API server does not answer.
    port = FreePort();
    ASSERT_TRUE(port.ok());
    WriteText(dir_ + "/kubeconfig",
              absl::StrReplaceAll(R"(apiVersion: v1
kind: Config
current-context: test
clusters:
  - name: test
    cluster: {server: "https://127.0.0.1:PORT", insecure-skip-tls-verify: true}
contexts:
  - name: test
    context: {cluster: test, user: ballast}
users:
  - name: ballast
    user: {token: TOKEN}
)",
                                  {{"PORT", absl::StrCat(*port)},
                                   {"TOKEN", markers_["kubeconfig "
                                                      "token"]}}));
    WriteText(dir_ + "/redis-password",
              markers_["wrong redis password (file)"] + "\n");
    WriteText(dir_ + "/prom-token", markers_["prometheus bearer token"] + "\n");
    WriteText(dir_ + "/prom-password",
              markers_["prometheus basic-auth password (file)"] + "\n");
    setenv(kRedisPasswordEnv, markers_["redis password (env)"].c_str(), 1);
    setenv(kPromPasswordEnv,
           markers_["prometheus basic-auth password (env)"].c_str(), 1);
    config_path_ = dir_ + "/ballast.yaml";
    bad_config_path_ = dir_ + "/bad.yaml";
  }

  void TearDown() override {
    unsetenv(kRedisPasswordEnv);
    unsetenv(kPromPasswordEnv);
  }

  static void Push(const RedisServer& redis, const std::string& password,
                   const std::string& queue, int messages) {
    ASSERT_TRUE(PushMessages(redis.port(), queue, messages, password).ok());
  }

  std::string ConfigText(bool bad, bool grpc_tls) {
    std::string bad_sources, bad_target;
    if (bad) {
      bad_sources = absl::StrReplaceAll(
          R"(    inline: {address: "127.0.0.1:RA", password: INLINE}
    urlpw: {address: "redis://ballast:URLPW@127.0.0.1:RA/0"}
    urlbad: {address: "redis://ballast:URLBAD@127.0.0.1:notaport"}
  prometheus:
    promurl: {url: "http://ballast:PROMURL@127.0.0.1:PP"}
)",
          {{"INLINE", markers_["inline redis password"]},
           {"URLPW", markers_["redis URL password"]},
           {"URLBAD", markers_["redis URL password (bad address)"]},
           {"PROMURL", markers_["prometheus URL password"]}});
      bad_target = "    minReplicas: 30\n";
    }
    std::string text = absl::StrReplaceAll(
        kConfig, {{"BAD_SOURCES", bad_sources},
                  {"BAD_TARGET", bad_target},
                  {"GRPC_TLS", grpc_tls ? ", tlsCertFile: DIR/grpc.crt, "
                                          "tlsKeyFile: DIR/grpc.key"
                                        : ""},
                  {"GEN", absl::StrCat(++generation_)}});
    if (bad) {
      // Two `prometheus:` maps: merge the stand-in's into the first.
      text = absl::StrReplaceAll(
          text, {{"\n  prometheus:\n    bearer:", "\n    bearer:"}});
    }
    return absl::StrReplaceAll(text, {{"DIR", dir_},
                                      {"RA", absl::StrCat(redis_file_.port())},
                                      {"RB", absl::StrCat(redis_env_.port())},
                                      {"PP", absl::StrCat(prometheus_port_)},
                                      {"REDIS_ENV", kRedisPasswordEnv},
                                      {"PROM_ENV", kPromPasswordEnv},
                                      {"HEADER", markers_["prometheus header"]},
                                      {"TEL", absl::StrCat(telemetry_port_)},
                                      {"GRPC", absl::StrCat(grpc_port_)},
                                      {"HTTPS", absl::StrCat(https_port_)}});
  }

  std::string Metrics() { return MetricsOf(telemetry_port_); }

  bool Eventually(const std::string& series,
                  const std::function<bool(double)>& pred) {
    return EventuallySample(telemetry_port_, series, pred, absl::Seconds(20));
  }

  // Every ballast.v1 call, as text.
  std::string CallApi(bool tls) {
    std::shared_ptr<grpc::ChannelCredentials> credentials =
        grpc::InsecureChannelCredentials();
    if (tls) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(dir_ + "/ca.crt");
      credentials = grpc::SslCredentials(ssl);
    }
    auto stub = ballast::v1::Ballast::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", grpc_port_), credentials));
    auto deadline = [](grpc::ClientContext& c) {
      c.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(5));
    };
    std::string out;
    auto record = [&](const std::string& what, const grpc::Status& s,
                      const google::protobuf::Message& response) {
      absl::StrAppend(&out, what, ": ", s.ok() ? "OK" : s.error_message(), "\n",
                      response.DebugString(), "\n");
    };
    {
      grpc::ClientContext c;
      deadline(c);
      ballast::v1::ListTargetsResponse r;
      record("ListTargets", stub->ListTargets(&c, {}, &r), r);
      EXPECT_EQ(r.targets_size(), 2) << out;
    }
    for (const char* target : {"asr-worker", "tts-worker", "no-such"}) {
      grpc::ClientContext c;
      deadline(c);
      ballast::v1::GetRecommendationRequest request;
      request.set_target(target);
      request.set_history(20);
      ballast::v1::GetRecommendationResponse r;
      const grpc::Status s = stub->GetRecommendation(&c, request, &r);
      EXPECT_EQ(s.ok(), std::string(target) != "no-such") << target << out;
      record(absl::StrCat("GetRecommendation ", target), s, r);
    }
    {
      grpc::ClientContext c;
      deadline(c);
      ballast::v1::WatchRecommendationsRequest request;
      auto reader = stub->WatchRecommendations(&c, request);
      ballast::v1::Recommendation r;
      EXPECT_TRUE(reader->Read(&r)) << out;
      record("WatchRecommendations", grpc::Status::OK, r);
      c.TryCancel();
    }
    {
      grpc::ClientContext c;
      deadline(c);
      ballast::v1::CheckConfigRequest request;
      request.set_yaml(ConfigText(/*bad=*/true, tls));
      request.set_file_name("bad.yaml");
      ballast::v1::CheckConfigResponse r;
      const grpc::Status s = stub->CheckConfig(&c, request, &r);
      EXPECT_TRUE(s.ok()) << s.error_message();
      EXPECT_FALSE(r.valid());
      EXPECT_GE(r.errors_size(), 2) << r.DebugString();
      record("CheckConfig", s, r);
    }
    return out;
  }

  // `ballast serve` in one log format, through a wrong password, its fix and
  // a rejected reload; records every output.
  void Serve(const std::string& format, bool grpc_tls) {
    SCOPED_TRACE(format);
    for (int* port : {&telemetry_port_, &grpc_port_, &https_port_}) {
      absl::StatusOr<int> p = FreePort();
      ASSERT_TRUE(p.ok());
      *port = *p;
    }
    WriteText(dir_ + "/redis-password",
              markers_["wrong redis password (file)"] + "\n");
    WriteText(config_path_, ConfigText(false, grpc_tls));
    const std::string log = absl::StrCat(dir_, "/serve-", format, ".log");
    ChildProcess ballast;
    absl::Status started =
        StartServe(ballast, {.config_path = config_path_,
                             .log_path = log,
                             .telemetry_port = telemetry_port_,
                             .log_format = format,
                             .log_level = "debug",
                             .wait_path = "/healthz"});
    ASSERT_TRUE(started.ok()) << started;

    // The wrong password is refused, counted and logged.
    EXPECT_TRUE(Eventually(
        R"(ballast_source_errors_total{error="unauthenticated",kind="redis",source="filesrc"})",
        [](double v) { return v >= 1; }))
        << Metrics() << ReadFile(log);
    EXPECT_TRUE(Eventually(
        R"(ballast_input_value{input="env_backlog",target="asr-worker"})",
        [](double v) { return v == 6; }))
        << ReadFile(log);
    for (const char* input :
         {"bearer_rate", "basic_env_rate", "basic_file_rate"}) {
      EXPECT_TRUE(Eventually(absl::StrCat(R"(ballast_input_value{input=")",
                                          input, R"(",target="asr-worker"})"),
                             [](double v) { return v > 0; }))
          << input << ReadFile(log);
    }
    outputs_[format + ": /metrics, wrong password"] = Metrics();
    if (absl::StatusOr<HttpReply> r = HttpGet(telemetry_port_, "/readyz");
        r.ok()) {
      outputs_[format + ": /readyz, wrong password"] = r->body;
    }

    // The right password, and a reload to use it.
    WriteText(dir_ + "/redis-password",
              markers_["redis password (file)"] + "\n");
    WriteText(config_path_, ConfigText(false, grpc_tls));
    EXPECT_TRUE(Eventually(
        R"(ballast_input_value{input="file_backlog",target="asr-worker"})",
        [](double v) { return v == 12; }))
        << Metrics() << ReadFile(log);
    outputs_[format + ": /metrics"] = Metrics();
    if (absl::StatusOr<HttpReply> r = HttpGet(telemetry_port_, "/readyz");
        r.ok()) {
      outputs_[format + ": /readyz"] = r->body;
    }
    outputs_[format + ": ballast.v1"] = CallApi(grpc_tls);
    if (!grpc_tls) {
      const std::string server =
          absl::StrCat(" --server 127.0.0.1:", grpc_port_);
      for (const char* target : {"asr-worker", "tts-worker"}) {
        for (const char* json : {"", " --json"}) {
          CliRun run = Ballast(
              dir_,
              absl::StrCat("explain ", target, server, " --history 20", json),
              /*keep_stdout=*/true);
          EXPECT_EQ(run.exit_code, 0) << run.output;
          outputs_[absl::StrCat(format, ": explain ", target, json)] =
              run.output;
        }
      }
    }

    // A rejected reload logs check-config's errors.
    WriteText(config_path_, ConfigText(true, grpc_tls));
    EXPECT_TRUE(Eventually(R"(ballast_config_reloads_total{result="failure"})",
                           [](double v) { return v >= 1; }))
        << ReadFile(log);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    outputs_[format + ": /metrics, last"] = Metrics();

    ballast.Signal(SIGTERM);
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!ballast.Exited() && absl::Now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ballast.Stop();
    const std::string text = ReadFile(log);
    outputs_[format + ": log"] = text;

    // The wrong password's error names the input and the source's server,
    // not the secret.
    bool auth_logged = false;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::StrContains(line, "file_backlog") &&
          absl::StrContains(line, redis_file_.address()) &&
          absl::StrContains(line, "AUTH refused")) {
        auth_logged = true;
      }
    }
    EXPECT_TRUE(auth_logged) << text;
    EXPECT_TRUE(absl::StrContains(text, "config rejected")) << text;
    EXPECT_TRUE(absl::StrContains(text, "targets[1].minReplicas")) << text;
  }

  TempDir tmp_;
  std::string dir_;
  std::map<std::string, std::string> markers_;
  std::map<std::string, std::string> outputs_;
  RedisServer redis_file_, redis_env_;
  ChildProcess prometheus_;
  int prometheus_port_ = 0, telemetry_port_ = 0, grpc_port_ = 0,
      https_port_ = 0;
  int generation_ = 0;
  std::string config_path_, bad_config_path_;
};

TEST_F(SecretsTest, NoSecretInAnyOutput) {
  Serve("json", /*grpc_tls=*/true);
  Serve("logfmt", /*grpc_tls=*/false);

  // The stand-in Prometheus was sent credentials: the secrets were in use.
  absl::StatusOr<HttpReply> stats = HttpGet(prometheus_port_, "/stats");
  ASSERT_TRUE(stats.ok());
  EXPECT_TRUE(absl::StrContains(stats->body, R"("authorization": "B)"))
      << stats->body;

  // probe reads every source once (the API server does not answer: exit 1).
  WriteText(config_path_, ConfigText(false, false));
  for (const char* output : {"table", "json"}) {
    CliRun run = Ballast(
        dir_,
        absl::StrCat("probe --config ", config_path_, " --output ", output),
        /*keep_stdout=*/true);
    EXPECT_EQ(run.exit_code, 1) << run.output;
    EXPECT_TRUE(absl::StrContains(run.output, "tts-worker")) << run.output;
    outputs_[absl::StrCat("probe --output ", output)] = run.output;
  }
  // A kubeconfig whose server URL carries credentials: refused by the
  // client, which does not echo them.
  WriteText(dir_ + "/kubeconfig-url",
            absl::StrReplaceAll(
                ReadFile(dir_ + "/kubeconfig"),
                {{"https://", absl::StrCat("https://ballast:",
                                           markers_["kubeconfig server "
                                                    "URL password"],
                                           "@")}}));
  WriteText(dir_ + "/kube-url.yaml",
            absl::StrReplaceAll(ConfigText(false, false),
                                {{"/kubeconfig}", "/kubeconfig-url}"}}));
  CliRun kube_url = Ballast(dir_, "probe --config " + dir_ + "/kube-url.yaml",
                            /*keep_stdout=*/true);
  EXPECT_NE(kube_url.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(kube_url.output, "credentials in the URL"))
      << kube_url.output;
  outputs_["probe with credentials in the kubeconfig's server URL"] =
      kube_url.output;

  // check-config on the config with an error beside the secrets.
  WriteText(bad_config_path_, ConfigText(true, true));
  CliRun check = Ballast(dir_, "check-config " + bad_config_path_,
                         /*keep_stdout=*/true);
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_TRUE(absl::StrContains(check.output, "targets[1].minReplicas"))
      << check.output;
  EXPECT_TRUE(absl::StrContains(check.output, "sources.redis.inline"))
      << check.output;
  // Passwords in URLs are refused (without being echoed).
  EXPECT_TRUE(absl::StrContains(check.output,
                                "a password in a redis URL is not accepted"))
      << check.output;
  EXPECT_TRUE(absl::StrContains(check.output,
                                "credentials in the URL are not accepted"))
      << check.output;
  outputs_["check-config"] = check.output;
  // probe on the bad config: the errors, not the secrets.
  CliRun probe_bad = Ballast(dir_, "probe --config " + bad_config_path_,
                             /*keep_stdout=*/true);
  EXPECT_NE(probe_bad.exit_code, 0);
  outputs_["probe on the bad config"] = probe_bad.output;

  EXPECT_GE(outputs_.size(), 20u);
  for (const auto& [what, text] : outputs_) {
    EXPECT_FALSE(text.empty()) << what;
    for (const auto& [secret, marker] : markers_) {
      const size_t at = text.find(marker);
      EXPECT_EQ(at, std::string::npos)
          << "the " << secret << " appears in " << what << ": ..."
          << text.substr(
                 at == std::string::npos ? 0 : at - std::min<size_t>(at, 200),
                 400);
    }
  }
}

}  // namespace
}  // namespace ballast::testing
