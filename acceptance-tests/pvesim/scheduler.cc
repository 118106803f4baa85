#include "acceptance-tests/pvesim/scheduler.h"

#include <algorithm>
#include <chrono>

namespace pvek8s::pvesim {

namespace {

// The wall clock, like every other simulator time (and libfaketime in tests).
double Now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

void TaskScheduler::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void TaskScheduler::Schedule(double delay, std::function<void()> fn) {
  if (delay <= 0) {
    fn();  // Callers hold the state mutex already.
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push(Job{Now() + delay, seq_++, std::move(fn)});
  }
  cv_.notify_all();
}

void TaskScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TaskScheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (jobs_.empty()) {
      cv_.wait(lock);
      continue;
    }
    double wait = jobs_.top().due - Now();
    if (wait > 0) {
      cv_.wait_for(lock, std::chrono::duration<double>(wait));
      continue;
    }
    Job job = jobs_.top();
    jobs_.pop();
    lock.unlock();
    {
      std::lock_guard<std::mutex> state_lock(*state_mu_);
      job.fn();
    }
    lock.lock();
  }
}

std::optional<double> LockTable::Reserve(const std::string& path, double now, double hold,
                                         double timeout, bool exclusive) {
  FileLock& l = locks_[path];
  double ready = exclusive ? std::max(l.exclusive_until, l.shared_until) : l.exclusive_until;
  double start = std::max(now, ready);
  if (start - now > timeout) return std::nullopt;
  if (exclusive) {
    l.exclusive_until = start + hold;
  } else {
    l.shared_until = std::max(l.shared_until, start + hold);
  }
  return start;
}

}  // namespace pvek8s::pvesim
