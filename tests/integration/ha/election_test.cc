// Leader election against real servers: the Redis lock on a redis-server,
// the Lease on a kube-apiserver (tests/cluster/control_plane.py's), two or
// three electors on one io_context, with short durations.

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "ballast/net/http_client.h"
#include "ballast/net/redis_client.h"
#include "ballast/state/leader.h"
#include "ballast/state/lease_record.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "integration/common/process.h"
#include "integration/common/redis_commands.h"
#include "integration/faults/fault_proxy.h"
#include "integration/ha/control_plane.h"

namespace ballast::testing {
namespace {

using state::ElectionOptions;
using state::Elector;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::Optional;

// One replica: its elector and what it reported, with when (the test thread
// runs the io_context, so OnChange runs on it).
struct Replica {
  std::string id;
  std::unique_ptr<Elector> elector;
  std::vector<std::optional<uint64_t>> changes;
  std::vector<absl::Time> changed_at;
  bool stopped = false;

  std::optional<uint64_t> leading() const {
    return changes.empty() ? std::nullopt : changes.back();
  }
};

class ElectionTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (auto& r : replicas_) {
      if (!r->stopped) Stop(*r);
    }
    replicas_.clear();
  }

  Replica& Add(std::string id,
               const std::function<absl::StatusOr<std::unique_ptr<Elector>>(
                   const ElectionOptions&)>& make) {
    auto r = std::make_unique<Replica>();
    r->id = std::move(id);
    ElectionOptions options = options_;
    options.identity = r->id;
    absl::StatusOr<std::unique_ptr<Elector>> e = make(options);
    EXPECT_TRUE(e.ok()) << e.status();
    if (!e.ok()) std::abort();
    r->elector = *std::move(e);
    Replica* p = r.get();
    p->elector->Start([p](std::optional<uint64_t> term) {
      p->changes.push_back(term);
      p->changed_at.push_back(absl::Now());
    });
    replicas_.push_back(std::move(r));
    return *p;
  }

  // Stop()s the replica and waits for its done.
  void Stop(Replica& r) {
    bool done = false;
    r.elector->Stop([&done] { done = true; });
    EXPECT_TRUE(RunUntil([&] { return done; }, absl::Seconds(10)))
        << r.id << ": Stop did not finish";
    r.stopped = true;
  }

  bool RunUntil(const std::function<bool()>& pred,
                absl::Duration timeout = absl::Seconds(10)) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!pred() && absl::Now() < deadline) {
      io_.restart();
      io_.run_for(std::chrono::milliseconds(5));
    }
    return pred();
  }
  void RunFor(absl::Duration d) {
    const absl::Time until = absl::Now() + d;
    RunUntil([&] { return absl::Now() >= until; }, d + absl::Seconds(1));
  }

  // The replicas leading now.
  std::vector<Replica*> Leaders() {
    std::vector<Replica*> out;
    for (auto& r : replicas_) {
      if (!r->stopped && r->leading()) out.push_back(r.get());
    }
    return out;
  }
  // Waits until exactly one replica leads; nullptr after `timeout`.
  Replica* WaitForOneLeader(absl::Duration timeout = absl::Seconds(10)) {
    if (!RunUntil([&] { return Leaders().size() == 1; }, timeout)) {
      return nullptr;
    }
    return Leaders()[0];
  }

  boost::asio::io_context io_;  // first: destroyed last
  ElectionOptions options_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// --- The Redis lock
// -----------------------------------------------------------

constexpr char kPrefix[] = "ballast:";

class RedisElection : public ElectionTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(redis_.Start().ok());
    options_ = {.lease_duration = absl::Seconds(2),
                .renew_deadline = absl::Milliseconds(1500),
                .retry_period = absl::Milliseconds(250)};
  }
  void TearDown() override {
    redis_.Signal(SIGCONT);
    ElectionTest::TearDown();
  }

  Replica& Add(std::string id) {
    return ElectionTest::Add(std::move(id), [this](const ElectionOptions& o) {
      return state::MakeRedisLockElector(io_, RedisAt(redis_.port()), kPrefix,
                                         o);
    });
  }

  // GET key ("(nil)" when absent).
  std::string Get(const std::string& key) {
    absl::StatusOr<std::vector<net::RedisReply>> r =
        RunRedis(redis_.port(), {{"GET", key}});
    if (!r.ok()) return r.status().ToString();
    return r->at(0).type == net::RedisReply::Type::kNil ? "(nil)"
                                                        : r->at(0).str;
  }

  RedisServer redis_;
};

