// The simulator's notion of time passing: deferred task completions, and the
// file locks (flock) that operations queue on.
#ifndef ACCEPTANCE_TESTS_PVESIM_SCHEDULER_H_
#define ACCEPTANCE_TESTS_PVESIM_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <string>
#include <thread>
#include <vector>

namespace pvek8s::pvesim {

// Runs jobs at a due wall-clock time on one background thread, each with the
// caller's state mutex held, so that a job sees and changes the simulated
// cluster exactly like a request handler does.
class TaskScheduler {
 public:
  // `state_mu` is locked around every deferred job; it must outlive this object.
  explicit TaskScheduler(std::mutex* state_mu) : state_mu_(state_mu) {}
  ~TaskScheduler() { Stop(); }
  TaskScheduler(const TaskScheduler&) = delete;
  TaskScheduler& operator=(const TaskScheduler&) = delete;

  // Starts the background thread. Call once, before the first deferred job.
  void Start();

  // delay <= 0: runs `fn` at once in the calling thread, which must already
  // hold the state mutex (the "fast" profile: a task has finished before its
  // UPID is returned). Otherwise runs it `delay` seconds from now on the
  // background thread; jobs due at the same time run in submission order.
  void Schedule(double delay, std::function<void()> fn);

  // Stops the thread after the job it is running, if any; jobs not yet run are
  // dropped (the simulator's state is already on disk). Idempotent.
  void Stop();

 private:
  struct Job {
    double due;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Job& o) const { return due != o.due ? due > o.due : seq > o.seq; }
  };
  void Loop();

  std::mutex* state_mu_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::priority_queue<Job, std::vector<Job>, std::greater<Job>> jobs_;
  uint64_t seq_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

// Simulated file locks (/var/lock/qemu-server/lock-<vmid>.conf, the storage
// locks) as a queue of reservations: nothing blocks here; a caller learns when
// its turn would come and either waits that long or fails with PVE's timeout.
// Not thread-safe: the simulator calls it with its state mutex held.
class LockTable {
 public:
  // Reserves `path` for `hold` seconds starting at the earliest time >= `now`
  // at which it is free (exclusive: of every holder; shared: of exclusive
  // holders) and returns that start time. Returns nullopt, reserving nothing,
  // when the start would be more than `timeout` seconds after `now`.
  std::optional<double> Reserve(const std::string& path, double now, double hold, double timeout,
                                bool exclusive);

 private:
  struct FileLock {
    double exclusive_until = 0;
    double shared_until = 0;
  };
  std::map<std::string, FileLock> locks_;
};

}  // namespace pvek8s::pvesim

#endif  // ACCEPTANCE_TESTS_PVESIM_SCHEDULER_H_
