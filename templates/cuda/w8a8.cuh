// W8A8 on the tensor cores: Y = epilogue(quantize(A) · Wᵀ) with A fp16/bf16 quantized to int8
// inside the kernel, W int8, int32 accumulation with mma.sync m16n8k32 (IMMA), sm_80 or newer.
// docs/cuda.md describes the design; docs/numerics.md §3.1, §6.1, §6.2 and §7 the arithmetic.
//
// One kernel template over one config type. codegen renders a struct with these members (all
// of them, nothing else varies between instances) and instantiates w8a8_gemm<Config>:
//
//   static constexpr qk::cuda::InputType INPUT;    // dtype of A: fp16 or bf16
//   static constexpr qk::cuda::Scaling SCALING;    // static per-tensor or dynamic per-token
//   static constexpr bool BIAS;                    // add bias[n] (fp32) after the dequant
//   static constexpr qk::cuda::OutputType OUTPUT;  // dtype of Y: fp16 or bf16
//   static constexpr int BLOCK_M, BLOCK_N;         // the CTA's tile of Y, in elements
//   static constexpr int BLOCK_K;                  // K per pipeline stage, a multiple of 32
//   static constexpr int WARPS_M, WARPS_N;         // the CTA's warps, as a WARPS_M x WARPS_N grid
//   static constexpr int STAGES;                   // cp.async pipeline depth, >= 2
//   static constexpr int MIN_BLOCKS;               // CTAs per SM the registers must allow
//
// Grid: (ceil(N / BLOCK_N), ceil(M / BLOCK_M)); block: 32 * WARPS_M * WARPS_N threads; dynamic
// shared memory: w8a8_smem_bytes<Config>() (above 48 KB the launcher opts in with
// cudaFuncAttributeMaxDynamicSharedMemorySize).
#pragma once

#include "cuda/abi.h"
#include "cuda/ptx.cuh"
#include "cuda/w8a8_layout.cuh"

