// One block of a cuda-emu launch: its CUDA threads as fibers (boost.context) on the calling OS
// thread. A fiber runs until its thread must wait for others (__syncthreads, a warp collective)
// or ends; the scheduler then resumes the next thread that can go on. Everything the kernel asks
// of the emulator (templates/emu/abi.h) is served here for the running thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qk/error.hpp"
#include "runtime/emu_tensor_core.hpp"
#include "templates/emu/abi.h"

namespace qk::runtime::emu {

/// The code every CUDA thread of a launch runs: the kernel's entry, with the launch's arguments.
using ThreadEntry = void (*)(const void* args);

struct BlockLaunch {
  QkEmuDim3 grid{1, 1, 1}, block{1, 1, 1};
  unsigned smem_bytes = 0;
  ThreadEntry entry = nullptr;
  const void* args = nullptr;
};

/// A warp collective's work, done once when the last of the 32 lanes arrives: reads every lane's
/// input, writes every lane's output. Returns an error message, or an empty string.
using Collective = std::string (*)(const Lanes<const void*>& inputs, const Lanes<void*>& outputs,
                                   std::span<std::uint8_t> shared);

/// Runs blocks, one at a time, reusing its fibers' stacks and its shared memory. Not thread-safe:
/// one runner per OS thread.
class BlockRunner {
 public:
  BlockRunner();
  ~BlockRunner();
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  /// Runs block `index` of `launch` to its end. Shared memory starts filled with the byte 0xA5
  /// (a kernel reading what it never wrote reads garbage, as on the GPU), and ends at a guard
  /// page (a write past it crashes rather than corrupting memory).
  /// Errors (Errc::invalid_argument, naming the block): a block that is not whole warps or has
  /// over 1024 threads; a deadlock (threads waiting at a barrier or warp collective that others
  /// have left or never reach); warp lanes at different collectives; what the kernel or a
  /// collective reported through qk_emu_fail.
  Expected<void> run(const BlockLaunch& launch, QkEmuDim3 index);

  /// The runner running a block on this OS thread, or null (outside a launch).
  static BlockRunner* current();

  // The services of templates/emu/abi.h, for the running thread.
  const QkEmuThread& thread() const;
  void sync_block();
  void warp_collective(const char* what, const void* input, void* output, Collective collective);
  void cp_async(unsigned shared, const void* global, int size, int src_size);
  void cp_async_commit();
  void cp_async_wait(int pending);
  [[noreturn]] void fail(std::string message);

 private:
  struct Fiber;
  struct Warp;
  void prepare(const BlockLaunch& launch, QkEmuDim3 index);
  void resume(int thread);
  void switch_to_scheduler();
  bool runnable(const Fiber& fiber) const;
  std::string describe_deadlock() const;
  void finish_copies(Fiber& fiber, std::size_t count);
  friend struct FiberStart;  // the fibers' entry point (emu_block.cpp)

  const BlockLaunch* launch_ = nullptr;
  QkEmuDim3 index_{};
  int threads_ = 0;
  int current_ = -1;
  void* scheduler_ = nullptr;  // the scheduler's suspended context while a fiber runs
  std::vector<Fiber> fibers_;
  std::vector<Warp> warps_;
  unsigned barrier_arrived_ = 0, barrier_generation_ = 0;
  std::string error_;
  // Fiber stacks, each above a guard page, and shared memory below one.
  std::uint8_t* stacks_ = nullptr;
  std::size_t stacks_bytes_ = 0;
  std::uint8_t* shared_region_ = nullptr;
  std::size_t shared_region_bytes_ = 0;
  std::span<std::uint8_t> shared_;
};

}  // namespace qk::runtime::emu
