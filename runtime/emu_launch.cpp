#include "runtime/emu_launch.hpp"

#include <atomic>
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "runtime/thread_pool.hpp"

namespace qk::runtime::emu {

Expected<void> launch(const BlockLaunch& launch) {
  const QkEmuDim3 grid = launch.grid;
  const std::int64_t blocks = std::int64_t{grid.x} * grid.y * grid.z;
  if (blocks == 0)
    return Error{Errc::invalid_argument, "grid",
                 fmt::format("({}, {}, {}) has no blocks", grid.x, grid.y, grid.z)};
  std::mutex mutex;
  std::optional<Error> first_error;
  std::atomic<bool> failed{false};
  default_thread_pool().run(blocks, [&](std::int64_t b, int) {
    if (failed.load(std::memory_order_relaxed)) return;
    thread_local BlockRunner runner;  // keeps its stacks and shared memory for the next launch
    const QkEmuDim3 index{static_cast<unsigned>(b % grid.x),
                          static_cast<unsigned>(b / grid.x % grid.y),
                          static_cast<unsigned>(b / (std::int64_t{grid.x} * grid.y))};
    if (auto ran = runner.run(launch, index); !ran) {
      std::lock_guard lock(mutex);
      if (!first_error) first_error = ran.error();
      failed = true;
    }
  });
  if (first_error) return *first_error;
  return {};
}

}  // namespace qk::runtime::emu
