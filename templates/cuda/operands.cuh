// The operand policies of the generic GEMM (gemm.cuh): how A arrives and becomes an mma operand,
// how W's stage is read into B fragments, and which mma runs. Selected at compile time by the
// config's A_CODE / W_CODE; the mainloop calls the same four functions for every family.
#pragma once

#include "cuda/abi.h"
#include "cuda/gemm_layout.cuh"
#include "cuda/ptx.cuh"
#include "cuda/quantize.cuh"

namespace qk::cuda {

/// The activation scales of an 8-bit A (numerics §2, §6.1): the static per-tensor scale passed
/// at run time; or one per row of the CTA's tile from the row's absmax, computed by a pre-pass
/// over A while the pipeline's first copies fly; or, for A from the producer kernel, the [M]
/// scales it wrote (read in the epilogue from global memory: a handful of loads per thread, L1
/// hits after the first, once per CTA). Unused (empty) for 16-bit A.
template <class C>
struct AScales {
  using L = GemmLayout<C>;
  float static_scale = 0.0f, static_inv = 0.0f;
  const float* row_scale = nullptr;  ///< dynamic: the tile's [BLOCK_M] (shared or global memory)
  const float* row_inv = nullptr;    ///< dynamic, quantized in the CTA: [BLOCK_M] (shared)

  /// @pre called by every thread of the CTA; a barrier follows before scale()/inv() are read.
  __device__ __forceinline__ void prepare(const QkCudaGemmArgs& args, unsigned char* smem, int m0,
                                          int warp, int lane) {
    if constexpr (C::SCALING == Scaling::static_per_tensor) {
      static_scale = *args.a_scale;
      static_inv = __fdiv_rn(1.0f, static_scale);  // numerics §2.3: one IEEE division
    } else if constexpr (L::PREQUANTIZED_A) {
      row_scale = args.a_scale + m0;  // rows past M are never read (the epilogue skips them)
    } else if constexpr (C::SCALING == Scaling::dynamic_per_token) {
      float* const scale_out = reinterpret_cast<float*>(smem + L::SCALE_OFFSET);
      float* const inv_out = scale_out + C::BLOCK_M;
      row_scale = scale_out;
      row_inv = inv_out;
      // Each warp takes rows of the tile, its lanes stride over K with 128-bit loads, a
      // butterfly shuffle reduces the absmax.
      const unsigned char* a_bytes = static_cast<const unsigned char*>(args.a);
      for (int r = warp; r < C::BLOCK_M; r += L::THREADS / 32) {
        const int gm = m0 + r;
        float amax = 0.0f;
        if (gm < args.m) {
          const unsigned char* row = a_bytes + 2 * static_cast<long long>(gm) * args.k;
          for (int k = 8 * lane; k < args.k; k += 8 * 32) {
            amax = detail::amax8<C::INPUT>(amax, ptx::ldg_128(row + 2 * k));
          }
        }
#pragma unroll
        for (int offset = 16; offset > 0; offset /= 2)
          amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
        if (lane == 0) {
          const float scale = detail::scale_from_amax<C::A_CODE>(amax);
          scale_out[r] = scale;
          inv_out[r] = __fdiv_rn(1.0f, scale);
        }
      }
    }
  }
  __device__ __forceinline__ float scale(int r) const {
    if constexpr (C::SCALING == Scaling::static_per_tensor)
      return static_scale;
    else
      return row_scale[r];
  }
  __device__ __forceinline__ float inv(int r) const {
    if constexpr (C::SCALING == Scaling::static_per_tensor)
      return static_inv;
    else
      return row_inv[r];
  }
};

/// Quantizes a stage's fp16/bf16 A tile into the 8-bit A tile (numerics §3.1, §3.4), 8 elements
/// (16 bytes in, 8 out) a step. @pre the stage has landed for every thread (barrier before).
template <class C>
__device__ __forceinline__ void quantize_a_tile(unsigned char* smem, int stage,
                                                const AScales<C>& scales, int tid) {
  using L = GemmLayout<C>;
  const unsigned char* a16 = smem + stage * L::STAGE;
  unsigned char* a8 = smem + L::A8_OFFSET;
#pragma unroll
  for (int i = 0; i < L::A_CHUNKS / L::THREADS; ++i) {
    const int chunk = tid + i * L::THREADS;
    const int r = L::a_chunk_row(chunk), c = L::a_chunk_k(chunk);
    const uint4 v = *reinterpret_cast<const uint4*>(a16 + r * L::A_STRIDE + 2 * c);
    *reinterpret_cast<uint2*>(a8 + r * L::A8_STRIDE + c) =
        detail::quantize8<C::A_CODE, C::INPUT>(v, scales.inv(r));
  }
}

/// The A fragment of m16 tile i at byte `kb` of the rows (one m16n8k32 step of 8-bit A, one
/// m16n8k16 step of 16-bit A: 32 bytes either way), by one ldmatrix.x4. `tile` is the shared
/// address of the 8-bit A tile quantized in the CTA, or of the stage's A tile (16-bit, or the
/// producer's codes).
template <class C>
__device__ __forceinline__ void load_a(unsigned (&a)[4], unsigned tile, int warp_m, int i, int kb,
                                       int lane) {
  using L = GemmLayout<C>;
  ptx::ldmatrix_x4(
      a, tile + L::a_frag_row(warp_m, i, lane) * L::A_MMA_STRIDE + L::a_frag_byte(kb, lane));
}

/// W's B fragments of the warp's n8 tiles for one k32 step (`kk`) of a stage: load() once per
/// step, then piece(b, h) per mma step h of it (one for 8-bit operands, two m16n8k16 for 16-bit
/// ones). This one reads 8- or 16-bit W as stored: one ldmatrix.x4 per pair of n8 tiles and step.
template <class C, bool GROUPED = GemmLayout<C>::GROUPED_W>
struct WStep {
  using L = GemmLayout<C>;
  static_assert(code_bits(C::W_CODE) == code_bits(C::A_CODE),
                "W read as stored must have the width of the mma's operand type.");
  unsigned w_tile;  ///< shared address of the stage's W tile
  int warp_n, kk, lane;