TEST_F(RedisElection, ExactlyOneLeadsWithTheFirstTerm) {
  Replica& a = Add("ballast-a");
  Replica& b = Add("ballast-b");
  Replica* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr);
  RunFor(absl::Seconds(1));  // four renewals
  ASSERT_EQ(Leaders().size(), 1u);
  Replica& follower = leader == &a ? b : a;
  EXPECT_THAT(leader->changes, ElementsAre(Optional(uint64_t{1})));
  EXPECT_THAT(follower.changes, IsEmpty());
  EXPECT_EQ(follower.elector->observed_leader(), leader->id);
  EXPECT_EQ(leader->elector->observed_leader(), leader->id);

  EXPECT_EQ(Get("ballast:leader"), leader->id);
  EXPECT_EQ(Get("ballast:leader-term"), "1");
  absl::StatusOr<std::vector<net::RedisReply>> ttl =
      RunRedis(redis_.port(), {{"PTTL", "ballast:leader"}});
  ASSERT_TRUE(ttl.ok());
  // Renewed every 250 ms with PX 2000.
  EXPECT_GT(ttl->at(0).integer, 1500);
  EXPECT_LE(ttl->at(0).integer, 2000);
}

TEST_F(RedisElection, StopReleasesAndTheOtherLeadsWithinARetryPeriod) {
  Replica& a = Add("ballast-a");
  ASSERT_EQ(WaitForOneLeader(), &a);
  Replica& b = Add("ballast-b");
  RunFor(absl::Milliseconds(600));
  EXPECT_EQ(b.elector->observed_leader(), "ballast-a");

  Stop(a);
  const absl::Time released = absl::Now();
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1})));  // none on Stop
  ASSERT_EQ(WaitForOneLeader(), &b);
  // A follower tries every 250-300 ms: far sooner than the 2 s expiry.
  EXPECT_LT(b.changed_at.back() - released, absl::Milliseconds(700));
  EXPECT_THAT(b.changes, ElementsAre(Optional(uint64_t{2})));
  EXPECT_EQ(Get("ballast:leader"), "ballast-b");
  EXPECT_EQ(Get("ballast:leader-term"), "2");
}

TEST_F(RedisElection, TheTermIncreasesWithEveryChangeOfHolder) {
  Add("ballast-a");
  Add("ballast-b");
  std::vector<uint64_t> terms;
  for (int i = 0; i < 4; ++i) {
    Replica* leader = WaitForOneLeader();
    ASSERT_NE(leader, nullptr) << "handover " << i;
    terms.push_back(*leader->leading());
    const std::string id = leader->id;
    Stop(*leader);
    Add(id);  // the replica restarts, under the same name
  }
  EXPECT_THAT(terms, ElementsAre(1, 2, 3, 4));
}

TEST_F(RedisElection, AHungServerEndsLeadingWithinTheRenewDeadline) {
  Replica& a = Add("ballast-a");
  ASSERT_EQ(WaitForOneLeader(), &a);
  Replica& b = Add("ballast-b");
  RunFor(absl::Milliseconds(700));

  // Accepts connections, answers nothing.
  redis_.Signal(SIGSTOP);
  const absl::Time stopped = absl::Now();
  ASSERT_TRUE(RunUntil([&] { return !a.leading(); }, absl::Seconds(5)));
  const absl::Duration down = a.changed_at.back() - stopped;
  // The last renewal started at most a retry period (and a round trip)
  // before the server stopped; leading ends 1.5 s after its start.
  EXPECT_GE(down, absl::Milliseconds(1150));
  EXPECT_LE(down, absl::Milliseconds(1500) + absl::Milliseconds(200));
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1}), std::nullopt));
  EXPECT_THAT(b.changes, IsEmpty());

  // Back after the key's 2 s: it has expired, someone takes it, with the
  // next term.
  RunUntil([&] { return absl::Now() - stopped > absl::Milliseconds(2500); },
           absl::Seconds(5));
  EXPECT_TRUE(Leaders().empty());
  redis_.Signal(SIGCONT);
  Replica* leader = WaitForOneLeader(absl::Seconds(5));
  ASSERT_NE(leader, nullptr);
  EXPECT_THAT(leader->changes.back(), Optional(uint64_t{2}));
  RunFor(absl::Milliseconds(600));
  EXPECT_EQ(Leaders().size(), 1u);
  EXPECT_EQ(Get("ballast:leader"), leader->id);
  EXPECT_EQ(Get("ballast:leader-term"), "2");
}

TEST_F(RedisElection, StopOfAFollowerLeavesTheLockAlone) {
  Replica& a = Add("ballast-a");
  ASSERT_EQ(WaitForOneLeader(), &a);
  Replica& b = Add("ballast-b");
  RunFor(absl::Milliseconds(400));
  Stop(b);
  RunFor(absl::Milliseconds(300));
  EXPECT_EQ(Get("ballast:leader"), "ballast-a");
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1})));
  EXPECT_THAT(b.changes, IsEmpty());
}

// --- The Lease
// ------------------------------------------------------------------

constexpr char kNamespace[] = "default";
constexpr char kLease[] = "ballast-leader";
const char kMicroTime[] =
    "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z";

