// The epilogue's activation functions (docs/numerics.md §7.2) on 16 lanes (AVX-512) or 8 (AVX2).
#pragma once

#include <immintrin.h>
#include <math.h>

#include "cpu/config.hpp"

namespace qk::cpu {

/// GELU, tanh-GELU and SiLU are evaluated lane by lane in double, exactly as the reference
/// defines them: the transcendental part costs about as much as a K = 4096 dot product per
/// output, which only matters for the few layers that have these epilogues.
template <Act A>
inline double activation_scalar(double x) {
  if constexpr (A == Act::gelu) return 0.5 * x * (1.0 + erf(x * 0.70710678118654752440));
  if constexpr (A == Act::gelu_tanh)
    return 0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x)));
  if constexpr (A == Act::silu) return x / (1.0 + exp(-x));
  return x;
}

template <Act A>
inline __m512 apply_activation(__m512 x) {
  if constexpr (A == Act::none) {
    return x;
  } else if constexpr (A == Act::relu) {
    return _mm512_max_ps(x, _mm512_setzero_ps());  // NaN -> 0: vmaxps returns the 2nd operand
  } else {
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, x);
    for (float& v : lanes) v = static_cast<float>(activation_scalar<A>(v));
    return _mm512_load_ps(lanes);
  }
}

template <Act A>
inline __m256 apply_activation(__m256 x) {
  if constexpr (A == Act::none) {
    return x;
  } else if constexpr (A == Act::relu) {
    return _mm256_max_ps(x, _mm256_setzero_ps());  // NaN -> 0, as above
  } else {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x);
    for (float& v : lanes) v = static_cast<float>(activation_scalar<A>(v));
    return _mm256_load_ps(lanes);
  }
}

}  // namespace qk::cpu
