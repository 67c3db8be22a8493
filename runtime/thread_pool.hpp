// A fixed set of worker threads that runs the tasks of one parallel call at a time; the calling
// thread works too. Kernels split their work into a few large tasks (one per core), so a mutex
// and a condition variable are all the machinery needed.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qk::runtime {

class ThreadPool {
 public:
  /// @pre threads >= 1 (the caller counts as one)
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  /// Runs task(i, slot) for every i in [0, tasks) and returns when all have finished; `slot`
  /// (in [0, size()): 0 the caller, then one per worker) names the thread running it, so that
  /// tasks may outnumber threads and still each use their thread's scratch memory. Calls from
  /// several threads are serialized; a single task runs on the calling thread at once.
  using Task = std::function<void(std::int64_t task, int slot)>;
  void run(std::int64_t tasks, const Task& task);

 private:
  void work(int slot);
  void drain(int slot);

  std::vector<std::thread> workers_;
  std::mutex run_mutex_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const Task* task_ = nullptr;
  std::int64_t tasks_ = 0, next_ = 0, finished_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

/// The process-wide pool with one thread per core, created on first use.
ThreadPool& default_thread_pool();

}  // namespace qk::runtime