class LeaseElection : public ElectionTest {
 protected:
  void SetUp() override {
    // Fails, never skips, without the binaries.
    absl::Status started = cp_.Start();
    ASSERT_TRUE(started.ok()) << started;
    absl::StatusOr<net::HttpClientOptions> admin = cp_.AdminOptions();
    ASSERT_TRUE(admin.ok()) << admin.status();
    admin_ = *admin;
    options_ = {.lease_duration = absl::Seconds(3),
                .renew_deadline = absl::Seconds(2),
                .retry_period = absl::Milliseconds(500)};
  }

  Replica& Add(std::string id, std::optional<int> via_port = std::nullopt) {
    net::HttpClientOptions api = admin_;
    if (via_port) api.base_url = absl::StrCat("https://127.0.0.1:", *via_port);
    return ElectionTest::Add(
        std::move(id), [this, api](const ElectionOptions& o) {
          return state::MakeLeaseElector(io_, api, kNamespace, kLease, o);
        });
  }

  std::string LeasePath() const {
    return absl::StrCat("/apis/coordination.k8s.io/v1/namespaces/", kNamespace,
                        "/leases/", kLease);
  }

  // The Lease as the API server has it now.
  state::Lease GetLease() {
    absl::StatusOr<net::HttpResponse> r =
        net::HttpClient::Fetch(admin_, {.target = LeasePath()});
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, 200) << r->body;
    absl::StatusOr<state::Lease> lease = state::ParseLease(r->body);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return lease.ok() ? *lease : state::Lease{};
  }

  ControlPlane cp_;
  net::HttpClientOptions admin_;
};

TEST_F(LeaseElection, OneLeadsAndTheLeaseIsAsClientGoWritesIt) {
  Replica& a = Add("ballast-a");
  Replica& b = Add("ballast-b");
  Replica* leader = WaitForOneLeader();
  ASSERT_NE(leader, nullptr) << cp_.Log();
  Replica& follower = leader == &a ? b : a;
  RunFor(absl::Seconds(1));
  EXPECT_EQ(Leaders().size(), 1u);
  EXPECT_THAT(leader->changes, ElementsAre(Optional(uint64_t{1})));
  EXPECT_THAT(follower.changes, IsEmpty());
  EXPECT_EQ(follower.elector->observed_leader(), leader->id);

  const state::Lease lease = GetLease();
  EXPECT_EQ(lease.spec.holder_identity, leader->id);
  EXPECT_EQ(lease.spec.lease_duration_seconds, 3);
  EXPECT_EQ(lease.spec.lease_transitions, 0);
  EXPECT_THAT(lease.spec.acquire_time, MatchesRegex(kMicroTime));
  EXPECT_THAT(lease.spec.renew_time, MatchesRegex(kMicroTime));

  // Renewed every 500 ms: the same holding, a new renewTime.
  RunFor(absl::Seconds(1.2));
  const state::Lease later = GetLease();
  EXPECT_EQ(later.spec.holder_identity, leader->id);
  EXPECT_EQ(later.spec.acquire_time, lease.spec.acquire_time);
  EXPECT_GT(later.spec.renew_time, lease.spec.renew_time);
  EXPECT_NE(later.resource_version, lease.resource_version);
  EXPECT_EQ(later.spec.lease_transitions, 0);
  EXPECT_THAT(leader->changes, ElementsAre(Optional(uint64_t{1})));
}

TEST_F(LeaseElection, StopReleasesTheLeaseAndTheNextHolderAddsATransition) {
  Replica& a = Add("ballast-a");
  ASSERT_EQ(WaitForOneLeader(), &a) << cp_.Log();
  Stop(a);
  // client-go's release: no holder, one second, the transitions kept.
  state::Lease released = GetLease();
  EXPECT_EQ(released.spec.holder_identity, "");
  EXPECT_EQ(released.spec.lease_duration_seconds, 1);
  EXPECT_EQ(released.spec.lease_transitions, 0);
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1})));

  // A free Lease is taken at once, not after lease_duration.
  const absl::Time start = absl::Now();
  Replica& b = Add("ballast-b");
  ASSERT_EQ(WaitForOneLeader(), &b);
  EXPECT_LT(b.changed_at.back() - start, absl::Seconds(1));
  EXPECT_THAT(b.changes, ElementsAre(Optional(uint64_t{2})));
  state::Lease taken = GetLease();
  EXPECT_EQ(taken.spec.holder_identity, "ballast-b");
  EXPECT_EQ(taken.spec.lease_duration_seconds, 3);
  EXPECT_EQ(taken.spec.lease_transitions, 1);

  // A follower waiting when the leader stops takes over within a retry
  // period (and its jitter).
  Replica& a2 = Add("ballast-a");
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a2.elector->observed_leader(), "ballast-b");
  EXPECT_THAT(a2.changes, IsEmpty());
  Stop(b);
  const absl::Time stopped = absl::Now();
  ASSERT_EQ(WaitForOneLeader(), &a2);
  EXPECT_LT(a2.changed_at.back() - stopped, absl::Seconds(1.5));
  EXPECT_THAT(a2.changes, ElementsAre(Optional(uint64_t{3})));
  EXPECT_EQ(GetLease().spec.lease_transitions, 2);
}