namespace qk::cuda {

namespace detail {

template <InputType T>
__device__ __forceinline__ float to_f32(unsigned short bits) {
  if constexpr (T == InputType::fp16)
    return ptx::f16_to_f32(bits);
  else
    return ptx::bf16_to_f32(bits);
}

template <OutputType T>
__device__ __forceinline__ unsigned short from_f32(float v) {
  if constexpr (T == OutputType::fp16)
    return ptx::f32_to_f16(v);
  else
    return ptx::f32_to_bf16(v);
}

/// numerics §3.1: clamp(rne(x · inv), −127, 127), NaN → 0, ±Inf → ±127. The multiply is one
/// IEEE fp32 multiply (__fmul_rn: never contracted into anything).
__device__ __forceinline__ int quantize_s8(float x, float inv) {
  const float v = __fmul_rn(x, inv);
  if (v != v) return 0;  // cvt.rni would also give 0; the contract makes the case explicit
  const int q = __float2int_rn(v);
  return q < -127 ? -127 : (q > 127 ? 127 : q);
}

/// Four int8 codes packed little-endian into one 32-bit register (one mma operand word).
__device__ __forceinline__ unsigned pack_s8x4(int a, int b, int c, int d) {
  return (a & 0xff) | ((b & 0xff) << 8) | ((c & 0xff) << 16) | (static_cast<unsigned>(d) << 24);
}

/// numerics §2: max(amax / 127, FLT_MIN) over the finite elements; amax of none is 0.
__device__ __forceinline__ float scale_from_amax(float amax) {
  return fmaxf(__fdiv_rn(amax, 127.0f), 0x1p-126f);
}

/// |x| if finite, else 0 (NaN fails the compare; ±Inf exceed the largest finite fp32).
__device__ __forceinline__ float finite_abs(float x) {
  const float a = fabsf(x);
  return a <= 0x1.fffffep127f ? a : 0.0f;
}

}  // namespace detail

/// @pre args as documented by QkCudaW8A8Args; blockDim.x == W8A8Layout<C>::THREADS; the grid and
/// dynamic shared memory as in the header comment.
/// @post Y[m, n] for every m < M, n < N of this CTA's tile; nothing outside [M, N] is written and
/// nothing outside A, W, the scales and the bias is read.
template <class C>
__global__ void __launch_bounds__(W8A8Layout<C>::THREADS, C::MIN_BLOCKS)
    w8a8_gemm(const QkCudaW8A8Args args) {
  using L = W8A8Layout<C>;
  unsigned char* const smem = ptx::dynamic_smem();
  const int tid = threadIdx.x;
  const int lane = tid % 32;
  const int warp = tid / 32;
  const int warp_m = L::warp_row0(warp);  // the warp's first row within the tile
  const int warp_n = L::warp_col0(warp);  // its first column
  const int m0 = blockIdx.y * C::BLOCK_M;
  const int n0 = blockIdx.x * C::BLOCK_N;
  const int M = args.m, N = args.n, K = args.k;
  const int k_tiles = (K + C::BLOCK_K - 1) / C::BLOCK_K;
  const unsigned char* a_bytes = static_cast<const unsigned char*>(args.a);
  const unsigned smem_base = ptx::smem_addr(smem);

  // Issues the copies of k-tile `kt` into stage `stage`. Rows past M or N and columns past K
  // are zero-filled (src_bytes 0, the source clamped to the buffer's start): zeros quantize to
  // code 0 and add nothing to the sums.
  auto load_stage = [&](int stage, int kt) {
    const int k0 = kt * C::BLOCK_K;
    const unsigned a_dst = smem_base + stage * (L::A16_STAGE + L::W_STAGE);
    const unsigned w_dst = a_dst + L::A16_STAGE;
#pragma unroll
    for (int i = 0; i < L::A_CHUNKS / L::THREADS; ++i) {
      const int chunk = tid + i * L::THREADS;
      const int r = L::a_chunk_row(chunk), c = L::a_chunk_k(chunk);
      const int gm = m0 + r, gk = k0 + c;
      const bool in = gm < M && gk < K;  // K % 16 == 0, so gk < K means all 8 halves are in
      const void* src = in ? a_bytes + 2 * (static_cast<long long>(gm) * K + gk) : args.a;
      ptx::cp_async_16(a_dst + r * L::A16_STRIDE + 2 * c, src, in ? 16 : 0);
    }
#pragma unroll
    for (int i = 0; i < L::W_CHUNKS / L::THREADS; ++i) {
      const int chunk = tid + i * L::THREADS;
      const int r = L::w_chunk_row(chunk), c = L::w_chunk_k(chunk);
      const int gn = n0 + r, gk = k0 + c;
      const bool in = gn < N && gk < K;
      const void* src = in ? args.w + static_cast<long long>(gn) * K + gk : args.w;
      ptx::cp_async_16(w_dst + r * L::I8_STRIDE + c, src, in ? 16 : 0);
    }
  };

  // The prologue: STAGES - 1 k-tiles in flight before the first mma. A group is committed even
  // when empty so that wait_group's count stays in step with the k-tiles.
#pragma unroll
  for (int s = 0; s < C::STAGES - 1; ++s) {
    if (s < k_tiles) load_stage(s, s);
    ptx::cp_async_commit();
  }

  float* row_scale = reinterpret_cast<float*>(smem + L::SCALE_OFFSET);  // dynamic: [BLOCK_M]
  float* row_inv = row_scale + C::BLOCK_M;                              // dynamic: [BLOCK_M]
  float static_scale = 0.0f, static_inv = 0.0f;
  if constexpr (C::SCALING == Scaling::static_per_tensor) {
    static_scale = *args.a_scale;
    static_inv = __fdiv_rn(1.0f, static_scale);  // numerics §2.3: one IEEE division
  } else {
    // The per-token pre-pass, while the prologue's copies fly: each warp takes rows of the
    // tile, its lanes stride over K with 128-bit loads, a butterfly shuffle reduces the absmax.
    for (int r = warp; r < C::BLOCK_M; r += L::THREADS / 32) {
      const int gm = m0 + r;
      float amax = 0.0f;
      if (gm < M) {
        const unsigned char* row = a_bytes + 2 * static_cast<long long>(gm) * K;
        for (int k = 8 * lane; k < K; k += 8 * 32) {
          const uint4 v = ptx::ldg_128(row + 2 * k);
          const unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            amax = fmaxf(amax, detail::finite_abs(detail::to_f32<C::INPUT>(words[j] & 0xffff)));
            amax = fmaxf(amax, detail::finite_abs(detail::to_f32<C::INPUT>(words[j] >> 16)));
          }
        }
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2)
        amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
      if (lane == 0) {
        const float scale = detail::scale_from_amax(amax);
        row_scale[r] = scale;
        row_inv[r] = __fdiv_rn(1.0f, scale);
      }
    }
  }

