// A fixed set of worker threads that runs the tasks of one parallel call at a time; the calling
// thread works too. Kernels split their work into a few large tasks, but a decode call lasts only
// a few hundred microseconds, of the order of a futex wake-up: so, as OpenMP runtimes do, idle
// workers spin for a while (the spin budget) watching an atomic generation counter before they
// sleep on a condition variable, run() publishes a call with atomics and only signals the
// condition variable when a worker sleeps, and the caller spins for its workers' last tasks too.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qk::runtime {

class ThreadPool {
 public:
  /// How long an idle thread spins before it sleeps, when nothing else says.
  static constexpr std::chrono::microseconds kDefaultSpin{100};

  /// The spin budget QK_SPIN_US asks for (microseconds, 0 = never spin; the value is clamped to
  /// one second), else kDefaultSpin. Reads the environment at each call.
  static std::chrono::microseconds spin_from_env();

  /// @pre threads >= 1 (the caller counts as one)
  /// `spin`: how long a worker that ran out of calls, and a caller that waits for its workers'
  /// tasks, spin before they sleep (0 = sleep at once). Spinning burns the core it runs on.
  explicit ThreadPool(int threads, std::chrono::microseconds spin = kDefaultSpin);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }
  std::chrono::microseconds spin() const { return spin_; }

  /// Runs task(i, slot) for every i in [0, tasks) and returns when all have finished; `slot`
  /// (in [0, size()): 0 the caller, then one per worker) names the thread running it, so that
  /// tasks may outnumber threads and still each use their thread's scratch memory. Calls from
  /// several threads are serialized; a single task runs on the calling thread at once.
  using Task = std::function<void(std::int64_t task, int slot)>;
  void run(std::int64_t tasks, const Task& task);

 private:
  void work(int slot);
  void drain(int slot);
  // Spins for at most the spin budget until done() holds; false if it still does not.
  template <class Done>
  bool spin_until(Done done) const;

  const std::chrono::microseconds spin_;
  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run() at a time

  // The call being run. Written by run() only while the call is closed and no worker has
  // joined it (see entry_), read by workers only while they have joined it.
  const Task* task_ = nullptr;
  std::int64_t tasks_ = 0;
  std::atomic<std::int64_t> next_{0};      // the next task index to claim
  std::atomic<std::int64_t> finished_{0};  // tasks of the call that have returned

  // Workers join a call before they read it: entry_ counts the workers inside, and its
  // kClosed bit, set once every task is claimed, turns latecomers away.
  static constexpr std::uint64_t kClosed = std::uint64_t{1} << 63;
  std::atomic<std::uint64_t> entry_{kClosed};

  // Bumped by run() to announce a call: spinning workers watch it.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<bool> stop_{false};

  // Sleeping. sleepers_ counts workers that sleep or are about to on wake_; caller_sleeps_ says
  // the caller sleeps or is about to on done_. Both are read without the mutex by the thread
  // that would wake them, so that nobody sleeping means no futex call.
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<int> sleepers_{0};
  std::atomic<bool> caller_sleeps_{false};
};

/// The process-wide pool with one thread per core, created on first use, with the spin budget
/// of ThreadPool::spin_from_env() (QK_SPIN_US is read once, then).
ThreadPool& default_thread_pool();

}  // namespace qk::runtime
