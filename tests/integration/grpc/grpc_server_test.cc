// The server around the services: health, reflection, TLS with client
// certificates, metrics, shutdown with open streams, and `ballast explain`
// (the built binary) against it.
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "google/protobuf/unknown_field_set.h"
#include "grpc_fixture.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/test_pki.h"
#include "prometheus/text_serializer.h"

namespace ballast::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// Raw protobuf wire encoding of a string field, for the services whose
// generated code gRPC does not install (health, reflection).
std::string StringField(int number, const std::string& value) {
  std::string out(1, static_cast<char>(number << 3 | 2));
  size_t n = value.size();
  do {
    out += static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  return out + value;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const grpc::Slice& s : slices) {
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return out;
}

// grpc.health.v1.Health/Check: the status number (1 SERVING, 2 NOT_SERVING)
// or the call's error.
absl::StatusOr<int> HealthCheck(grpc::Channel& channel,
                                const std::string& service) {
  grpc::GenericStub stub(channel.shared_from_this());
  grpc::ClientContext context;
  const grpc::ByteBuffer request = ToBuffer(StringField(1, service));
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", {}, &request,
                 &response, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (!status.ok()) return absl::UnknownError(status.error_message());
  google::protobuf::UnknownFieldSet fields;
  if (!fields.ParseFromString(FromBuffer(response))) {
    return absl::InternalError("bad HealthCheckResponse");
  }
  return fields.field_count() == 0 ? 0
                                   : static_cast<int>(fields.field(0).varint());
}

// grpc.reflection.v1alpha.ServerReflection: one list_services request on the
// bidi stream; returns the service names.
class ListServicesCall
    : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit ListServicesCall(grpc::Channel& channel)
      : stub_(channel.shared_from_this()),
        request_(ToBuffer(StringField(7, "*"))) {
    stub_.PrepareBidiStreamingCall(
        &context_,
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", {},
        this);
    StartWriteLast(&request_, grpc::WriteOptions());
    StartRead(&response_);
    StartCall();
  }

  std::vector<std::string> Await() {
    done_.WaitForNotification();
    EXPECT_TRUE(status_.ok()) << status_.error_message();
    return names_;
  }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) return;
    google::protobuf::UnknownFieldSet response;
    EXPECT_TRUE(response.ParseFromString(FromBuffer(response_)));
    for (int i = 0; i < response.field_count(); ++i) {
      if (response.field(i).number() != 6) continue;  // list_services_response
      google::protobuf::UnknownFieldSet list;
      list.ParseFromString(response.field(i).length_delimited());
      for (int j = 0; j < list.field_count(); ++j) {
        google::protobuf::UnknownFieldSet service;
        service.ParseFromString(list.field(j).length_delimited());
        names_.push_back(service.field(0).length_delimited());
      }
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& status) override {
    status_ = status;
    done_.Notify();
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::vector<std::string> names_;
  grpc::Status status_;
  absl::Notification done_;
};

TEST_F(GrpcServerTest, HealthIsServingOnceTheStoreHasASnapshot) {
  for (const char* service :
       {"", "externalscaler.ExternalScaler", "ballast.v1.Ballast"}) {
    EXPECT_EQ(HealthCheck(*channel_, service).value(), 2) << service;
  }
  ticker_.Tick({{"asr-worker", 10}});
  for (const char* service :
       {"", "externalscaler.ExternalScaler", "ballast.v1.Ballast"}) {
    EXPECT_EQ(HealthCheck(*channel_, service).value(), 1) << service;
  }
  EXPECT_FALSE(HealthCheck(*channel_, "no.such.Service").ok());
}

TEST_F(GrpcServerTest, ReflectionListsTheServices) {
  ListServicesCall call(*channel_);
  EXPECT_THAT(call.Await(), UnorderedElementsAre(
                                "externalscaler.ExternalScaler",
                                "ballast.v1.Ballast", "grpc.health.v1.Health",
                                "grpc.reflection.v1alpha.ServerReflection"));
}

