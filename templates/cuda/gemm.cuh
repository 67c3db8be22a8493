// The GEMMs on the tensor cores, every family from one pipelined mainloop:
// Y = epilogue(op(A) · op(W)ᵀ) with A fp16/bf16 as it arrives, sm_80 or newer. What differs per
// family is only how A becomes an mma operand, how W is read into B fragments, and which mma runs
// (operands.cuh); docs/cuda.md describes the design, docs/numerics.md the arithmetic.
//
// One kernel template over one config type. codegen renders a struct with these members (all
// of them, nothing else varies between instances) and instantiates gemm<Config>:
//
//   static constexpr qk::cuda::Code A_CODE;        // A's mma operand: int8 or fp8_e4m3/e5m2
//                                                  // (quantized in the kernel; fp8: sm_89+), or
//                                                  // fp16/bf16 (= INPUT, as it arrives)
//   static constexpr qk::cuda::Code W_CODE;        // W as stored: int8, fp8_e4m3, fp16, bf16, or
//                                                  // int4 (converted to A_CODE in registers:
//                                                  // fp16/bf16 for w4a16, int8 for w4a8)
//   static constexpr int GROUP_SIZE;               // int4: k per weight scale group; else 0
//   static constexpr bool W_ZERO;                  // int4: the weights have zero points
//   static constexpr qk::cuda::InputType INPUT;    // dtype of A: fp16 or bf16
//   static constexpr qk::cuda::Scaling SCALING;    // A's scale: none (16-bit A), static per-tensor
//                                                  // or dynamic per-token
//   static constexpr qk::cuda::AQuant A_QUANT;     // dynamic per-token 8-bit A: quantized here
//                                                  // (in_cta) or by quantize_rows<Config> before
//                                                  // (producer: args.a = its codes [M, K],
//                                                  // args.a_scale = its scales [M]); else in_cta
//   static constexpr bool BIAS;                    // add bias[n] (fp32) after the dequant
//   static constexpr qk::cuda::Act ACTIVATION;     // applied after the bias: none, relu, gelu,
//                                                  // gelu_tanh or silu
//   static constexpr qk::cuda::OutputType OUTPUT;  // dtype of Y: fp16, bf16 or int8
//                                                  // (requantized by args.out_inv_scale)
//   static constexpr int BLOCK_M, BLOCK_N;         // the CTA's tile of Y, in elements
//   static constexpr int BLOCK_K;                  // K per pipeline stage, a multiple of 32
//   static constexpr int WARPS_M, WARPS_N;         // the CTA's warps, as a WARPS_M x WARPS_N grid
//   static constexpr int STAGES;                   // cp.async pipeline depth, >= 2
//   static constexpr int SPLIT_K;                  // slices of K, each its own CTA, reduced by
//                                                  // the last to arrive (split_k.cuh); 1 = none
//   static constexpr int RASTER;                   // tile rows per group of the block order
//                                                  // (gemm_grid.cuh); 1 = row-major
//   static constexpr int MIN_BLOCKS;               // CTAs per SM the registers must allow
//
// Grid: grid_dims() of gemm_grid.cuh — RASTER 1: (tiles along N, tiles along M, SPLIT_K), tile
// rows past gridDim.y's 65535 folded into z; RASTER > 1: (all tiles in RASTER order, 1,
// SPLIT_K); either way M is bounded only by int indexing; block:
// 32 * WARPS_M * WARPS_N threads; dynamic shared memory: gemm_smem_bytes<Config>() (above 48 KB
// the launcher opts in with cudaFuncAttributeMaxDynamicSharedMemorySize); SPLIT_K > 1:
// args.workspace (abi.h).
#pragma once

#include "cuda/abi.h"
#include "cuda/epilogue.cuh"
#include "cuda/gemm_grid.cuh"
#include "cuda/gemm_layout.cuh"
#include "cuda/operands.cuh"
#include "cuda/ptx.cuh"
#include "cuda/quantize.cuh"
#include "cuda/split_k.cuh"

