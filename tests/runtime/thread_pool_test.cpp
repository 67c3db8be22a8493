// The thread pool: every task runs once, and the slot a task gets names a thread no other task
// is using at the same time (the cpu kernels index per-thread scratch memory by it). Idle
// threads spin for a budget before they sleep: the tests run with no spinning (every hand-off
// through the condition variables), a budget of a few microseconds (a mix of both), and one of
// a second (every hand-off through the atomics). No test depends on timing.
#include "runtime/thread_pool.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace qk::runtime {
namespace {

using std::chrono::microseconds;

const microseconds kSpins[] = {microseconds(0), microseconds(5), microseconds(1'000'000)};

std::string spin_name(microseconds spin) {
  return "spin " + std::to_string(spin.count()) + " us";
}

// Checks one call: every task runs exactly once, on a valid slot no other task of it uses at
// the same moment.
class CallCheck {
 public:
  CallCheck(std::int64_t tasks, int slots)
      : runs_(static_cast<std::size_t>(tasks)),
        in_use_(std::make_unique<std::atomic<bool>[]>(slots)),
        slots_(slots) {}

  // `work` iterations of busy work inside the slot, so that threads overlap.
  void task(std::int64_t t, int slot, int work) {
    ++runs_[static_cast<std::size_t>(t)];
    if (slot < 0 || slot >= slots_) {
      ++bad_slot_;
      return;
    }
    if (in_use_[slot].exchange(true)) ++shared_slot_;
    volatile int spin = 0;
    for (int i = 0; i < work; ++i) spin = spin + i;
    in_use_[slot] = false;
  }

  void expect_ok(const std::string& what) const {
    for (std::size_t t = 0; t < runs_.size(); ++t)
      ASSERT_EQ(runs_[t], 1) << "task " << t << " of " << runs_.size() << ", " << what;
    EXPECT_EQ(bad_slot_, 0) << what;
    EXPECT_EQ(shared_slot_, 0) << what;
  }