  int acc[L::MMA_M][L::MMA_N][4];
#pragma unroll
  for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
    for (int j = 0; j < L::MMA_N; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = 0;

  unsigned char* a8 = smem + L::A8_OFFSET;
  const unsigned a8_base = smem_base + L::A8_OFFSET;
  for (int kt = 0; kt < k_tiles; ++kt) {
    const int stage = kt % C::STAGES;
    ptx::cp_async_wait<C::STAGES - 2>();  // k-tile kt has landed (for this thread's copies)...
    __syncthreads();  // ...and for everyone's; every warp is done with k-tile kt - 1

    // Quantize the stage's A tile into the int8 tile, 8 elements (16 bytes in, 8 out) a step.
    const unsigned char* a16 = smem + stage * (L::A16_STAGE + L::W_STAGE);
#pragma unroll
    for (int i = 0; i < L::A_CHUNKS / L::THREADS; ++i) {
      const int chunk = tid + i * L::THREADS;
      const int r = L::a_chunk_row(chunk), c = L::a_chunk_k(chunk);
      const uint4 v = *reinterpret_cast<const uint4*>(a16 + r * L::A16_STRIDE + 2 * c);
      float inv;
      if constexpr (C::SCALING == Scaling::static_per_tensor)
        inv = static_inv;
      else
        inv = row_inv[r];
      const unsigned words[4] = {v.x, v.y, v.z, v.w};
      int q[8];
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        q[2 * j] = detail::quantize_s8(detail::to_f32<C::INPUT>(words[j] & 0xffff), inv);
        q[2 * j + 1] = detail::quantize_s8(detail::to_f32<C::INPUT>(words[j] >> 16), inv);
      }
      *reinterpret_cast<uint2*>(a8 + r * L::I8_STRIDE + c) = make_uint2(
          detail::pack_s8x4(q[0], q[1], q[2], q[3]), detail::pack_s8x4(q[4], q[5], q[6], q[7]));
    }
    __syncthreads();

    // Refill the stage consumed in iteration kt - 1 (every warp passed the barrier above).
    if (kt + C::STAGES - 1 < k_tiles)
      load_stage((kt + C::STAGES - 1) % C::STAGES, kt + C::STAGES - 1);
    ptx::cp_async_commit();

    const unsigned w_base = smem_base + stage * (L::A16_STAGE + L::W_STAGE) + L::A16_STAGE;
#pragma unroll
    for (int kk = 0; kk < C::BLOCK_K; kk += 32) {
      unsigned a_frag[L::MMA_M][4];
      unsigned b_frag[L::MMA_N][2];
#pragma unroll
      for (int i = 0; i < L::MMA_M; ++i) {
        ptx::ldmatrix_x4(a_frag[i], a8_base + L::a_frag_row(warp_m, i, lane) * L::I8_STRIDE +
                                        L::a_frag_k(kk, lane));
      }
#pragma unroll
      for (int p = 0; p < L::MMA_N / 2; ++p) {
        unsigned r[4];
        ptx::ldmatrix_x4(
            r, w_base + L::w_frag_row(warp_n, p, lane) * L::I8_STRIDE + L::w_frag_k(kk, lane));
        b_frag[2 * p][0] = r[0];
        b_frag[2 * p][1] = r[1];
        b_frag[2 * p + 1][0] = r[2];
        b_frag[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < L::MMA_M; ++i)
#pragma unroll
        for (int n = 0; n < L::MMA_N; ++n) ptx::mma_s8_16832(acc[i][n], a_frag[i], b_frag[n]);
    }
  }
  ptx::cp_async_wait<0>();

  // Epilogue, numerics §6.2 and §7: y = convert((float(acc) · w_scale[n]) · a_scale[m] + bias[n]),
  // each operation rounded on its own (__fmul_rn/__fadd_rn are never contracted into an FMA).
  unsigned short* y = static_cast<unsigned short*>(args.y);
#pragma unroll
  for (int n = 0; n < L::MMA_N; ++n) {
    const int col = n0 + warp_n + 8 * n + L::acc_col(0, lane);  // and col + 1: elements 2h + e
    float ws[2], bias[2];
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const bool in = col + e < N;
      ws[e] = in ? args.w_scale[col + e] : 0.0f;
      bias[e] = C::BIAS && in ? args.bias[col + e] : 0.0f;
    }
#pragma unroll
    for (int i = 0; i < L::MMA_M; ++i) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = warp_m + 16 * i + L::acc_row(2 * h, lane);
        const int row = m0 + r;
        if (row >= M) continue;
        float as;
        if constexpr (C::SCALING == Scaling::static_per_tensor)
          as = static_scale;
        else
          as = row_scale[r];
        unsigned short out[2];
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          float v = __fmul_rn(__fmul_rn(static_cast<float>(acc[i][n][2 * h + e]), ws[e]), as);
          if constexpr (C::BIAS) v = __fadd_rn(v, bias[e]);
          out[e] = detail::from_f32<C::OUTPUT>(v);
        }
        unsigned short* dst = y + static_cast<long long>(row) * N + col;
        if (col + 1 < N && N % 2 == 0) {  // both in, and 4-byte aligned: one 32-bit store
          *reinterpret_cast<unsigned*>(dst) = out[0] | (static_cast<unsigned>(out[1]) << 16);
        } else {
          if (col < N) dst[0] = out[0];
          if (col + 1 < N) dst[1] = out[1];
        }
      }
    }
  }
}

}  // namespace qk::cuda