TEST_F(GrpcServerTest, MetricsCountCallsByMethodAndCode) {
  ticker_.Tick({{"asr-worker", 10}});
  externalscaler::IsActiveResponse active;
  ASSERT_TRUE(
      keda_->IsActive(Context().get(), Ref("asr-worker"), &active).ok());
  ASSERT_FALSE(keda_->IsActive(Context().get(), Ref("x"), &active).ok());
  const std::string text =
      prometheus::TextSerializer().Serialize(registry_.Collect());
  EXPECT_THAT(text, HasSubstr("ballast_grpc_requests_total{code=\"OK\",method="
                              "\"externalscaler.ExternalScaler/IsActive\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("ballast_grpc_requests_total{code=\"NOT_FOUND\","
                      "method=\"externalscaler.ExternalScaler/IsActive\"} 1"));
  EXPECT_THAT(
      text, HasSubstr("ballast_grpc_request_duration_seconds_count{"
                      "method=\"externalscaler.ExternalScaler/IsActive\"} 2"));
}

TEST_F(GrpcServerTest, ShutdownWithAnOpenStreamFinishesPromptly) {
  ticker_.Tick({{"asr-worker", 10}});
  auto context = Context();
  auto reader = keda_->StreamIsActive(context.get(), Ref("asr-worker"));
  externalscaler::IsActiveResponse message;
  ASSERT_TRUE(reader->Read(&message));
  const std::string open =
      prometheus::TextSerializer().Serialize(registry_.Collect());
  EXPECT_THAT(open,
              HasSubstr("ballast_grpc_streams_open{method="
                        "\"externalscaler.ExternalScaler/StreamIsActive\"} 1"));

  const absl::Time start = absl::Now();
  server_->Shutdown(absl::Now() + absl::Seconds(10));
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_FALSE(reader->Read(&message));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  ticker_.Tick({{"asr-worker", 20}});  // publishing after shutdown is harmless
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A CA, a server certificate for 127.0.0.1 and a client certificate, made
// with the openssl CLI.
void MakeCertificates(const std::string& dir) {
  absl::StatusOr<KeyPair> ca = MakeCa(dir, "ca", "ballast-test-ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  for (const std::string name : {"server", "client"}) {
    ASSERT_TRUE(IssueCert(dir, name, *ca,
                          {.cn = name, .sans = "IP:127.0.0.1,DNS:localhost"})
                    .ok());
  }
}

TEST_F(GrpcServerTest, TlsWithClientCaRejectsClientsWithoutCertificate) {
  TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeCertificates(dir.path()));
  server_->Shutdown(absl::Now());
  ASSERT_NO_FATAL_FAILURE(
      StartServer({.listen = "127.0.0.1:0",
                   .tls_cert_file = dir.path() + "/server.crt",
                   .tls_key_file = dir.path() + "/server.key",
                   .client_ca_file = dir.path() + "/ca.crt"}));
  ticker_.Tick({{"asr-worker", 30}});

  grpc::SslCredentialsOptions with_cert{
      .pem_root_certs = ReadAll(dir.path() + "/ca.crt"),
      .pem_private_key = ReadAll(dir.path() + "/client.key"),
      .pem_cert_chain = ReadAll(dir.path() + "/client.crt")};
  auto stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(address_, grpc::SslCredentials(with_cert)));
  externalscaler::IsActiveResponse active;
  grpc::Status status =
      stub->IsActive(Context().get(), Ref("asr-worker"), &active);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(active.result());

  grpc::SslCredentialsOptions no_cert{.pem_root_certs =
                                          with_cert.pem_root_certs};
  stub = externalscaler::ExternalScaler::NewStub(
      grpc::CreateChannel(address_, grpc::SslCredentials(no_cert)));
  auto context = Context();
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(5));
  status = stub->IsActive(context.get(), Ref("asr-worker"), &active);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
      << status.error_message();

  // Plaintext is refused too.
  EXPECT_FALSE(
      keda_->IsActive(Context().get(), Ref("asr-worker"), &active).ok());
}

