#include "ballast/sim/queue.h"

#include <algorithm>

namespace ballast::sim {

JobQueue::JobQueue(double start_time, int64_t slots)
    : now_(start_time), slots_(std::max<int64_t>(slots, 0)) {}

void JobQueue::Arrive(double time, int64_t count, double work_seconds) {
  AdvanceTo(time);
  if (count <= 0) return;
  line_.push_back({now_, count, std::max(work_seconds, 0.0) / count});
  waiting_ += count;
  arrived_ += count;
  StartJobs();
}

void JobQueue::AdvanceTo(double time) {
  StartJobs();
  while (!busy_.empty() && busy_.top().finish <= time) {
    now_ = std::max(now_, busy_.top().finish);
    completed_ += busy_.top().count;
    in_service_ -= busy_.top().count;
    busy_.pop();
    StartJobs();
  }
  now_ = std::max(now_, time);
}

void JobQueue::SetSlots(int64_t slots) {
  slots_ = std::max<int64_t>(slots, 0);
  StartJobs();
}

double JobQueue::OldestWaitSeconds() const {
  return line_.empty() ? 0.0 : now_ - line_.front().arrival;
}

void JobQueue::StartJobs() {
  // The jobs of the head batch that free slots allow start together, as one
  // cohort: the same as starting them one by one at now_. Zero-work jobs
  // hold a slot for no time: with one slot free the whole batch passes
  // through now (one by one, a step per job).
  while (!line_.empty() && in_service_ < slots_) {
    Batch& head = line_.front();
    const bool instant = head.work_each == 0;
    const int64_t n =
        instant ? head.count : std::min(head.count, slots_ - in_service_);
    const double wait = now_ - head.arrival;
    total_wait_ += wait * static_cast<double>(n);
    max_wait_ = std::max(max_wait_, wait);
    started_ += n;
    waiting_ -= n;
    head.count -= n;
    if (instant) {
      completed_ += n;
    } else {
      busy_.push({now_ + head.work_each, n});
      in_service_ += n;
    }
    if (head.count == 0) line_.pop_front();
  }
}

}  // namespace ballast::sim
