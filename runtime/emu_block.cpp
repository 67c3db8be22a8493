#include "runtime/emu_block.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include <boost/context/detail/fcontext.hpp>
#include <fmt/format.h>

namespace qk::runtime::emu {

namespace context = boost::context::detail;

namespace {

constexpr int kMaxThreads = 1024;  // per block, as on every GPU qk targets
// A kernel thread's frames are small (registers' worth of locals), but a failing one formats an
// error message on its stack: 128 KiB leaves room, and only touched pages are ever committed.
constexpr std::size_t kStackBytes = 128 * 1024;
constexpr std::uint8_t kSharedPoison = 0xA5;

thread_local BlockRunner* tl_current = nullptr;

std::size_t page_bytes() {
  static const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

std::uint8_t* map_pages(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    fmt::print(stderr, "qk: cuda-emu: cannot map {} bytes for fibers or shared memory\n", bytes);
    std::abort();  // as operator new does when memory runs out
  }
  return static_cast<std::uint8_t*>(p);
}

void protect(std::uint8_t* page) {
  mprotect(page, page_bytes(), PROT_NONE);
}

std::string dim3_text(QkEmuDim3 d) {
  return fmt::format("({}, {}, {})", d.x, d.y, d.z);
}

}  // namespace

/// One committed or pending cp.async: the source is read when the copy is issued, the
/// destination written when a wait_group completes it (so a kernel that reads shared memory
/// before waiting reads the old bytes, as it may on the GPU).
struct PendingCopy {
  unsigned shared;
  int size;
  std::uint8_t bytes[16];
};

struct BlockRunner::Fiber {
  enum class State { ready, running, at_barrier, at_warp, done };
  context::fcontext_t context = nullptr;
  State state = State::ready;
  unsigned generation = 0;  // of the barrier or warp collective it waits at
  QkEmuThread thread{};
  std::vector<PendingCopy> copies;         // issued, not yet completed, oldest first
  std::vector<std::size_t> group_ends;     // committed groups: end index into `copies`
};

struct BlockRunner::Warp {
  unsigned arrived = 0, generation = 0;
  const char* what = nullptr;  // the collective the arrived lanes are at
  Collective collective = nullptr;
  Lanes<const void*> inputs{};
  Lanes<void*> outputs{};
};

struct FiberStart {
  static void entry(context::transfer_t transfer) {
    auto* runner = static_cast<BlockRunner*>(transfer.data);
    runner->scheduler_ = transfer.fctx;
    runner->launch_->entry(runner->launch_->args);
    BlockRunner::Fiber& fiber = runner->fibers_[runner->current_];
    // Copies still in flight land, as they do on the GPU after the thread exits.
    runner->finish_copies(fiber, fiber.copies.size());
    fiber.state = BlockRunner::Fiber::State::done;
    runner->switch_to_scheduler();
    std::abort();  // a finished fiber is never resumed
  }
};

BlockRunner::BlockRunner() = default;

BlockRunner::~BlockRunner() {
  if (stacks_) munmap(stacks_, stacks_bytes_);
  if (shared_region_) munmap(shared_region_, shared_region_bytes_);
}

BlockRunner* BlockRunner::current() {
  return tl_current;
}

const QkEmuThread& BlockRunner::thread() const {
  return fibers_[current_].thread;
}

void BlockRunner::prepare(const BlockLaunch& launch, QkEmuDim3 index) {
  launch_ = &launch;
  index_ = index;
  const std::size_t page = page_bytes();
  const std::size_t slot = kStackBytes + page;  // a guard page below each stack
  if (stacks_bytes_ < slot * threads_) {
    if (stacks_) munmap(stacks_, stacks_bytes_);
    stacks_bytes_ = slot * threads_;
    stacks_ = map_pages(stacks_bytes_);
    for (int i = 0; i < threads_; ++i) protect(stacks_ + i * slot);
  }
  const std::size_t shared_rounded = (launch.smem_bytes + 15) / 16 * 16;
  const std::size_t shared_pages = (shared_rounded + page - 1) / page + 1;  // + the guard
  if (shared_region_bytes_ < shared_pages * page) {
    if (shared_region_) munmap(shared_region_, shared_region_bytes_);
    shared_region_bytes_ = shared_pages * page;
    shared_region_ = map_pages(shared_region_bytes_);
    protect(shared_region_ + shared_region_bytes_ - page);
  }
  std::uint8_t* shared_end = shared_region_ + shared_region_bytes_ - page;
  shared_ = {shared_end - shared_rounded, launch.smem_bytes};
  std::memset(shared_.data(), kSharedPoison, shared_rounded);

  fibers_.resize(threads_);
  for (int i = 0; i < threads_; ++i) {
    Fiber& f = fibers_[i];
    const unsigned x = i % launch.block.x, y = i / launch.block.x % launch.block.y,
                   z = i / (launch.block.x * launch.block.y);
    f.thread = {{x, y, z}, index, launch.block, launch.grid, shared_.data(), launch.smem_bytes};
    f.state = Fiber::State::ready;
    f.copies.clear();
    f.group_ends.clear();
    f.context = context::make_fcontext(stacks_ + i * slot + slot, kStackBytes, &FiberStart::entry);
  }
  warps_.assign(threads_ / kWarpSize, Warp{});
  barrier_arrived_ = 0;
  barrier_generation_ = 0;
  error_.clear();
}

Expected<void> BlockRunner::run(const BlockLaunch& launch, QkEmuDim3 index) {
  const std::uint64_t threads = std::uint64_t{launch.block.x} * launch.block.y * launch.block.z;
  if (threads == 0 || threads > kMaxThreads || threads % kWarpSize != 0)
    return Error{Errc::invalid_argument, "block " + dim3_text(launch.block),
                 fmt::format("{} threads: cuda-emu runs blocks of whole warps, 32 to {} threads",
                             threads, kMaxThreads)};
  threads_ = static_cast<int>(threads);
  prepare(launch, index);
  BlockRunner* outer = tl_current;
  tl_current = this;
  for (bool alive = true; alive && error_.empty();) {
    alive = false;
    bool progressed = false;
    for (int i = 0; i < threads_ && error_.empty(); ++i) {
      if (fibers_[i].state == Fiber::State::done) continue;
      alive = true;
      if (!runnable(fibers_[i])) continue;
      resume(i);
      progressed = true;
    }
    if (alive && !progressed && error_.empty()) error_ = describe_deadlock();
  }
  tl_current = outer;
  current_ = -1;
  if (!error_.empty())
    return Error{Errc::invalid_argument, "block " + dim3_text(index), error_};
  return {};
}

bool BlockRunner::runnable(const Fiber& f) const {
  switch (f.state) {
    case Fiber::State::ready:
      return true;
    case Fiber::State::at_barrier:
      return f.generation != barrier_generation_;
    case Fiber::State::at_warp:
      return f.generation != warps_[(&f - fibers_.data()) / kWarpSize].generation;
    default:
      return false;
  }
}

void BlockRunner::resume(int thread) {
  current_ = thread;
  Fiber& f = fibers_[thread];
  f.state = Fiber::State::running;
  const context::transfer_t back = context::jump_fcontext(f.context, this);
  f.context = back.fctx;
}

void BlockRunner::switch_to_scheduler() {
  const context::transfer_t back = context::jump_fcontext(scheduler_, nullptr);
  scheduler_ = back.fctx;
}

void BlockRunner::fail(std::string message) {
  if (error_.empty())
    error_ = fmt::format("thread {} of the block: {}", dim3_text(fibers_[current_].thread.thread_idx),
                         message);
  switch_to_scheduler();
  std::abort();  // a failed fiber is never resumed
}

void BlockRunner::sync_block() {
  if (++barrier_arrived_ == static_cast<unsigned>(threads_)) {
    barrier_arrived_ = 0;
    ++barrier_generation_;
    return;
  }
  Fiber& f = fibers_[current_];
  f.state = Fiber::State::at_barrier;
  f.generation = barrier_generation_;
  switch_to_scheduler();
}

void BlockRunner::warp_collective(const char* what, const void* input, void* output,
                                  Collective collective) {
  Warp& w = warps_[current_ / kWarpSize];
  const int lane = current_ % kWarpSize;
  if (w.arrived == 0) {
    w.what = what;
    w.collective = collective;
  } else if (w.collective != collective) {
    fail(fmt::format("lane {} is at {} while other lanes of warp {} are at {}: the lanes of a "
                     "warp must meet at the same collective",
                     lane, what, current_ / kWarpSize, w.what));
  }
  w.inputs[lane] = input;
  w.outputs[lane] = output;
  if (++w.arrived == kWarpSize) {
    w.arrived = 0;
    ++w.generation;
    if (std::string error = collective(w.inputs, w.outputs, shared_); !error.empty())
      fail(fmt::format("{}: {}", what, error));
    return;
  }
  Fiber& f = fibers_[current_];
  f.state = Fiber::State::at_warp;
  f.generation = w.generation;
  switch_to_scheduler();
}

void BlockRunner::cp_async(unsigned shared, const void* global, int size, int src_size) {
  if (size != 4 && size != 8 && size != 16)
    fail(fmt::format("cp.async of {} bytes: the sizes are 4, 8 and 16", size));
  if (src_size < 0 || src_size > size)
    fail(fmt::format("cp.async with src-size {} outside [0, {}]", src_size, size));
  if (shared % size != 0 || std::size_t{shared} + size > shared_.size())
    fail(fmt::format("cp.async to shared address {}: must be {}-byte aligned, and its {} bytes "
                     "inside the {} bytes of shared memory",
                     shared, size, size, shared_.size()));
  PendingCopy copy{shared, size, {}};
  std::memcpy(copy.bytes, global, static_cast<std::size_t>(src_size));
  fibers_[current_].copies.push_back(copy);
}

void BlockRunner::cp_async_commit() {
  Fiber& f = fibers_[current_];
  f.group_ends.push_back(f.copies.size());
}

void BlockRunner::cp_async_wait(int pending) {
  Fiber& f = fibers_[current_];
  if (pending < 0) fail(fmt::format("cp.async.wait_group {}: the count must be >= 0", pending));
  const std::size_t groups = f.group_ends.size();
  if (groups <= static_cast<std::size_t>(pending)) return;
  const std::size_t done_groups = groups - static_cast<std::size_t>(pending);
  finish_copies(f, f.group_ends[done_groups - 1]);
  f.group_ends.erase(f.group_ends.begin(), f.group_ends.begin() + done_groups);
}

void BlockRunner::finish_copies(Fiber& f, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i)
    std::memcpy(shared_.data() + f.copies[i].shared, f.copies[i].bytes, f.copies[i].size);
  f.copies.erase(f.copies.begin(), f.copies.begin() + count);
  for (std::size_t& end : f.group_ends) end -= std::min(end, count);
}

std::string BlockRunner::describe_deadlock() const {
  std::map<std::string, int> waiting;  // what -> threads
  for (int i = 0; i < threads_; ++i) {
    const Fiber& f = fibers_[i];
    if (f.state == Fiber::State::at_barrier)
      ++waiting["wait at __syncthreads"];
    else if (f.state == Fiber::State::at_warp)
      ++waiting[fmt::format("wait at {} in warp {}", warps_[i / kWarpSize].what, i / kWarpSize)];
    else if (f.state == Fiber::State::done)
      ++waiting["have finished"];
  }
  std::string text = "deadlock: no thread can go on;";
  for (const auto& [what, count] : waiting) text += fmt::format(" {} threads {};", count, what);
  return text + " (a barrier or warp collective that not every thread reaches)";
}

}  // namespace qk::runtime::emu
