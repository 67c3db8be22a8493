#include "bench/activation_quant.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <span>

#include "bench/machine.hpp"
#include "quant/quantize.hpp"

namespace qk::bench {

namespace {

int offset_of(Int8Storage storage) {
  return storage == Int8Storage::u8_offset128 ? 128 : 0;
}

void quantize_row_scalar(const float* x, std::int64_t k, int offset, std::uint8_t* out,
                         float* scale) {
  const float amax = quant::finite_absmax(std::span<const float>(x, static_cast<std::size_t>(k)));
  *scale = quant::symmetric_scale(amax, QuantType::int8);
  const float inv = quant::inverse_scale(*scale);
  for (std::int64_t j = 0; j < k; ++j)
    out[j] = static_cast<std::uint8_t>(quant::quantize_int8(x[j], inv) + offset);
}

__attribute__((target("avx512f,avx512bw"))) void quantize_row_avx512(const float* x, std::int64_t k,
                                                                     int offset, std::uint8_t* out,
                                                                     float* scale) {
  __m512 vmax = _mm512_setzero_ps();
  std::int64_t j = 0;
  for (; j + 16 <= k; j += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + j)));
  float amax = _mm512_reduce_max_ps(vmax);
  for (; j < k; ++j) amax = std::max(amax, std::fabs(x[j]));
  *scale = quant::symmetric_scale(amax, QuantType::int8);
  const float inv = quant::inverse_scale(*scale);

  const __m512 vinv = _mm512_set1_ps(inv);
  const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127);
  const __m512i voffset = _mm512_set1_epi32(offset);
  for (j = 0; j + 16 <= k; j += 16) {
    // One fp32 multiply then round-half-even (MXCSR's default mode, which qk never changes):
    // the reference's rne(x * inv) exactly. |x * inv| <= 127 for finite x, so no overflow.
    __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(x + j), vinv));
    q = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(q, lo), hi), voffset);
    // Truncating narrow: every value is in [-127, 255] and its low byte is the stored code.
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + j), _mm512_cvtepi32_epi8(q));
  }
  for (; j < k; ++j) out[j] = static_cast<std::uint8_t>(quant::quantize_int8(x[j], inv) + offset);
}

__attribute__((target("avx512f"))) void scale_row_avx512(float* y, std::int64_t n, float s) {
  const __m512 vs = _mm512_set1_ps(s);
  std::int64_t j = 0;
  for (; j + 16 <= n; j += 16) _mm512_storeu_ps(y + j, _mm512_mul_ps(_mm512_loadu_ps(y + j), vs));
  for (; j < n; ++j) y[j] *= s;
}

}  // namespace

void quantize_rows_per_token(const float* a, std::int64_t k, std::int64_t row_begin,
                             std::int64_t row_end, Int8Storage storage, std::uint8_t* codes,
                             float* scales) {
  static const bool avx512 = cpu_supports_avx512bw();
  const int offset = offset_of(storage);
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    if (avx512)
      quantize_row_avx512(a + r * k, k, offset, codes + r * k, scales + r);
    else
      quantize_row_scalar(a + r * k, k, offset, codes + r * k, scales + r);
  }
}

void scale_rows(float* y, std::int64_t n, const float* scales, std::int64_t row_begin,
                std::int64_t row_end) {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  for (std::int64_t r = row_begin; r < row_end; ++r) {
    if (avx512) {
      scale_row_avx512(y + r * n, n, scales[r]);
    } else {
      for (std::int64_t j = 0; j < n; ++j) y[r * n + j] *= scales[r];
    }
  }
}

}  // namespace qk::bench
