// The epilogue's element operations (docs/numerics.md §7), shared by every GEMM family:
// the activation function after the bias (§7.2), the output conversion (§7.3: fp16/bf16 rounding
// or int8 requantization) and the store of an accumulator fragment's two adjacent columns.
#pragma once

#include "cuda/gemm_layout.cuh"
#include "cuda/quantize.cuh"

namespace qk::cuda::detail {

/// numerics §7.2. relu is fmaxf(x, 0), which returns the non-NaN operand: NaN -> 0. GELU,
/// tanh-GELU and SiLU are evaluated in double and rounded once to fp32, the reference's
/// definition (and the cpu target's, templates/cpu/activation.hpp): erf, tanh and exp are CUDA's
/// double-precision math functions, built into NVRTC, so no header is needed. Their cost (tens
/// of DFMA per output) is small beside a K-long dot product, and only these layers pay it.
template <Act A>
__device__ __forceinline__ float activation(float x) {
  if constexpr (A == Act::none) {
    return x;
  } else if constexpr (A == Act::relu) {
    return fmaxf(x, 0.0f);
  } else {
    const double d = x;
    double r;
    if constexpr (A == Act::gelu)
      r = 0.5 * d * (1.0 + erf(d * 0.70710678118654752440));  // 1/√2
    else if constexpr (A == Act::gelu_tanh)
      r = 0.5 * d * (1.0 + tanh(0.79788456080286535588 * (d + 0.044715 * d * d * d)));  // √(2/π)
    else
      r = d / (1.0 + exp(-d));
    return static_cast<float>(r);  // cvt.rn.f32.f64: the one rounding to fp32
  }
}

/// Bytes per element of Y.
__device__ __forceinline__ constexpr int output_bytes(OutputType t) {
  return t == OutputType::int8 ? 1 : 2;
}

/// numerics §7.3: y's bits in T, in the low output_bytes(T) bytes. fp16/bf16 round to nearest
/// even; int8 is clamp(rne(y · out_inv), −127, 127) with NaN -> 0 (§3.1), out_inv being
/// 1 / output_scale (one IEEE division, made by the host once per call).
template <OutputType T>
__device__ __forceinline__ unsigned convert_output(float y, float out_inv) {
  if constexpr (T == OutputType::int8)
    return quantize_s8(y, out_inv);
  else if constexpr (T == OutputType::fp16)
    return ptx::f32_to_f16(y);
  else
    return ptx::f32_to_bf16(y);
}

template <int BYTES>
struct Unsigned;
template <>
struct Unsigned<1> {
  using type = unsigned char;
};
template <>
struct Unsigned<2> {
  using type = unsigned short;
};
template <>
struct Unsigned<4> {
  using type = unsigned;
};

/// Stores the converted elements (row, col) and (row, col + 1) of Y[M, N] (row-major), those
/// that lie inside N. `col` is even (an accumulator fragment's column pair), so the pair is
/// aligned to its own size exactly when N is even: then one store of both, else one per element.
template <OutputType T>
__device__ __forceinline__ void store_pair(void* y, int row, int col, int N, unsigned v0,
                                           unsigned v1) {
  constexpr int BYTES = output_bytes(T);
  using Elem = typename Unsigned<BYTES>::type;
  using Pair = typename Unsigned<2 * BYTES>::type;
  Elem* dst = static_cast<Elem*>(y) + (static_cast<long long>(row) * N + col);
  if (col + 1 < N && N % 2 == 0) {
    *reinterpret_cast<Pair*>(dst) = static_cast<Pair>(v0 | (v1 << (8 * BYTES)));
  } else {
    if (col < N) dst[0] = static_cast<Elem>(v0);
    if (col + 1 < N) dst[1] = static_cast<Elem>(v1);
  }
}

}  // namespace qk::cuda::detail