namespace qk::cuda {

/// @pre args as documented by QkCudaGemmArgs; blockDim.x == GemmLayout<C>::THREADS; the grid and
/// dynamic shared memory as in the header comment.
/// @post Y[m, n] for every m < M, n < N of this CTA's tile; nothing outside [M, N] is written and
/// nothing outside A, W, the scales and the bias is read.
template <class C>
__global__ void __launch_bounds__(GemmLayout<C>::THREADS, C::MIN_BLOCKS)
    gemm(const QkCudaGemmArgs args) {
  using L = GemmLayout<C>;
  using MmaOp = Mma<C::A_CODE>;
  unsigned char* const smem = ptx::dynamic_smem();
  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int warp_m = L::warp_row0(warp);  // the warp's first row within the tile
  const int warp_n = L::warp_col0(warp);  // its first column
  const int M = args.m, N = args.n, K = args.k;
  const int tiles_m = (M + C::BLOCK_M - 1) / C::BLOCK_M,
            tiles_n = (N + C::BLOCK_N - 1) / C::BLOCK_N;
  const BlockWork work =
      block_work(blockIdx.x, blockIdx.y, blockIdx.z, tiles_m, tiles_n, C::SPLIT_K, C::RASTER);
  if (!work.in_grid) return;  // a folded grid's blocks past M (whole CTAs, before any barrier)
  const int m0 = work.tile.m * C::BLOCK_M;
  const int n0 = work.tile.n * C::BLOCK_N;
  // This CTA's k-tiles: all of them, or its split-K slice's. int4 groups longer than BLOCK_K are
  // never cut (w4a8's group sums end inside a slice; group scales stay once per group).
  constexpr int UNIT = L::GROUPED_W && C::GROUP_SIZE > C::BLOCK_K ? C::GROUP_SIZE / C::BLOCK_K : 1;
  const KTileRange k_range = C::SPLIT_K > 1 ? slice_k_tiles(work.slice, C::SPLIT_K,
                                                            (K + C::BLOCK_K - 1) / C::BLOCK_K, UNIT)
                                            : KTileRange{0, (K + C::BLOCK_K - 1) / C::BLOCK_K};
  const int kt0 = k_range.begin;                    // the first k-tile
  const int k_tiles = k_range.end - k_range.begin;  // how many (0 for an empty slice)
  const unsigned char* a_bytes = static_cast<const unsigned char*>(args.a);
  const unsigned char* w_bytes = static_cast<const unsigned char*>(args.w);
  const unsigned smem_base = ptx::smem_addr(smem);

  // Issues the copies of k-tile `kt` into stage `stage`. Rows past M or N and columns past K
  // are zero-filled (src_bytes 0, the source clamped to the buffer's start): zeros quantize to
  // code 0 and add nothing to the sums.
  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * C::BLOCK_K;
    const unsigned a_dst = smem_base + stage * L::STAGE;
    const unsigned w_dst = a_dst + L::W_OFFSET;
#pragma unroll
    for (int i = 0; i < L::A_CHUNKS / L::THREADS; ++i) {
      const int chunk = tid + i * L::THREADS;
      const int r = L::a_chunk_row(chunk), c = L::a_chunk_k(chunk);
      const int gm = m0 + r, gk = k0 + c;
      // K % 16 == 0, so gk < K means the whole piece (8 halves or 16 codes) is in.
      const bool in = gm < M && gk < K;
      const void* src =
          in ? a_bytes + L::A_ELEM_BYTES * (static_cast<long long>(gm) * K + gk) : args.a;
      ptx::cp_async_16(a_dst + r * L::A_STRIDE + L::A_ELEM_BYTES * c, src, in ? 16 : 0);
    }
#pragma unroll
    for (int i = 0; i < L::W_CHUNKS / L::THREADS; ++i) {
      const int chunk = tid + i * L::THREADS;
      const int r = L::w_chunk_row(chunk), c = L::w_chunk_byte(chunk);
      const int gn = n0 + r, gk = k0 + c * 8 / code_bits(C::W_CODE);  // the piece's first k
      const bool in = gn < N && gk < K;  // whole pieces: K's precondition
      const void* src =
          in ? w_bytes + (static_cast<long long>(gn) * K + gk) * code_bits(C::W_CODE) / 8 : args.w;
      ptx::cp_async_16(w_dst + r * L::W_STRIDE + c, src, in ? 16 : 0);
    }
    // int4: the k-tile's group scales (and zero points), rows [K / GROUP_SIZE, N rounded up to
    // 4] in global memory; pieces past the groups or past N are zero-filled like the weights.
    if constexpr (L::GROUPED_W) {
#pragma unroll
      for (int i = 0; i < (L::WS_CHUNKS + L::THREADS - 1) / L::THREADS; ++i) {
        const int chunk = tid + i * L::THREADS;
        if (L::WS_CHUNKS % L::THREADS != 0 && chunk >= L::WS_CHUNKS) break;
        const int g = k0 / C::GROUP_SIZE + L::ws_chunk_group(chunk);
        const int gn = n0 + L::ws_chunk_col(chunk);
        const bool in = g < K / C::GROUP_SIZE && gn < N;
        const float* base = L::ws_chunk_array(chunk) == 0 ? args.w_scale : args.w_zero;
        const void* src = in ? base + static_cast<long long>(g) * ((N + 3) & ~3) + gn : base;
        ptx::cp_async_16(a_dst + L::WS_OFFSET + 16 * chunk, src, in ? 16 : 0);
      }
    }
  };