TEST_F(LeaseElection, ALeaderCutOffStepsDownAndTheFollowerWaitsOutTheLease) {
  FaultProxy proxy;
  ASSERT_TRUE(proxy.Start(cp_.apiserver_port()).ok());
  Replica& a = Add("ballast-a", proxy.port());  // through the proxy
  ASSERT_EQ(WaitForOneLeader(), &a) << cp_.Log();
  Replica& b = Add("ballast-b");  // straight to the API server
  RunFor(absl::Seconds(1.2));
  ASSERT_EQ(b.elector->observed_leader(), "ballast-a");

  // A hung API server, as ballast-a sees it: nothing it sends arrives.
  proxy.Delay(absl::Hours(1));
  const absl::Time cut = absl::Now();
  ASSERT_TRUE(RunUntil([&] { return !a.leading(); }, absl::Seconds(5)));
  const absl::Duration down = a.changed_at.back() - cut;
  // Its last renewal started at most a retry period before the cut; leading
  // ends renew_deadline (2 s) after that start.
  EXPECT_GE(down, absl::Seconds(1.3));
  EXPECT_LE(down, absl::Seconds(2.3));
  EXPECT_THAT(b.changes, IsEmpty());  // the Lease has not expired yet

  // ballast-b counts lease_duration (3 s) from when it last saw the Lease
  // change, by its own clock.
  ASSERT_TRUE(
      RunUntil([&] { return b.leading().has_value(); }, absl::Seconds(8)));
  const absl::Duration taken = b.changed_at.back() - cut;
  EXPECT_GE(taken, absl::Seconds(2.4));
  EXPECT_LE(taken, absl::Seconds(5));
  EXPECT_GT(b.changed_at.back(), a.changed_at.back());  // never two leaders
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1}), std::nullopt));
  EXPECT_THAT(b.changes, ElementsAre(Optional(uint64_t{2})));
  const state::Lease lease = GetLease();
  EXPECT_EQ(lease.spec.holder_identity, "ballast-b");
  EXPECT_EQ(lease.spec.lease_transitions, 1);

  // ballast-a's API server comes back: it sees the new holder and follows.
  proxy.Pass();
  RunFor(absl::Seconds(2.5));
  EXPECT_EQ(a.elector->observed_leader(), "ballast-b");
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{1}), std::nullopt));
  EXPECT_EQ(Leaders().size(), 1u);
  Stop(a);
  Stop(b);
  proxy.Stop();
}

TEST_F(LeaseElection, AnAbandonedLeaseIsTakenAfterLeaseDurationByOwnClock) {
  // A holder that is gone, whose renewTime is an hour old: client-go does
  // not trust the record's times, only its own observation.
  const std::string old = state::FormatMicroTime(absl::Now() - absl::Hours(1));
  state::Lease gone{.name = kLease,
                    .namespace_ = kNamespace,
                    .spec = {.holder_identity = "ballast-gone",
                             .lease_duration_seconds = 3,
                             .acquire_time = old,
                             .renew_time = old,
                             .lease_transitions = 4}};
  absl::StatusOr<net::HttpResponse> created = net::HttpClient::Fetch(
      admin_, {.method = "POST",
               .target = absl::StrCat("/apis/coordination.k8s.io/v1/"
                                      "namespaces/",
                                      kNamespace, "/leases"),
               .body = state::LeaseJson(gone),
               .content_type = "application/json"});
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->status, 201) << created->body;

  const absl::Time start = absl::Now();
  Replica& a = Add("ballast-a");
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a.elector->observed_leader(), "ballast-gone");
  EXPECT_THAT(a.changes, IsEmpty());
  ASSERT_TRUE(
      RunUntil([&] { return a.leading().has_value(); }, absl::Seconds(8)));
  const absl::Duration waited = a.changed_at.back() - start;
  EXPECT_GE(waited, absl::Seconds(3));
  EXPECT_LE(waited, absl::Seconds(5));
  EXPECT_THAT(a.changes, ElementsAre(Optional(uint64_t{6})));
  const state::Lease lease = GetLease();
  EXPECT_EQ(lease.spec.holder_identity, "ballast-a");
  EXPECT_EQ(lease.spec.lease_transitions, 5);
  EXPECT_EQ(lease.spec.lease_duration_seconds, 3);
}

}  // namespace
}  // namespace ballast::testing
