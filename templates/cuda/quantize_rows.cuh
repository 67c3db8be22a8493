// The per-token quantize producer: A [M, K] fp16/bf16 -> codes [M, K] (int8, fp8 e4m3/e5m2) and
// one scale per row [M] fp32, for the GEMM built with A_QUANT = producer (gemm.cuh), which copies
// the codes into shared memory as it copies W and applies the scales in its epilogue. The
// alternative to the GEMM's in-CTA pre-pass (operands.cuh, AScales): there every CTA along N
// re-reads its rows for their absmax and re-quantizes its fp16/bf16 A tile each k-step; here A is
// read twice and quantized once in all (docs/cuda.md, "Quantizing A: in the CTA or a producer").
//
// The numerics are the in-CTA path's, from the same functions (quantize.cuh: amax8, quantize8,
// scale_from_amax; numerics §2.1-§2.3, §3.1, §3.4), so the codes and scales are bit for bit
// those the GEMM would have made itself. The max is exact and order-free, so how the absmax is
// reduced does not matter.
//
// Only the quantization: fusing the RMSNorm that precedes a projection needs the norm's weights,
// which a LayerConfig does not carry (left for later).
//
// Config: the GEMM's (gemm.cuh); only INPUT and A_CODE are read. Launch: grid (M), block
// QuantizeRows<C>::THREADS, dynamic shared memory QuantizeRows<C>::SMEM_BYTES
// (runtime/cuda_launch_geometry.*).
#pragma once

#include "cuda/abi.h"
#include "cuda/gemm_layout.cuh"
#include "cuda/ptx.cuh"
#include "cuda/quantize.cuh"

namespace qk::cuda {

/// One CTA per row, 4 warps striding K in pieces of 16 elements (two 128-bit loads in, one
/// 128-bit store out). Why a CTA per row: at the M of the buckets that use the producer (> 16)
/// M CTAs of 128 threads keep every SM busy (a warp per row would leave most SMs idle below a few
/// thousand rows), and a row's 2K bytes stay in L1 between the absmax pass and the quantize pass,
/// so A is read from DRAM once. The absmax is a butterfly shuffle per warp and one barrier to
/// combine the warps' through shared memory.
template <class C>
struct QuantizeRows {
  static constexpr int THREADS = 128;
  static constexpr int WARPS = THREADS / 32;
  static constexpr int PIECE = 16;              ///< elements per thread and step
  static constexpr int SMEM_BYTES = 4 * WARPS;  ///< the warps' partial absmax (fp32)
  static_assert(GemmLayout<C>::A8, "The producer makes 8-bit codes (int8, fp8).");
};

/// @pre args as documented by QkCudaQuantizeArgs (K a multiple of 16, A and the codes 16-byte
/// aligned); gridDim.x == M, blockDim.x == QuantizeRows<C>::THREADS.
/// @post codes[m, 0..K) and scales[m] for m = blockIdx.x; nothing else is written.
template <class C>
__global__ void __launch_bounds__(QuantizeRows<C>::THREADS)
    quantize_rows(const QkCudaQuantizeArgs args) {
  using Q = QuantizeRows<C>;
  const int tid = threadIdx.x;
  const int row = blockIdx.x;
  const int K = args.k;
  const unsigned char* src =
      static_cast<const unsigned char*>(args.a) + 2 * static_cast<long long>(row) * K;
  unsigned char* dst = static_cast<unsigned char*>(args.codes) + static_cast<long long>(row) * K;

  // Pass 1: the row's absmax (numerics §2.1).
  float amax = 0.0f;
  for (int k = Q::PIECE * tid; k < K; k += Q::PIECE * Q::THREADS) {
    amax = detail::amax8<C::INPUT>(amax, ptx::ldg_128(src + 2 * k));
    amax = detail::amax8<C::INPUT>(amax, ptx::ldg_128(src + 2 * k + 16));
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2)
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  float* const partial = reinterpret_cast<float*>(ptx::dynamic_smem());
  if (tid % 32 == 0) partial[tid / 32] = amax;
  __syncthreads();
#pragma unroll
  for (int w = 0; w < Q::WARPS; ++w) amax = fmaxf(amax, partial[w]);

  // numerics §2.2, §2.3: every thread derives the same scale and inverse from the same amax.
  const float scale = detail::scale_from_amax<C::A_CODE>(amax);
  const float inv = __fdiv_rn(1.0f, scale);
  if (tid == 0) args.scales[row] = scale;

  // Pass 2: the codes (numerics §3.1, §3.4), re-reading the row (L1 hits: this CTA just read it).
  for (int k = Q::PIECE * tid; k < K; k += Q::PIECE * Q::THREADS) {
    const uint2 lo = detail::quantize8<C::A_CODE, C::INPUT>(ptx::ldg_128(src + 2 * k), inv);
    const uint2 hi = detail::quantize8<C::A_CODE, C::INPUT>(ptx::ldg_128(src + 2 * k + 16), inv);
    *reinterpret_cast<uint4*>(dst + k) = make_uint4(lo.x, lo.y, hi.x, hi.y);
  }
}

}  // namespace qk::cuda