  // The prologue: STAGES - 1 k-tiles in flight before the first mma. A group is committed even
  // when empty so that wait_group's count stays in step with the k-tiles.
#pragma unroll
  for (int s = 0; s < C::STAGES - 1; ++s) {
    if (s < k_tiles) load_stage(s, kt0 + s);
    ptx::cp_async_commit();
  }

  // A's scales (8-bit A only), while the prologue's copies fly; the main loop's first barrier
  // publishes the per-token ones a pre-pass computes.
  AScales<C> a_scales;
  if constexpr (L::A8) a_scales.prepare(args, smem, m0, warp, lane);

  typename MmaOp::Acc acc[L::MMA_M][L::MMA_N][4];
#pragma unroll
  for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
    for (int j = 0; j < L::MMA_N; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;
  // w4a8: the fp32 sum over weight groups of their scaled int32 sums (add_group_sums).
  float group_sum[L::GROUP_SUMS ? L::MMA_M : 1][L::GROUP_SUMS ? L::MMA_N : 1][4];
  if constexpr (L::GROUP_SUMS) {
#pragma unroll
    for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
      for (int j = 0; j < L::MMA_N; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e) group_sum[i][j][e] = 0.0f;
  }

  for (int i_kt = 0; i_kt < k_tiles; ++i_kt) {
    const int kt = kt0 + i_kt;  // the k-tile, counted from K's start (the group of a k-tile)
    const int stage = i_kt % C::STAGES;
    ptx::cp_async_wait<C::STAGES - 2>();  // k-tile kt has landed (for this thread's copies)...
    __syncthreads();  // ...and for everyone's; every warp is done with k-tile kt - 1

    if constexpr (L::QUANTIZE_A) {
      quantize_a_tile<C>(smem, stage, a_scales, tid);
      __syncthreads();
    }

    // Refill the stage consumed in iteration kt - 1 (every warp passed the barrier above).
    if (i_kt + C::STAGES - 1 < k_tiles)
      load_stage((i_kt + C::STAGES - 1) % C::STAGES, kt + C::STAGES - 1);
    ptx::cp_async_commit();

    const unsigned stage_base = smem_base + stage * L::STAGE;
    const unsigned a_tile = L::QUANTIZE_A ? smem_base + L::A8_OFFSET : stage_base;
    const float* ws = reinterpret_cast<const float*>(smem + stage * L::STAGE + L::WS_OFFSET);
    // k32 steps of W's fragments, each one (8-bit) or two (16-bit) mma steps of 32 bytes of the
    // operand rows.
#pragma unroll
    for (int kk = 0; kk < C::BLOCK_K; kk += 32) {
      WStep<C> w;
      w.load(stage_base + L::W_OFFSET, ws, warp_n, kk, lane);
#pragma unroll
      for (int h = 0; h < L::MMA_PER_K32; ++h) {
        unsigned a_frag[L::MMA_M][4];
#pragma unroll
        for (int i = 0; i < L::MMA_M; ++i)
          load_a<C>(a_frag[i], a_tile, warp_m, i, kk * L::MMA_PER_K32 + 32 * h, lane);
        unsigned b_frag[L::MMA_N][2];
        w.piece(b_frag, h);
#pragma unroll
        for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
          for (int n = 0; n < L::MMA_N; ++n) MmaOp::run(acc[i][n], a_frag[i], b_frag[n]);
      }
      if constexpr (L::GROUP_SUMS) {
        // K is a multiple of the group size, so the last k-tile ends a group too (and a split-K
        // slice's last k-tile, slices being whole groups).
        const bool ends_group =
            C::GROUP_SIZE < C::BLOCK_K
                ? (kk + 32) % C::GROUP_SIZE == 0
                : kk + 32 == C::BLOCK_K && (kt + 1) * C::BLOCK_K % C::GROUP_SIZE == 0;
        if (ends_group) add_group_sums<C>(group_sum, acc, ws, warp_n, kk, lane);
      }
    }
  }
  ptx::cp_async_wait<0>();

  // Split-K: the slices' sums are added by the tile's last CTA to arrive, which alone goes on.
  if constexpr (C::SPLIT_K > 1) {
    bool last;
    if constexpr (L::GROUP_SUMS)
      last = reduce_slices<C>(group_sum, args, tiles_m * tiles_n, work.tile_index, work.slice, smem,
                              tid);
    else
      last = reduce_slices<C>(acc, args, tiles_m * tiles_n, work.tile_index, work.slice, smem, tid);
    if (!last) return;
  }

  // Epilogue, numerics §6 and §7 (epilogue.cuh): y = convert(activation((float(acc) ·
  // w_scale[n]) · a_scale[m] + bias[n])), the scales where the family has them (w4a8: the group
  // sums, weight scales applied), each operation rounded on its own (__fmul_rn/__fadd_rn are
  // never contracted into an FMA).
#pragma unroll
  for (int n = 0; n < L::MMA_N; ++n) {
    const int col = n0 + warp_n + 8 * n + L::acc_col(0, lane);  // and col + 1: elements 2h + e
    float ws[2], bias[2];
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool in = col + e < N;
      ws[e] = L::CHANNEL_W_SCALE && in ? args.w_scale[col + e] : 0.0f;
      bias[e] = C::BIAS && in ? args.bias[col + e] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < L::MMA_M; ++i) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = warp_m + 16 * i + L::acc_row(2 * h, lane);
        const int row = m0 + r;
        if (row >= M) continue;
        float as = 0.0f;
        if constexpr (L::A8) as = a_scales.scale(r);
        unsigned out[2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float v;
          if constexpr (L::GROUP_SUMS)
            v = group_sum[i][n][2 * h + e];
          else
            v = static_cast<float>(acc[i][n][2 * h + e]);
          if constexpr (L::CHANNEL_W_SCALE) v = __fmul_rn(v, ws[e]);
          if constexpr (L::A8) v = __fmul_rn(v, as);
          if constexpr (C::BIAS) v = __fadd_rn(v, bias[e]);
          out[e] = detail::convert_output<C::OUTPUT>(detail::activation<C::ACTIVATION>(v),
                                                     args.out_inv_scale);
        }
        detail::store_pair<C::OUTPUT>(args.y, row, col, N, out[0], out[1]);
      }
    }
  }
}

}  // namespace qk::cuda