  __device__ __forceinline__ void load(unsigned w_tile_, const float*, int warp_n_, int kk_,
                                       int lane_) {
    w_tile = w_tile_;
    warp_n = warp_n_;
    kk = kk_;
    lane = lane_;
  }
  __device__ __forceinline__ void piece(unsigned (&b)[L::MMA_N][2], int h) const {
    const int kb = kk * code_bits(C::W_CODE) / 8 + 32 * h;
#pragma unroll
    for (int p = 0; p < L::MMA_N / 2; ++p) {
      unsigned r[4];
      ptx::ldmatrix_x4(
          r, w_tile + L::w_frag_row(warp_n, p, lane) * L::W_STRIDE + L::w_frag_byte(kb, lane));
      b[2 * p][0] = r[0];
      b[2 * p][1] = r[1];
      b[2 * p + 1][0] = r[2];
      b[2 * p + 1][1] = r[3];
    }
  }
};

/// int4 W (the k32-interleaved layouts, quant/pack_cuda.hpp): one ldmatrix.x4 per four n8 tiles
/// hands each lane the 32-bit word of its column holding the 8 codes of its B fragments for the
/// whole k32 step. For 16-bit A they are dequantized in registers with the column's group scale
/// and zero point (staged with the tile) to A's type (numerics §6.3), nibbles 4h..4h+3 for piece
/// h; for int8 A they are widened to code - zero as int8 (the group scale is applied to the
/// group's int32 sums, numerics §6.2).
template <class C>
struct WStep<C, true> {
  using L = GemmLayout<C>;
  static constexpr bool TO_INT8 = C::A_CODE == Code::int8;
  static_assert(TO_INT8 || C::A_CODE == Code::fp16 || C::A_CODE == Code::bf16,
                "int4 weights feed int8 or fp16/bf16 activations.");
  unsigned words[L::MMA_N];
  float scale[L::MMA_N];        ///< 16-bit A: the column's group scale
  float zero_biased[L::MMA_N];  ///< 16-bit A: 2^23 + the zero point (dequant_int4_pair)
  unsigned zero4[L::MMA_N];     ///< int8 A: the zero point in each byte