// The policy features' explanation reaches `ballast explain`: a rate that
// doubles the fleet's capacity enters burst mode (limited_by burst, "burst
// mode on"), and a rising trend shows its predicted value.
TEST_F(GrpcServerTest, ExplainShowsBurstAndTrend) {
  TargetSpec spec = QueueSpec("tts-api", 1);
  spec.behavior->burst = Burst{.threshold = 2.0, .window_seconds = 0};
  spec.behavior->scale_up.policies = {
      {.type = PolicyType::kPods, .value = 1, .period_seconds = 60}};
  spec.inputs[0].trend = Trend{.horizon_seconds = 30, .window_seconds = 60};
  ticker_.AddTarget(spec);
  ticker_.Tick({{"tts-api", 20}});  // 2 replicas
  ticker_.Tick({{"tts-api", 30}});  // rising: the trend reads ahead
  ticker_.Tick({{"tts-api", 90}});  // 9 > 2 x 3: burst, past the 1-pod policy
  const engine::Recommendation& latest = ticker_.Latest("tts-api");
  ASSERT_TRUE(latest.burst);
  ASSERT_EQ(latest.limited_by, engine::Limit::kBurst);
  absl::StatusOr<std::string> out =
      RunCommand({BALLAST_BINARY, "explain", "tts-api", "--server", address_});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr(absl::StrCat("recommendation  ", latest.replicas,
                                           " replicas")));
  EXPECT_THAT(*out, HasSubstr("limited by      burst: load reached"));
  EXPECT_THAT(*out, HasSubstr("burst mode      on"));
  EXPECT_THAT(*out, HasSubstr("PREDICTED"));
  ASSERT_TRUE(latest.inputs[0].predicted.has_value());
  EXPECT_THAT(*out,
              HasSubstr(absl::StrFormat("%.6g", *latest.inputs[0].predicted)));
}

TEST_F(GrpcServerTest, StartErrorsNameTheProblem) {
  prometheus::Registry registry;
  auto bad =
      server::GrpcServer::Start({.listen = "127.0.0.1:0",
                                 .tls_cert_file = "/nonexistent/server.crt",
                                 .tls_key_file = "/nonexistent/server.key"},
                                store_, registry);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(bad.status().message(), HasSubstr("/nonexistent/server.crt"));

  bad = server::GrpcServer::Start({.listen = address_}, store_, registry);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(bad.status().message(), HasSubstr(address_));
}

TEST_F(GrpcServerTest, ExplainPrintsTheTargetsNumbers) {
  ticker_.Tick({{"asr-worker", 45}});
  ticker_.Tick({{"asr-worker", 73}});
  ASSERT_EQ(ticker_.Latest("asr-worker").replicas, 8);
  absl::StatusOr<std::string> out =
      RunCommand({BALLAST_BINARY, "explain", "asr-worker", "--server", address_,
                  "--history", "5"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("target asr-worker"));
  EXPECT_THAT(*out, HasSubstr("recommendation  8 replicas"));
  EXPECT_THAT(*out, HasSubstr("desired         8"));
  EXPECT_THAT(*out, HasSubstr("limited by      nothing"));
  EXPECT_THAT(*out, HasSubstr("backlog"));
  EXPECT_THAT(*out, HasSubstr("73"));
  EXPECT_THAT(*out, HasSubstr("recent recommendations"));

  out = RunCommand({BALLAST_BINARY, "explain", "asr-worker", "--server",
                    address_, "--json"});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_THAT(*out, HasSubstr("\"replicas\": 8"));

  out = RunCommand({BALLAST_BINARY, "explain", "nope", "--server", address_});
  EXPECT_THAT(out.status().message(), HasSubstr("status 256"));  // exit 1
  EXPECT_THAT(out.status().message(), HasSubstr("no target 'nope'"));

  out = RunCommand({BALLAST_BINARY, "explain"});
  EXPECT_THAT(out.status().message(), HasSubstr("status 512"));  // exit 2
}

}  // namespace
}  // namespace ballast::testing
