#include "runtime/thread_pool.hpp"

#include <cerrno>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace qk::runtime {
namespace {

// One step of a spin-wait: tells the core a spin loop runs (it stops speculating down the loop
// and gives the other hyperthread the pipeline), where there is a way to.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

constexpr std::chrono::microseconds kMaxSpin{1'000'000};

}  // namespace

std::chrono::microseconds ThreadPool::spin_from_env() {
  const char* text = std::getenv("QK_SPIN_US");
  if (text == nullptr || *text == '\0') return kDefaultSpin;
  char* end = nullptr;
  errno = 0;
  const long long us = std::strtoll(text, &end, 10);
  if (*end != '\0' || us < 0) return kDefaultSpin;  // not a number of microseconds
  if (errno == ERANGE || us > kMaxSpin.count()) return kMaxSpin;
  return std::chrono::microseconds(us);
}

ThreadPool::ThreadPool(int threads, std::chrono::microseconds spin)
    : spin_(std::clamp(spin, std::chrono::microseconds(0), kMaxSpin)) {
  for (int slot = 1; slot < threads; ++slot) workers_.emplace_back([this, slot] { work(slot); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_seq_cst);
  // Under the mutex: a worker about to sleep has either seen stop_ or waits by the time we hold
  // it. Spinning workers see stop_ themselves.
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

template <class Done>
bool ThreadPool::spin_until(Done done) const {
  if (done()) return true;
  if (spin_.count() == 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + spin_;
  for (;;) {
    // Reading the clock costs some tens of nanoseconds: look at it every 64 pauses.
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (done()) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return done();
    // Give the core away if another thread waits for it: on a host with more runnable threads
    // than cores (builds, other benchmarks) a pure spin holds the core for the whole budget,
    // and the thread it waits for may be the one that wants it. On an idle core this returns
    // at once (a syscall, well under a microsecond).
    std::this_thread::yield();
  }
}

void ThreadPool::run(std::int64_t tasks, const Task& task) {
  if (tasks <= 0) return;
  // One task (a decode call's activation quantization) needs no worker: handing it over costs
  // more than it, and a worker would find nothing left to take.
  if (tasks == 1) return task(0, 0);
  std::lock_guard serial(run_mutex_);

  // The previous call was closed once its tasks were all claimed, but a worker that joined it
  // just before may still be inside (finding nothing left to claim: a few instructions, unless
  // the scheduler took its core). The fields below are its until it leaves. Acquire: its reads
  // of them happen before our writes.
  for (int i = 1; entry_.load(std::memory_order_acquire) != kClosed; ++i) {
    if (i % 64 == 0)
      std::this_thread::yield();
    else
      cpu_relax();
  }
  task_ = &task;
  tasks_ = tasks;
  next_.store(0, std::memory_order_relaxed);
  finished_.store(0, std::memory_order_relaxed);
  // Open the call. Release: a worker that joins (acquire) sees the fields above.
  entry_.store(0, std::memory_order_release);

  // Announce it. Spinning workers see the new generation by themselves; sleeping ones need the
  // condition variable. seq_cst on both sides (here and in work()) so that a worker going to
  // sleep either sees this generation or is counted in sleepers_ by the time we look.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    // Taking the mutex orders us after a counted sleeper's check of the generation: it either
    // saw the new one or already waits, and gets the notification.
    { std::lock_guard lock(mutex_); }
    wake_.notify_all();
  }

  drain(0);
  // Every task is claimed: turn away latecomers, who would only find nothing to do.
  entry_.fetch_or(kClosed, std::memory_order_relaxed);

  // Wait for the workers' last tasks: spin (they are usually about as long as ours were), then
  // sleep. Acquire: the tasks' writes happen before run() returns.
  if (!spin_until([&] { return finished_.load(std::memory_order_acquire) == tasks; })) {
    std::unique_lock lock(mutex_);
    // seq_cst, paired with the worker's in drain(): it either sees caller_sleeps_ after its
    // last task and notifies, or we see its count before we sleep.
    caller_sleeps_.store(true, std::memory_order_seq_cst);
    done_.wait(lock, [&] { return finished_.load(std::memory_order_seq_cst) == tasks; });
    caller_sleeps_.store(false, std::memory_order_relaxed);
  }
}

// Claims and runs tasks until none is left. Only the caller and joined workers get here, so
// task_, tasks_ and the counters belong to the current call.
void ThreadPool::drain(int slot) {
  const std::int64_t tasks = tasks_;
  for (;;) {
    // Relaxed: the claim needs only atomicity; the fields came with the join (or were ours).
    const std::int64_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= tasks) return;
    (*task_)(i, slot);
    // Release for the caller's acquire, seq_cst for the caller_sleeps_ handshake in run().
    const bool last = finished_.fetch_add(1, std::memory_order_seq_cst) + 1 == tasks;
    if (last && slot != 0 && caller_sleeps_.load(std::memory_order_seq_cst)) {
      { std::lock_guard lock(mutex_); }
      done_.notify_one();
    }
  }
}

void ThreadPool::work(int slot) {
  std::uint64_t seen = 0;  // the last generation this worker looked at
  const auto called = [&] {
    return generation_.load(std::memory_order_acquire) != seen ||
           stop_.load(std::memory_order_relaxed);
  };
  for (;;) {
    // Spin for the next call; sleep if none comes within the budget.
    if (!spin_until(called)) {
      std::unique_lock lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);  // see run(): the wake-up handshake
      wake_.wait(lock, [&] {
        return generation_.load(std::memory_order_seq_cst) != seen ||
               stop_.load(std::memory_order_seq_cst);
      });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);

    // Join the open call, if any: count ourselves in entry_ unless it is closed. (It may be
    // a call newer than `seen`, opened but not announced yet: fine, we work on it, and look
    // again at the announcement.) Acquire: pairs with run()'s release that opened it.
    std::uint64_t entry = entry_.load(std::memory_order_relaxed);
    bool joined = false;
    while (!(entry & kClosed)) {
      if (entry_.compare_exchange_weak(entry, entry + 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        joined = true;
        break;
      }
    }
    if (!joined) continue;
    drain(slot);
    // Leave. Release: our reads of the call happen before the next run() rewrites it.
    entry_.fetch_sub(1, std::memory_order_release);
  }
}

ThreadPool& default_thread_pool() {
  static ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())),
                         ThreadPool::spin_from_env());
  return pool;
}

}  // namespace qk::runtime
