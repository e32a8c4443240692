#include "ballast/sim/queue.h"

#include "gtest/gtest.h"

namespace ballast::sim {
namespace {

TEST(JobQueue, OneSlotServesJobsInArrivalOrder) {
  JobQueue q(0, 1);
  q.Arrive(0, 3, 6);  // three jobs of 2 s: run 0-2, 2-4, 4-6
  EXPECT_EQ(q.in_service(), 1);
  EXPECT_EQ(q.waiting(), 2);
  q.AdvanceTo(1);
  EXPECT_EQ(q.waiting(), 2);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 1);
  q.AdvanceTo(2);  // job 1 done, job 2 starts
  EXPECT_EQ(q.completed(), 1);
  EXPECT_EQ(q.waiting(), 1);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 2);
  q.AdvanceTo(4.5);
  EXPECT_EQ(q.waiting(), 0);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 0);
  q.AdvanceTo(6);
  EXPECT_EQ(q.completed(), 3);
  EXPECT_EQ(q.in_service(), 0);
  // Waits 0, 2 and 4 s.
  EXPECT_DOUBLE_EQ(q.total_wait_seconds(), 6);
  EXPECT_DOUBLE_EQ(q.max_wait_seconds(), 4);
}

TEST(JobQueue, TwoSlotsAndALaterArrival) {
  JobQueue q(0, 2);
  q.Arrive(0, 2, 10);  // two jobs of 5 s, both start at 0
  q.Arrive(1, 1, 3);   // waits for a slot until 5, runs 5-8
  EXPECT_EQ(q.waiting(), 1);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 0);
  q.AdvanceTo(4);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 3);
  q.AdvanceTo(5);
  EXPECT_EQ(q.waiting(), 0);
  EXPECT_EQ(q.completed(), 2);
  q.AdvanceTo(7.999);
  EXPECT_EQ(q.completed(), 2);
  q.AdvanceTo(8);
  EXPECT_EQ(q.completed(), 3);
  EXPECT_DOUBLE_EQ(q.max_wait_seconds(), 4);
  EXPECT_EQ(q.arrived(), 3);
}

TEST(JobQueue, RemovedSlotsFinishTheirJobsButStartNoNewOnes) {
  JobQueue q(0, 2);
  q.Arrive(0, 4, 40);  // four jobs of 10 s
  q.AdvanceTo(2);
  q.SetSlots(1);
  EXPECT_EQ(q.in_service(), 2);  // both keep running
  q.AdvanceTo(10);               // both finish; only one starts
  EXPECT_EQ(q.completed(), 2);
  EXPECT_EQ(q.in_service(), 1);
  EXPECT_EQ(q.waiting(), 1);
  q.AdvanceTo(20);
  EXPECT_EQ(q.waiting(), 0);
  q.AdvanceTo(30);
  EXPECT_EQ(q.completed(), 4);
  // Waits 0, 0, 10, 20.
  EXPECT_DOUBLE_EQ(q.total_wait_seconds(), 30);
}

TEST(JobQueue, AddedSlotsStartWaitingJobsAtOnce) {
  JobQueue q(0, 0);
  q.Arrive(0, 2, 4);
  q.AdvanceTo(3);
  EXPECT_EQ(q.waiting(), 2);
  EXPECT_DOUBLE_EQ(q.OldestWaitSeconds(), 3);
  q.SetSlots(2);
  EXPECT_EQ(q.waiting(), 0);
  EXPECT_EQ(q.in_service(), 2);
  q.AdvanceTo(5);
  EXPECT_EQ(q.completed(), 2);
}

TEST(JobQueue, ZeroWorkJobsPassThrough) {
  JobQueue q(0, 1);
  q.Arrive(0, 5, 0);
  q.AdvanceTo(0);
  EXPECT_EQ(q.completed(), 5);
  EXPECT_EQ(q.waiting(), 0);
}

// Jobs in service are cohorts (finish time, count), not one entry per job:
// a billion slots serving two billion jobs is a handful of entries, and
// the numbers are those of starting the jobs one by one.
TEST(JobQueue, ABillionSlotsAndJobsAreCohorts) {
  struct Case {
    int64_t slots;
    int64_t jobs;
    double work_each;
    double at;  // AdvanceTo
    int64_t want_waiting;
    int64_t want_in_service;
    int64_t want_completed;
    double want_total_wait;
  };
  const Case cases[] = {
      {1'000'000'000, 2'000'000'000, 1, 0, 1'000'000'000, 1'000'000'000, 0, 0},
      {1'000'000'000, 2'000'000'000, 1, 1, 0, 1'000'000'000, 1'000'000'000,
       1e9},
      {1'000'000'000, 2'000'000'000, 1, 2, 0, 0, 2'000'000'000, 1e9},
      {3, 1'000'000'000'000'000, 0, 0, 0, 0, 1'000'000'000'000'000, 0},
      {1'000'000'000'000, 10, 5, 4.9, 0, 10, 0, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message()
                 << c.slots << " slots, " << c.jobs << " jobs, at " << c.at);
    JobQueue q(0, c.slots);
    q.Arrive(0, c.jobs, static_cast<double>(c.jobs) * c.work_each);
    q.AdvanceTo(c.at);
    EXPECT_EQ(q.waiting(), c.want_waiting);
    EXPECT_EQ(q.in_service(), c.want_in_service);
    EXPECT_EQ(q.completed(), c.want_completed);
    EXPECT_EQ(q.started(), c.jobs - c.want_waiting);
    EXPECT_DOUBLE_EQ(q.total_wait_seconds(), c.want_total_wait);
  }
}

}  // namespace
}  // namespace ballast::sim