  __device__ __forceinline__ void load(unsigned w_tile, const float* ws, int warp_n, int kk,
                                       int lane) {
#pragma unroll
    for (int q = 0; q < L::MMA_N / 4; ++q) {
      unsigned r[4];
      ptx::ldmatrix_x4(
          r, w_tile + L::w4_frag_row(warp_n, q, lane) * L::W_STRIDE + L::w4_frag_byte(kk));
#pragma unroll
      for (int j = 0; j < 4; ++j) words[4 * q + j] = r[j];
    }
    // The step's group within the k-tile: 0 when a group spans whole k-tiles.
    const int group = L::GROUPS_PER_TILE > 1 ? kk / C::GROUP_SIZE : 0;
#pragma unroll
    for (int n = 0; n < L::MMA_N; ++n) {
      const int col = warp_n + 8 * n + lane / 4;  // the B fragments' column g
      const float zero = C::W_ZERO ? ws[L::WS_FLOATS + group * C::BLOCK_N + col] : 8.0f;
      if constexpr (TO_INT8) {
        zero4[n] = static_cast<unsigned>(zero) * 0x01010101u;
      } else {
        scale[n] = ws[group * C::BLOCK_N + col];
        zero_biased[n] = __fadd_rn(8388608.0f, zero);  // exact: zero <= 15
      }
    }
  }
  __device__ __forceinline__ void piece(unsigned (&b)[L::MMA_N][2], int h) const {
#pragma unroll
    for (int n = 0; n < L::MMA_N; ++n) {
      if constexpr (TO_INT8) {
        // Nibbles 0, 2, 4, 6 and 1, 3, 5, 7 into bytes, then interleaved back in order:
        // b[0] = nibbles 0-3 (k 4t..4t+3), b[1] = nibbles 4-7 (k 16+4t..19+4t).
        const unsigned lo = words[n] & 0x0f0f0f0fu, hi = (words[n] >> 4) & 0x0f0f0f0fu;
        b[n][0] = detail::int4x4_minus_zero(__byte_perm(lo, hi, 0x5140), zero4[n]);
        b[n][1] = detail::int4x4_minus_zero(__byte_perm(lo, hi, 0x7362), zero4[n]);
      } else {
        const unsigned w = words[n] >> (16 * h);
        b[n][0] =
            detail::dequant_int4_pair<C::A_CODE>(w & 0xf, (w >> 4) & 0xf, zero_biased[n], scale[n]);
        b[n][1] = detail::dequant_int4_pair<C::A_CODE>((w >> 8) & 0xf, (w >> 12) & 0xf,
                                                       zero_biased[n], scale[n]);
      }
    }
  }
};

/// w4a8, numerics §6.2: at the end of a weight group, sum[i][n][e] += float(acc) · w_scale[n, g]
/// (in fp32, groups in increasing order) and the group's int32 sums start again from 0. An
/// accumulator's column is 2t + e % 2 of its n8 tile (not the B fragments' g), so each lane reads
/// two columns' scales per tile. `kk`: the group's last k32 step within the stage.
template <class C>
__device__ __forceinline__ void add_group_sums(
    float (&sum)[GemmLayout<C>::MMA_M][GemmLayout<C>::MMA_N][4],
    int (&acc)[GemmLayout<C>::MMA_M][GemmLayout<C>::MMA_N][4], const float* ws, int warp_n, int kk,
    int lane) {
  using L = GemmLayout<C>;
  const int group = L::GROUPS_PER_TILE > 1 ? kk / C::GROUP_SIZE : 0;
#pragma unroll
  for (int n = 0; n < L::MMA_N; ++n) {
    float scale[2];
#pragma unroll
    for (int e = 0; e < 2; ++e)
      scale[e] = ws[group * C::BLOCK_N + warp_n + 8 * n + L::acc_col(e, lane)];
#pragma unroll
    for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        sum[i][n][e] =
            __fadd_rn(sum[i][n][e], __fmul_rn(static_cast<float>(acc[i][n][e]), scale[e % 2]));
        acc[i][n][e] = 0;
      }
  }
}

/// The tensor-core instruction of the A operand's type: one m16n8k32 (8-bit) or m16n8k16 (16-bit)
/// step of an m16n8 tile, 32 bytes of A's and W's rows.
template <Code A>
struct Mma;

template <>
struct Mma<Code::int8> {
  using Acc = int;  ///< exact int32 sums (numerics §6.2)
  __device__ __forceinline__ static void run(int (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
    ptx::mma_s8_16832(d, a, b);
  }
};

/// fp8 A (e4m3 or e5m2) x e4m3 W, sm_89+: products exact in fp32, fp32 accumulation (§6.4).
template <>
struct Mma<Code::fp8_e4m3> {
  using Acc = float;
  __device__ __forceinline__ static void run(float (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
    ptx::mma_e4m3_16832(d, a, b);
  }
};
template <>
struct Mma<Code::fp8_e5m2> {
  using Acc = float;
  __device__ __forceinline__ static void run(float (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
    ptx::mma_e5m2_e4m3_16832(d, a, b);
  }
};

/// fp16/bf16 A: fp32 accumulation (numerics §6.3, §6.5).
template <>
struct Mma<Code::fp16> {
  using Acc = float;
  __device__ __forceinline__ static void run(float (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
    ptx::mma_f16_16816(d, a, b);
  }
};
template <>
struct Mma<Code::bf16> {
  using Acc = float;
  __device__ __forceinline__ static void run(float (&d)[4], const unsigned (&a)[4],
                                             const unsigned (&b)[2]) {
    ptx::mma_bf16_16816(d, a, b);
  }
};

}  // namespace qk::cuda
