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
  while (!busy_.empty() && busy_.top() <= time) {
    now_ = std::max(now_, busy_.top());
    busy_.pop();
    ++completed_;
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
  while (!line_.empty() && in_service() < slots_) {
    Batch& head = line_.front();
    const double wait = now_ - head.arrival;
    total_wait_ += wait;
    max_wait_ = std::max(max_wait_, wait);
    busy_.push(now_ + head.work_each);
    ++started_;
    --waiting_;
    if (--head.count == 0) line_.pop_front();
  }
}

}  // namespace ballast::sim
