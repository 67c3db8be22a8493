// Split-K's reduction: "the last CTA to arrive reduces". Every slice of an output tile stores its
// partial sums in the workspace (gemm_grid.cuh has the layout), fences, and counts itself in the
// tile's arrival counter; the CTA that arrives last adds every slice's partial in the fixed order
// 0 .. SPLIT_K-1 and goes on to the epilogue, the others end. No CTA ever waits for another, so
// nothing depends on CTAs being co-resident (cuda-emu does not guarantee it, nor does a GPU for
// a large grid), and the sum is the same whatever order the slices arrive in.
#pragma once

#include "cuda/abi.h"
#include "cuda/gemm_grid.cuh"
#include "cuda/gemm_layout.cuh"
#include "cuda/ptx.cuh"

namespace qk::cuda {

namespace detail {

__device__ __forceinline__ unsigned as_bits(int v) {
  return static_cast<unsigned>(v);
}
__device__ __forceinline__ unsigned as_bits(float v) {
  return __float_as_uint(v);
}
__device__ __forceinline__ void from_bits(unsigned b, int& v) {
  v = static_cast<int>(b);
}
__device__ __forceinline__ void from_bits(unsigned b, float& v) {
  v = __uint_as_float(b);
}
/// int32 sums wrap, as the tensor cores' do (exact for every K the launcher allows); fp32 sums
/// are rounded once per addition, never contracted.
__device__ __forceinline__ int add(int a, int b) {
  return static_cast<int>(static_cast<unsigned>(a) + static_cast<unsigned>(b));
}
__device__ __forceinline__ float add(float a, float b) {
  return __fadd_rn(a, b);
}

}  // namespace detail

/// Reduces this CTA's partial sums `part` (the accumulators the epilogue reads: int32 or fp32, or
/// w4a8's fp32 sums over groups) over the SPLIT_K slices of output tile `tile` (of `tiles`, in
/// row-major order: BlockWork::tile_index). Returns false when another slice of the tile will
/// finish it: the CTA has nothing left to do. Returns true in the tile's last CTA to arrive, with
/// `part` = slice 0 + slice 1 + … (in that order) and the tile's counter reset to 0 for the next
/// launch.
/// @pre called by every thread of the CTA, after the main loop (shared memory is free: its first
/// 4 bytes carry the verdict); args.workspace as gemm_grid.cuh lays it out, counters zero before
/// the launch.
template <class C, class T>
__device__ __forceinline__ bool reduce_slices(
    T (&part)[GemmLayout<C>::MMA_M][GemmLayout<C>::MMA_N][4], const QkCudaGemmArgs& args, int tiles,
    int tile, int slice, unsigned char* smem, int tid) {
  using L = GemmLayout<C>;
  constexpr int TILE_BYTES = C::BLOCK_M * C::BLOCK_N * 4;  // one slice's partial of a tile
  unsigned char* const ws = static_cast<unsigned char*>(args.workspace);
  unsigned* const counter =
      reinterpret_cast<unsigned*>(ws +
                                  split_partials_bytes(tiles, C::SPLIT_K, C::BLOCK_M, C::BLOCK_N)) +
      tile;
  unsigned char* const tile_base = ws + static_cast<long long>(tile) * C::SPLIT_K * TILE_BYTES;
  // Fragment (i, n) of thread tid is 16 bytes at ((i · MMA_N + n) · THREADS + tid) · 16 of a
  // slice's block: consecutive threads store consecutive 16 bytes (coalesced 128-bit accesses).
  auto piece = [&](int s, int i, int n) {
    return tile_base + static_cast<long long>(s) * TILE_BYTES +
           ((i * L::MMA_N + n) * L::THREADS + tid) * 16;
  };

#pragma unroll
  for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
    for (int n = 0; n < L::MMA_N; ++n)
      ptx::st_cg_128(piece(slice, i, n),
                     make_uint4(detail::as_bits(part[i][n][0]), detail::as_bits(part[i][n][1]),
                                detail::as_bits(part[i][n][2]), detail::as_bits(part[i][n][3])));
  // Release: this thread's partials are visible device-wide before the CTA counts itself; the
  // barrier makes every thread's so, and every warp is past the main loop's shared memory.
  __threadfence();
  __syncthreads();
  unsigned* const verdict = reinterpret_cast<unsigned*>(smem);
  if (tid == 0) *verdict = atomicAdd(counter, 1u) == C::SPLIT_K - 1 ? 1u : 0u;
  __syncthreads();
  if (*verdict == 0) return false;
  // Acquire: the other slices' partials were fenced before their arrivals, which this CTA's
  // count saw; .cg loads read them from L2, never a stale L1 line.
  __threadfence();
  // Every slice has arrived: nothing else touches the counter in this launch, and the next
  // launch (stream-ordered after this one) finds it zero.
  if (tid == 0) atomicExch(counter, 0u);
  // Fragment by fragment, the slices in order, this CTA's own partial re-read like the others'
  // (from L2, where it just went): no second set of accumulators, which the 128 x 128 tiles (128
  // a thread) have no registers for.
#pragma unroll
  for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
    for (int n = 0; n < L::MMA_N; ++n)
#pragma unroll
      for (int s = 0; s < C::SPLIT_K; ++s) {
        const uint4 bits = ptx::ld_cg_128(piece(s, i, n));
        const unsigned words[4] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          T v;
          detail::from_bits(words[e], v);
          part[i][n][e] = s == 0 ? v : detail::add(part[i][n][e], v);
        }
      }
  return true;
}

}  // namespace qk::cuda
