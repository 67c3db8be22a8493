// AVX2 (x86-64-v3) building blocks of the CPU kernels: the 8-lane counterparts of vec.hpp's
// AVX-512 ones, with the same results lane for lane (docs/numerics.md §3.1, §7.3, §10). AVX2 has
// no mask registers: a partial vector is a lane count, its loads and stores go through a small
// buffer (only the last vector of a row or of the output columns is partial).
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/config.hpp"

namespace qk::cpu::avx2 {

/// The first `count` lanes of 8 (count >= 8 gives all lanes).
inline int first_lanes(int64_t count) {
  return count >= 8 ? 8 : static_cast<int>(count);
}

/// 8 fp32 from p, lanes past `lanes` are 0 (and their memory is not read).
inline __m256 load_ps(const float* p, int lanes) {
  if (lanes == 8) return _mm256_loadu_ps(p);
  alignas(32) float buffer[8] = {};
  __builtin_memcpy(buffer, p, static_cast<unsigned>(lanes) * 4);
  return _mm256_load_ps(buffer);
}

/// 8 activations from element `index` of a row of type T, as fp32; lanes past `lanes` are 0.
/// fp16 (F16C) and bf16 convert exactly.
template <InputType T>
inline __m256 load_input(const void* row, int64_t index, int lanes) {
  if constexpr (T == InputType::fp32) {
    return load_ps(static_cast<const float*>(row) + index, lanes);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(row) + index;
    __m128i bits;
    if (lanes == 8) {
      bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    } else {
      alignas(16) uint16_t buffer[8] = {};
      __builtin_memcpy(buffer, p, static_cast<unsigned>(lanes) * 2);
      bits = _mm_load_si128(reinterpret_cast<const __m128i*>(buffer));
    }
    if constexpr (T == InputType::fp16) return _mm256_cvtph_ps(bits);
    // bf16 is the top half of an fp32.
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(bits), 16));
  }
}

/// clamp(rne(x), -limit, limit) as int32 lanes, NaN -> 0 (docs/numerics.md §3.1), as vec.hpp's:
/// NaN is zeroed first (vmaxps would turn it into the bound), the clamp runs in float (integer
/// bounds, so the same result; ±Inf saturate), the rounding is explicit (not MXCSR's mode) and the
/// conversion of the then integral value exact.
inline __m256i round_clamp_to_int(__m256 x, float limit) {
  x = _mm256_and_ps(x, _mm256_cmp_ps(x, x, _CMP_ORD_Q));
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-limit)), _mm256_set1_ps(limit));
  return _mm256_cvttps_epi32(_mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

/// fp32 -> bf16 bits, round to nearest even; NaN -> 0x7FFF (docs/numerics.md §10).
inline __m128i to_bf16(__m256 x) {
  const __m256i bits = _mm256_castps_si256(x);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
  const __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  rounded = _mm256_blendv_epi8(rounded, _mm256_set1_epi32(0x7FFF), nan);
  // Every lane is in 0..0xFFFF, so the unsigned saturation of vpackusdw keeps it.
  return _mm_packus_epi32(_mm256_castsi256_si128(rounded), _mm256_extracti128_si256(rounded, 1));
}

/// fp32 lanes rounded to fp16 or bf16 (round to nearest even, overflow to ±Inf) and widened back,
/// as vec.hpp's round_through: fp16 through F16C's vcvtps2ph with an explicit rounding mode
/// (fp16 subnormals in hardware), bf16 with integer arithmetic (keeps subnormals). NaN lanes are
/// not canonicalized: callers pass finite values.
template <InputType T>
inline __m256 round_through(__m256 x) {
  static_assert(T != InputType::fp32, "round_through rounds to a 16-bit type.");
  if constexpr (T == InputType::fp16) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    const __m256i bits = _mm256_castps_si256(x);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i rounded =
        _mm256_add_epi32(bits, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF)));
    return _mm256_castsi256_ps(_mm256_and_si256(rounded, _mm256_set1_epi32(int(0xFFFF0000u))));
  }
}

/// int32 lanes in -128..255 as bytes (`unsigned_bytes`: 0..255, else -128..127), the low 8 bytes.
template <bool unsigned_bytes>
inline __m128i narrow_to_bytes(__m256i q) {
  const __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
  return unsigned_bytes ? _mm_packus_epi16(words, words) : _mm_packs_epi16(words, words);
}

/// Stores the first `lanes` of `bytes_per_lane`-byte lanes of v at p.
inline void store_lanes(void* p, __m128i v, int lanes, int bytes_per_lane) {
  alignas(16) uint8_t buffer[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(buffer), v);
  __builtin_memcpy(p, buffer, static_cast<unsigned>(lanes * bytes_per_lane));
}

/// Stores 8 outputs of type T at element `index` of a row, the first `lanes` of them.
template <OutputType T>
inline void store_output(void* row, int64_t index, __m256 y, int lanes, float inv_scale) {
  if constexpr (T == OutputType::fp32) {
    float* p = static_cast<float*>(row) + index;
    if (lanes == 8) return _mm256_storeu_ps(p, y);
    alignas(32) float buffer[8];
    _mm256_store_ps(buffer, y);
    __builtin_memcpy(p, buffer, static_cast<unsigned>(lanes) * 4);
  } else if constexpr (T == OutputType::fp16) {
    const __m128i h = _mm256_cvtps_ph(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    store_lanes(static_cast<uint16_t*>(row) + index, h, lanes, 2);
  } else if constexpr (T == OutputType::bf16) {
    store_lanes(static_cast<uint16_t*>(row) + index, to_bf16(y), lanes, 2);
  } else {  // int8 requantization (docs/numerics.md §7.3): codes in -127..127, packed exactly
    const __m256i q = round_clamp_to_int(_mm256_mul_ps(y, _mm256_set1_ps(inv_scale)), 127.0f);
    store_lanes(static_cast<int8_t*>(row) + index, narrow_to_bytes<false>(q), lanes, 1);
  }
}

}  // namespace qk::cpu::avx2
