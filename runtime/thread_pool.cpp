#include "runtime/thread_pool.hpp"

namespace qk::runtime {

ThreadPool::ThreadPool(int threads) {
  for (int slot = 1; slot < threads; ++slot) workers_.emplace_back([this, slot] { work(slot); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::run(std::int64_t tasks, const Task& task) {
  if (tasks <= 0) return;
  // One task (a decode call's activation quantization) needs no worker: waking one costs a
  // futex round trip, and it would find nothing left to take.
  if (tasks == 1) return task(0, 0);
  std::lock_guard serial(run_mutex_);
  {
    std::lock_guard lock(mutex_);
    task_ = &task;
    tasks_ = tasks;
    next_ = 0;
    finished_ = 0;
    ++generation_;
  }
  wake_.notify_all();
  drain(0);
  std::unique_lock lock(mutex_);
  done_.wait(lock, [this] { return finished_ == tasks_; });
  task_ = nullptr;
}

// Takes tasks until none is left. Tasks are claimed under the lock: they are few and large.
void ThreadPool::drain(int slot) {
  std::unique_lock lock(mutex_);
  while (task_ != nullptr && next_ < tasks_) {
    const std::int64_t i = next_++;
    const auto* task = task_;
    lock.unlock();
    (*task)(i, slot);
    lock.lock();
    if (++finished_ == tasks_) done_.notify_all();
  }
}

void ThreadPool::work(int slot) {
  std::uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    drain(slot);
  }
}

ThreadPool& default_thread_pool() {
  static ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return pool;
}

}  // namespace qk::runtime
