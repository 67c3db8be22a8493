// AVX-512 building blocks shared by the CPU kernels: masked loads of every input type, the
// quantization and output conversions of docs/numerics.md in vector form.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/config.hpp"

namespace qk::cpu {

/// Fully unrolls the loop that follows (a constant trip count). The loops over a micro-tile's
/// rows and vectors must unroll completely so that every accumulator index is a constant and LLVM
/// keeps the accumulator array in registers. Left to its heuristics (or given lambda-based
/// unrolling, whose large bodies it outlines), clang kept only small tiles in registers; the
/// others stored every accumulator to the stack on each k step and ran at a third of the speed.
#define QK_UNROLL _Pragma("GCC unroll 64")

/// Mask of the first `count` lanes of 16 (count >= 16 gives all lanes).
inline __mmask16 first_lanes(int64_t count) {
  return count >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << count) - 1u);
}

/// 16 activations from element `index` of a row of type T, as fp32; masked-off lanes are 0.
/// fp16 and bf16 convert exactly (every value is an fp32 value).
template <InputType T>
inline __m512 load_input(const void* row, int64_t index, __mmask16 mask) {
  if constexpr (T == InputType::fp32) {
    return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(row) + index);
  } else {
    const __m256i bits = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(row) + index);
    if constexpr (T == InputType::fp16) return _mm512_cvtph_ps(bits);
    // bf16 is the top half of an fp32.
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(bits), 16));
  }
}

/// clamp(rne(x), -limit, limit) as int32 lanes, NaN -> 0 (docs/numerics.md §3.1). The clamp runs
/// in float first: the bounds are integers, so clamping before rounding gives the same result,
/// and ±Inf saturate. NaN is zeroed explicitly because vmaxps would turn it into the bound.
inline __m512i round_clamp_to_int(__m512 x, float limit) {
  const __mmask16 ordered = _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q);
  x = _mm512_maskz_mov_ps(ordered, x);
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-limit)), _mm512_set1_ps(limit));
  return _mm512_cvt_roundps_epi32(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

/// fp32 -> bf16 bits, round to nearest even; NaN -> 0x7FFF (docs/numerics.md §10). Done with
/// integer arithmetic because vcvtneps2bf16 keeps NaN payloads.
inline __m256i to_bf16(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  rounded = _mm512_mask_mov_epi32(rounded, nan, _mm512_set1_epi32(0x7FFF));
  return _mm512_cvtepi32_epi16(rounded);
}

/// fp32 lanes rounded to fp16 or bf16 (round to nearest even, overflow to ±Inf) and widened back
/// to fp32: round_to(T, x) of docs/numerics.md §10 for finite x, with AVX-512F/BW only. bf16
/// rounds with integer arithmetic, which keeps subnormals (vcvtneps2bf16 would flush them and
/// needs avx512bf16). NaN lanes are not canonicalized: callers pass finite values.
template <InputType T>
inline __m512 round_through(__m512 x) {
  static_assert(T != InputType::fp32, "round_through rounds to a 16-bit type.");
  if constexpr (T == InputType::fp16) {
    return _mm512_cvtph_ps(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded =
        _mm512_add_epi32(bits, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
    return _mm512_castsi512_ps(_mm512_and_si512(rounded, _mm512_set1_epi32(int(0xFFFF0000u))));
  }
}

/// Stores 16 outputs of type T at element `index` of a row, masked.
template <OutputType T>
inline void store_output(void* row, int64_t index, __m512 y, __mmask16 mask, float inv_scale) {
  if constexpr (T == OutputType::fp32) {
    _mm512_mask_storeu_ps(static_cast<float*>(row) + index, mask, y);
  } else if constexpr (T == OutputType::fp16) {
    const __m256i h = _mm512_cvtps_ph(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(static_cast<uint16_t*>(row) + index, mask, h);
  } else if constexpr (T == OutputType::bf16) {
    _mm256_mask_storeu_epi16(static_cast<uint16_t*>(row) + index, mask, to_bf16(y));
  } else {  // int8 requantization (docs/numerics.md §7.3)
    const __m512i q = round_clamp_to_int(_mm512_mul_ps(y, _mm512_set1_ps(inv_scale)), 127.0f);
    _mm_mask_storeu_epi8(static_cast<int8_t*>(row) + index, mask, _mm512_cvtepi32_epi8(q));
  }
}

}  // namespace qk::cpu
