// cuda-emu's execution model with small kernels written here against templates/emu/cuda_emu.hpp
// (compiled ahead of time, like any host code): barriers, shuffles, votes, cp.async groups,
// shared memory per block, and the errors for what a GPU would hang on.
#include "templates/emu/cuda_emu.hpp"  // first: what a kernel compiled for cuda-emu sees
#include "templates/cuda/ptx.cuh"

#include <cstdint>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/emu_launch.hpp"

namespace qk::runtime::emu {
namespace {

struct Buffers {
  const int* in = nullptr;
  int* out = nullptr;
  int n = 0;
};

template <void (*Kernel)(Buffers)>
void entry(const void* args) {
  Kernel(*static_cast<const Buffers*>(args));
}

Expected<void> run(void (*thread_entry)(const void*), const Buffers& b, QkEmuDim3 grid,
                   QkEmuDim3 block, unsigned smem) {
  return launch({grid, block, smem, thread_entry, &b});
}

// Each thread writes its value to shared memory and, after the barrier, reads its right
// neighbour's: without the barrier's ordering the neighbour's slot would still hold the poison.
void rotate_through_shared(Buffers b) {
  int* slots = reinterpret_cast<int*>(qk_emu_thread()->shared);
  const int tid = threadIdx.x, n = blockDim.x;
  const int g = blockIdx.x * n + tid;
  slots[tid] = b.in[g];
  __syncthreads();
  b.out[g] = slots[(tid + 1) % n];
}

TEST(EmuBlock, BarrierOrdersSharedMemoryWithinEachBlock) {
  constexpr int kBlocks = 5, kThreads = 96;
  std::vector<int> in(kBlocks * kThreads), out(in.size(), -1);
  std::iota(in.begin(), in.end(), 1000);
  ASSERT_TRUE(run(entry<rotate_through_shared>, {in.data(), out.data(), 0}, {kBlocks, 1, 1},
                  {kThreads, 1, 1}, kThreads * sizeof(int)));
  for (int blk = 0; blk < kBlocks; ++blk)
    for (int t = 0; t < kThreads; ++t)
      EXPECT_EQ(out[blk * kThreads + t], in[blk * kThreads + (t + 1) % kThreads]) << blk << " " << t;
}

void built_ins(Buffers b) {
  const int linear = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const int threads = blockDim.x * blockDim.y * blockDim.z;
  b.out[block * threads + linear] = block * 10000 + linear;
}

TEST(EmuBlock, EveryThreadOfEveryBlockRunsOnceWithItsIndices) {
  const QkEmuDim3 grid{3, 2, 2}, block{8, 4, 2};
  std::vector<int> out(12 * 64, -1);
  ASSERT_TRUE(run(entry<built_ins>, {nullptr, out.data(), 0}, grid, block, 0));
  for (int blk = 0; blk < 12; ++blk)
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[blk * 64 + t], blk * 10000 + t);
}

// A butterfly reduction, as the W8A8 kernel's per-token amax, plus the other shuffle modes.
void shuffles(Buffers b) {
  const int lane = threadIdx.x % 32, g = threadIdx.x;
  int sum = b.in[g];
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const int idx = __shfl_sync(0xffffffffu, b.in[g], 5);
  const int up = __shfl_up_sync(0xffffffffu, b.in[g], 1);
  const int down = __shfl_down_sync(0xffffffffu, b.in[g], 2, 8);
  const unsigned odd = __ballot_sync(0xffffffffu, lane % 2);
  b.out[5 * g] = sum;
  b.out[5 * g + 1] = idx;
  b.out[5 * g + 2] = up;
  b.out[5 * g + 3] = down;
  b.out[5 * g + 4] = static_cast<int>(odd);
}

TEST(EmuBlock, ShufflesAndBallotFollowCudasLaneRules) {
  std::vector<int> in(64), out(5 * 64);
  for (int i = 0; i < 64; ++i) in[i] = i * i;
  ASSERT_TRUE(run(entry<shuffles>, {in.data(), out.data(), 0}, {1, 1, 1}, {64, 1, 1}, 0));
  for (int warp = 0; warp < 2; ++warp) {
    int sum = 0;
    for (int l = 0; l < 32; ++l) sum += in[32 * warp + l];
    for (int l = 0; l < 32; ++l) {
      const int g = 32 * warp + l;
      EXPECT_EQ(out[5 * g], sum);
      EXPECT_EQ(out[5 * g + 1], in[32 * warp + 5]);
      EXPECT_EQ(out[5 * g + 2], l == 0 ? in[g] : in[g - 1]);  // lane 0 keeps its own
      EXPECT_EQ(out[5 * g + 3], l % 8 < 6 ? in[g + 2] : in[g]);  // within segments of 8
      EXPECT_EQ(static_cast<unsigned>(out[5 * g + 4]), 0xaaaaaaaau);
    }
  }
}

// cp.async lands at wait_group, not before: what a thread reads before waiting is the old
// content (here the poison), and a group left in flight stays unwritten.
void copies(Buffers b) {
  unsigned char* s = qk_emu_thread()->shared;
  const int t = threadIdx.x;
  const unsigned first = 64 * t, second = 64 * t + 16, zero_filled = 64 * t + 32;
  qk::cuda::ptx::cp_async_16(first, b.in + 4 * t, 16);
  qk::cuda::ptx::cp_async_commit();
  qk::cuda::ptx::cp_async_16(second, b.in + 4 * t, 16);
  qk::cuda::ptx::cp_async_16(zero_filled, b.in + 4 * t, 0);
  qk::cuda::ptx::cp_async_commit();
  int before;
  std::memcpy(&before, s + first, 4);
  qk::cuda::ptx::cp_async_wait<1>();  // the first group is done, the second may not be
  int after_first, second_early;
  std::memcpy(&after_first, s + first, 4);
  std::memcpy(&second_early, s + second, 4);
  qk::cuda::ptx::cp_async_wait<0>();
  int second_late, zero;
  std::memcpy(&second_late, s + second, 4);
  std::memcpy(&zero, s + zero_filled, 4);
  const int r[] = {before, after_first, second_early, second_late, zero};
  std::memcpy(b.out + 5 * t, r, sizeof r);
}

TEST(EmuBlock, CpAsyncLandsWhenItsGroupIsWaitedFor) {
  std::vector<int> in(4 * 32), out(5 * 32);
  std::iota(in.begin(), in.end(), 7);
  ASSERT_TRUE(run(entry<copies>, {in.data(), out.data(), 0}, {1, 1, 1}, {32, 1, 1}, 64 * 32));
  const int poison = static_cast<int>(0xA5A5A5A5u);
  for (int t = 0; t < 32; ++t) {
    EXPECT_EQ(out[5 * t], poison);
    EXPECT_EQ(out[5 * t + 1], in[4 * t]);
    EXPECT_EQ(out[5 * t + 2], poison);
    EXPECT_EQ(out[5 * t + 3], in[4 * t]);
    EXPECT_EQ(out[5 * t + 4], 0);
  }
}

void divergent_barrier(Buffers) {
  if (threadIdx.x < 32) __syncthreads();
}

TEST(EmuBlock, ABarrierNotEveryThreadReachesIsReportedAsADeadlock) {
  auto r = run(entry<divergent_barrier>, {}, {2, 1, 1}, {64, 1, 1}, 0);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("deadlock"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().message.find("32 threads wait at __syncthreads"), std::string::npos)
      << r.error().str();
}

void divergent_collectives(Buffers) {
  if (threadIdx.x % 2)
    (void)__shfl_xor_sync(0xffffffffu, 1, 1);
  else
    (void)__ballot_sync(0xffffffffu, 1);
}

void partial_mask(Buffers) {
  (void)__shfl_xor_sync(0x0000ffffu, 1, 1);
}

void out_of_bounds_copy(Buffers b) {
  qk::cuda::ptx::cp_async_16(qk_emu_thread()->shared_bytes, b.in, 16);
}

TEST(EmuBlock, MisusedCollectivesAndCopiesAreErrorsNotGuesses) {
  int data[4] = {};
  using Case = std::pair<void (*)(const void*), const char*>;
  for (auto [kernel, expected] :
       {Case{entry<divergent_collectives>, "must meet at the same collective"},
        Case{entry<partial_mask>, "full warps only"},
        Case{entry<out_of_bounds_copy>, "inside the 256 bytes of shared memory"}}) {
    auto r = run(kernel, {data, nullptr, 0}, {1, 1, 1}, {32, 1, 1}, 256);
    ASSERT_FALSE(r) << expected;
    EXPECT_NE(r.error().message.find(expected), std::string::npos) << r.error().str();
  }
}

TEST(EmuBlock, BlocksMustBeWholeWarps) {
  auto r = run(entry<built_ins>, {}, {1, 1, 1}, {48, 1, 1}, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().where, "block (48, 1, 1)");
}

}  // namespace
}  // namespace qk::runtime::emu
