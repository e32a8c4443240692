// ballast/sim/queue.h
//
// The job queue `ballast simulate` runs for job-arrival traces: a FIFO queue
// (Celery-like) served by a number of identical worker slots (ready replicas
// x worker concurrency). Exact event simulation, no time steps: a job starts
// the moment a slot is free and the job is first in line, and holds the slot
// for its service time.
//
//   JobQueue q(/*start_time=*/0, /*slots=*/1);
//   q.Arrive(0, /*count=*/3, /*work_seconds=*/6);  // three jobs of 2 s
//   q.AdvanceTo(1);
//   q.waiting();             // 2 (one in service)
//   q.OldestWaitSeconds();   // 1
//
// When slots are taken away (scale-down) the jobs in service finish (a
// worker's warm shutdown) but no new job starts until fewer than `slots` are
// busy. Jobs in service are not counted as waiting: `waiting()` is the
// backlog as Celery reports it with includeReserved off.
//
// Not thread-safe; times in seconds, never decreasing.
#ifndef BALLAST_SIM_QUEUE_H_
#define BALLAST_SIM_QUEUE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <queue>
#include <vector>

namespace ballast::sim {

class JobQueue {
 public:
  JobQueue(double start_time, int64_t slots);

  // Runs the queue to `time` (>= now()), then adds `count` jobs arriving at
  // `time` that need `work_seconds` of slot time in all (each the same
  // share), and starts what free slots allow.
  void Arrive(double time, int64_t count, double work_seconds);
  // Runs the queue to `time` (>= now()): finishes jobs, starts waiting ones.
  void AdvanceTo(double time);
  // Changes the number of slots from now() on.
  void SetSlots(int64_t slots);

  double now() const { return now_; }
  int64_t slots() const { return slots_; }
  int64_t waiting() const { return waiting_; }
  int64_t in_service() const { return in_service_; }
  int64_t arrived() const { return arrived_; }
  int64_t started() const { return started_; }
  int64_t completed() const { return completed_; }
  // now() minus the arrival time of the first job in line; 0 if none waits.
  double OldestWaitSeconds() const;
  // Sum and maximum over started jobs of (start time - arrival time).
  double total_wait_seconds() const { return total_wait_; }
  double max_wait_seconds() const { return max_wait_; }

 private:
  struct Batch {
    double arrival;
    int64_t count;
    double work_each;
  };
  void StartJobs();

  double now_;
  int64_t slots_;
  std::deque<Batch> line_;
  int64_t waiting_ = 0;
  // The jobs in service as cohorts (finish time, count) that started
  // together, earliest finish first: one entry per start, not per job, so
  // that a billion slots and jobs cost no more than one.
  struct Running {
    double finish;
    int64_t count;
    bool operator>(const Running& other) const { return finish > other.finish; }
  };
  std::priority_queue<Running, std::vector<Running>, std::greater<>> busy_;
  int64_t in_service_ = 0;
  int64_t arrived_ = 0;
  int64_t started_ = 0;
  int64_t completed_ = 0;
  double total_wait_ = 0;
  double max_wait_ = 0;
};

}  // namespace ballast::sim

#endif  // BALLAST_SIM_QUEUE_H_
