// The thread pool: every task runs once, and the slot a task gets names a thread no other task
// is using at the same time (the cpu kernels index per-thread scratch memory by it).
#include "runtime/thread_pool.hpp"

#include <atomic>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

namespace qk::runtime {
namespace {

TEST(ThreadPool, EveryTaskOnceAndNoSlotSharedAtOnce) {
  ThreadPool pool(3);
  ASSERT_EQ(pool.size(), 3);
  for (std::int64_t tasks : {1, 2, 3, 7, 64}) {
    std::vector<std::atomic<int>> runs(static_cast<std::size_t>(tasks));
    auto in_use = std::make_unique<std::atomic<bool>[]>(pool.size());
    std::atomic<int> bad_slot{0}, shared_slot{0};
    pool.run(tasks, [&](std::int64_t t, int slot) {
      ++runs[static_cast<std::size_t>(t)];
      if (slot < 0 || slot >= pool.size()) {
        ++bad_slot;
        return;
      }
      if (in_use[slot].exchange(true)) ++shared_slot;
      volatile int spin = 0;
      for (int i = 0; i < 20000; ++i) spin = spin + i;  // long enough for threads to overlap
      in_use[slot] = false;
    });
    for (std::int64_t t = 0; t < tasks; ++t)
      EXPECT_EQ(runs[static_cast<std::size_t>(t)], 1) << "task " << t << " of " << tasks;
    EXPECT_EQ(bad_slot, 0) << tasks << " tasks";
    EXPECT_EQ(shared_slot, 0) << tasks << " tasks";
  }
}

}  // namespace
}  // namespace qk::runtime