 private:
  std::vector<std::atomic<int>> runs_;
  std::unique_ptr<std::atomic<bool>[]> in_use_;
  int slots_;
  std::atomic<int> bad_slot_{0}, shared_slot_{0};
};

TEST(ThreadPool, EveryTaskOnceAndNoSlotSharedAtOnce) {
  for (microseconds spin : kSpins) {
    ThreadPool pool(3, spin);
    ASSERT_EQ(pool.size(), 3);
    for (std::int64_t tasks : {1, 2, 3, 7, 64}) {
      CallCheck check(tasks, pool.size());
      pool.run(tasks, [&](std::int64_t t, int slot) { check.task(t, slot, 20000); });
      check.expect_ok(std::to_string(tasks) + " tasks, " + spin_name(spin));
    }
  }
}

TEST(ThreadPool, NoTasksRunsNothing) {
  ThreadPool pool(2, microseconds(0));
  std::atomic<int> runs{0};
  pool.run(0, [&](std::int64_t, int) { ++runs; });
  pool.run(-3, [&](std::int64_t, int) { ++runs; });
  EXPECT_EQ(runs, 0);
}

// Many calls back to back with varying task counts: a worker still busy with (or just leaving)
// one call when the next is published must neither run a task twice nor skip one, and a call's
// writes are all visible when run() returns.
TEST(ThreadPool, BackToBackCallsOfVaryingSizes) {
  for (microseconds spin : kSpins) {
    ThreadPool pool(3, spin);
    for (int call = 0; call < 3000; ++call) {
      const std::int64_t tasks = 1 + (call * 7) % 23;  // 1..23, in a scrambled order
      CallCheck check(tasks, pool.size());
      std::vector<std::int64_t> out(static_cast<std::size_t>(tasks), -1);  // plain memory
      pool.run(tasks, [&](std::int64_t t, int slot) {
        check.task(t, slot, call % 5 == 0 ? 3000 : 0);  // some calls long, most very short
        out[static_cast<std::size_t>(t)] = t * call;
      });
      check.expect_ok("call " + std::to_string(call) + ", " + spin_name(spin));
      for (std::int64_t t = 0; t < tasks; ++t)
        ASSERT_EQ(out[static_cast<std::size_t>(t)], t * call) << "call " << call;
      if (HasFailure()) return;
    }
  }
}

// The workers really take tasks, also after they fell asleep: each of two tasks waits until the
// other has started, which only a second thread can do. (A hang, not a timing, is the failure:
// the wait gives up after a minute.)
TEST(ThreadPool, WorkersTakeTasksAwakeOrAsleep) {
  for (microseconds spin : {microseconds(0), microseconds(1), microseconds(1'000'000)}) {
    ThreadPool pool(2, spin);
    for (int call = 0; call < 20; ++call) {
      // Every few calls, leave the workers long enough to fall asleep (with a short budget).
      if (call % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::atomic<int> started{0};
      std::atomic<bool> alone{false};
      std::atomic<int> slots_seen{0};
      pool.run(2, [&](std::int64_t, int slot) {
        slots_seen |= 1 << slot;
        ++started;
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(1);
        while (started.load() < 2) {
          if (std::chrono::steady_clock::now() > give_up) {
            alone = true;
            return;
          }
          std::this_thread::yield();
        }
      });
      ASSERT_FALSE(alone) << "no worker took the second task, call " << call << ", "
                          << spin_name(spin);
      EXPECT_EQ(slots_seen, 0b11) << spin_name(spin);
    }
  }
}

// run() from several threads at once: the calls are serialized, and each is whole. (Single
// tasks run on their caller at once, outside the pool, so slot 0 may be in two calls then;
// these calls have at least two tasks.)
TEST(ThreadPool, CallsFromSeveralThreads) {
  for (microseconds spin : kSpins) {
    ThreadPool pool(3, spin);
    auto in_use = std::make_unique<std::atomic<bool>[]>(pool.size());
    std::atomic<int> failures{0}, shared_slot{0};
    std::vector<std::thread> callers;
    for (int c = 0; c < 4; ++c) {
      callers.emplace_back([&, c] {
        for (int call = 0; call < 300; ++call) {
          const std::int64_t tasks = 2 + (call + c) % 9;
          std::vector<std::atomic<int>> runs(static_cast<std::size_t>(tasks));
          pool.run(tasks, [&](std::int64_t t, int slot) {
            ++runs[static_cast<std::size_t>(t)];
            if (in_use[slot].exchange(true)) ++shared_slot;  // across callers' calls too
            volatile int spin_work = 0;
            for (int i = 0; i < 500; ++i) spin_work = spin_work + i;
            in_use[slot] = false;
          });
          for (const auto& r : runs)
            if (r != 1) ++failures;
        }
      });
    }
    for (std::thread& t : callers) t.join();
    EXPECT_EQ(failures, 0) << spin_name(spin);
    EXPECT_EQ(shared_slot, 0) << spin_name(spin);
  }
}

// Destroying the pool joins its workers whatever they do: spinning right after a call (a budget
// of a second, far beyond the test), asleep, or never called.
TEST(ThreadPool, DestroyedWhileWorkersSpinOrSleep) {
  for (microseconds spin : kSpins) {
    for (int round = 0; round < 50; ++round) {
      std::atomic<int> runs{0};
      {
        ThreadPool pool(3, spin);
        if (round % 5 != 0) pool.run(4, [&](std::int64_t, int) { ++runs; });
        if (round % 7 == 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
      EXPECT_EQ(runs, round % 5 != 0 ? 4 : 0) << spin_name(spin);
    }
  }
}

TEST(ThreadPool, OneThreadRunsEverythingOnTheCaller) {
  ThreadPool pool(1, microseconds(100));
  ASSERT_EQ(pool.size(), 1);
  CallCheck check(10, 1);
  pool.run(10, [&](std::int64_t t, int slot) { check.task(t, slot, 0); });
  check.expect_ok("one thread");
}

TEST(ThreadPool, SpinBudget) {
  EXPECT_EQ(ThreadPool(2, microseconds(0)).spin(), microseconds(0));
  EXPECT_EQ(ThreadPool(2, microseconds(250)).spin(), microseconds(250));
  EXPECT_EQ(ThreadPool(2, microseconds(-4)).spin(), microseconds(0));
  EXPECT_EQ(ThreadPool(2, std::chrono::seconds(30)).spin(), std::chrono::seconds(1));
}

// QK_SPIN_US: microseconds, 0 = never spin; not a number -> the default; clamped to a second.
TEST(ThreadPool, SpinBudgetFromEnvironment) {
  const char* saved = std::getenv("QK_SPIN_US");
  const std::string saved_value = saved ? saved : "";
  const auto spin_for = [](const char* value) {
    if (value)
      setenv("QK_SPIN_US", value, 1);
    else
      unsetenv("QK_SPIN_US");
    return ThreadPool::spin_from_env();
  };
  EXPECT_EQ(spin_for(nullptr), ThreadPool::kDefaultSpin);
  EXPECT_EQ(spin_for(""), ThreadPool::kDefaultSpin);
  EXPECT_EQ(spin_for("0"), microseconds(0));
  EXPECT_EQ(spin_for("250"), microseconds(250));
  EXPECT_EQ(spin_for("50us"), ThreadPool::kDefaultSpin);
  EXPECT_EQ(spin_for("-5"), ThreadPool::kDefaultSpin);
  EXPECT_EQ(spin_for("abc"), ThreadPool::kDefaultSpin);
  EXPECT_EQ(spin_for("5000000"), std::chrono::seconds(1));
  EXPECT_EQ(spin_for("99999999999999999999999"), std::chrono::seconds(1));
  if (saved)
    setenv("QK_SPIN_US", saved_value.c_str(), 1);
  else
    unsetenv("QK_SPIN_US");
}

}  // namespace
}  // namespace qk::runtime
