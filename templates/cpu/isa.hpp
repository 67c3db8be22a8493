// The vector operations the ISA-generic parts of the CPU kernels use (activation quantization,
// the shared epilogue, the W8A8 tile and its epilogue, the weight-only kernel and its decoders),
// one policy per Isa: Vec<Isa::avx512> works on 16 lanes with mask registers, Vec<Isa::avx2> on 8
// lanes with lane counts. Only the W8A8 and W4A8 inner products differ in substance between the
// two (templates/cpu/w8a8.hpp, w4a8.hpp); the weight-only kernel is written once against these.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/activation.hpp"
#include "cpu/config.hpp"
#include "cpu/vec.hpp"
#include "cpu/vec_avx2.hpp"

namespace qk::cpu {

template <Isa I>
struct Vec;

template <>
struct Vec<Isa::avx512> {
  using F = __m512;        ///< 16 fp32
  using I = __m512i;       ///< 16 int32
  using Mask = __mmask16;  ///< the lanes a partial vector holds
  static constexpr int LANES = 16;

  static Mask first(int64_t count) { return first_lanes(count); }
  static F set1(float x) { return _mm512_set1_ps(x); }
  static F zero() { return _mm512_setzero_ps(); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static I zero_i() { return _mm512_setzero_si512(); }
  static I load_i(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store_i(int32_t* p, I v) { _mm512_storeu_si512(p, v); }
  static I sub_i(I a, I b) { return _mm512_sub_epi32(a, b); }
  static I set1_i(int32_t x) { return _mm512_set1_epi32(x); }
  static I mullo_i(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static F to_float(I v) { return _mm512_cvtepi32_ps(v); }
  /// max(best, |x|) in the lanes where x is finite.
  static F max_finite_abs(F best, F x) {
    x = _mm512_abs_ps(x);
    const Mask finite = _mm512_cmp_ps_mask(x, _mm512_set1_ps(__builtin_inff()), _CMP_LT_OQ);
    return _mm512_mask_max_ps(best, finite, best, x);
  }
  static float reduce_max(F x) { return _mm512_reduce_max_ps(x); }
  template <InputType T>
  static F load_input(const void* row, int64_t index, Mask m) {
    return cpu::load_input<T>(row, index, m);
  }
  /// Activation codes: rne-clamped x + offset (0..255 or -127..127) as bytes, masked.
  static void store_codes(uint8_t* p, F x, int32_t offset, Mask m) {
    const I q = _mm512_add_epi32(round_clamp_to_int(x, 127.0f), _mm512_set1_epi32(offset));
    _mm_mask_storeu_epi8(p, m, _mm512_cvtepi32_epi8(q));
  }
  template <OutputType T>
  static void store_output(void* row, int64_t index, F y, Mask m, float inv_scale) {
    cpu::store_output<T>(row, index, y, m, inv_scale);
  }

  // The weight-only kernel and its decoders (weight_only.hpp, weight_decode.hpp).
  using Cond = __mmask16;  ///< a per-lane condition (an integer comparison's result)
  using Half = __m256i;    ///< LANES 16-bit values (half of an I)
  static I load_bytes(const void* p) { return _mm512_loadu_si512(p); }  ///< LANES * 4 bytes
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store(float* p, F v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static I add_i(I a, I b) { return _mm512_add_epi32(a, b); }
  static I and_i(I a, I b) { return _mm512_and_si512(a, b); }
  static I or_i(I a, I b) { return _mm512_or_si512(a, b); }
  static I xor_i(I a, I b) { return _mm512_xor_si512(a, b); }
  // Shift counts are constants once the callers' loops are unrolled: immediate shifts.
  static I slli_i(I a, int n) { return _mm512_slli_epi32(a, n); }
  static I srli_i(I a, int n) { return _mm512_srli_epi32(a, n); }
  static I srai_i(I a, int n) { return _mm512_srai_epi32(a, n); }
  static F as_float(I v) { return _mm512_castsi512_ps(v); }
  static I as_int(F v) { return _mm512_castps_si512(v); }
  static Cond lt_i(I a, I b) { return _mm512_cmplt_epi32_mask(a, b); }
  static Cond eq_i(I a, I b) { return _mm512_cmpeq_epi32_mask(a, b); }
  static Cond gt_i(I a, I b) { return _mm512_cmpgt_epi32_mask(a, b); }
  /// yes where c holds, else no.
  static F select(Cond c, F yes, F no) { return _mm512_mask_mov_ps(no, c, yes); }
  /// The low (t = 0) or high (t = 1) LANES 16-bit values of v.
  static Half half(I v, int t) {
    return t == 0 ? _mm512_castsi512_si256(v) : _mm512_extracti64x4_epi64(v, 1);
  }
  static F fp16_to_float(Half h) { return _mm512_cvtph_ps(h); }
  /// bf16 is the top half of an fp32.
  static F bf16_to_float(Half h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  template <InputType T>
  static F round_through(F x) {
    return cpu::round_through<T>(x);
  }
};

template <>
struct Vec<Isa::avx2> {
  using F = __m256;   ///< 8 fp32
  using I = __m256i;  ///< 8 int32
  using Mask = int;   ///< the lanes a partial vector holds: its first `Mask`
  static constexpr int LANES = 8;

  static Mask first(int64_t count) { return avx2::first_lanes(count); }
  static F set1(float x) { return _mm256_set1_ps(x); }
  static F zero() { return _mm256_setzero_ps(); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F add(F a, F b) { return _mm256_add_ps(a, b); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load(const float* p, Mask m) { return avx2::load_ps(p, m); }
  static I zero_i() { return _mm256_setzero_si256(); }
  static I load_i(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const I*>(p)); }
  static void store_i(int32_t* p, I v) { _mm256_storeu_si256(reinterpret_cast<I*>(p), v); }
  static I sub_i(I a, I b) { return _mm256_sub_epi32(a, b); }
  static I set1_i(int32_t x) { return _mm256_set1_epi32(x); }
  static I mullo_i(I a, I b) { return _mm256_mullo_epi32(a, b); }
  static F to_float(I v) { return _mm256_cvtepi32_ps(v); }
  static F max_finite_abs(F best, F x) {
    x = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const F finite = _mm256_cmp_ps(x, _mm256_set1_ps(__builtin_inff()), _CMP_LT_OQ);
    return _mm256_max_ps(best, _mm256_and_ps(x, finite));  // non-finite lanes contribute 0
  }
  static float reduce_max(F x) {
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x);
    float best = lanes[0];
    for (float v : lanes) best = v > best ? v : best;
    return best;
  }
  template <InputType T>
  static F load_input(const void* row, int64_t index, Mask m) {
    return avx2::load_input<T>(row, index, m);
  }
  static void store_codes(uint8_t* p, F x, int32_t offset, Mask m) {
    const I q = _mm256_add_epi32(avx2::round_clamp_to_int(x, 127.0f), _mm256_set1_epi32(offset));
    const __m128i bytes =
        offset != 0 ? avx2::narrow_to_bytes<true>(q) : avx2::narrow_to_bytes<false>(q);
    avx2::store_lanes(p, bytes, m, 1);
  }
  template <OutputType T>
  static void store_output(void* row, int64_t index, F y, Mask m, float inv_scale) {
    avx2::store_output<T>(row, index, y, m, inv_scale);
  }

  // The weight-only kernel and its decoders: as Vec<Isa::avx512>'s, lane for lane.
  using Cond = __m256i;  ///< a per-lane condition: all ones where it holds (no mask registers)
  using Half = __m128i;  ///< LANES 16-bit values (half of an I)
  static I load_bytes(const void* p) { return _mm256_loadu_si256(static_cast<const I*>(p)); }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store(float* p, F v, Mask m) { avx2::store_output<OutputType::fp32>(p, 0, v, m, 1); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static I add_i(I a, I b) { return _mm256_add_epi32(a, b); }
  static I and_i(I a, I b) { return _mm256_and_si256(a, b); }
  static I or_i(I a, I b) { return _mm256_or_si256(a, b); }
  static I xor_i(I a, I b) { return _mm256_xor_si256(a, b); }
  static I slli_i(I a, int n) { return _mm256_slli_epi32(a, n); }
  static I srli_i(I a, int n) { return _mm256_srli_epi32(a, n); }
  static I srai_i(I a, int n) { return _mm256_srai_epi32(a, n); }
  static F as_float(I v) { return _mm256_castsi256_ps(v); }
  static I as_int(F v) { return _mm256_castps_si256(v); }
  static Cond lt_i(I a, I b) { return _mm256_cmpgt_epi32(b, a); }
  static Cond eq_i(I a, I b) { return _mm256_cmpeq_epi32(a, b); }
  static Cond gt_i(I a, I b) { return _mm256_cmpgt_epi32(a, b); }
  static F select(Cond c, F yes, F no) { return _mm256_blendv_ps(no, yes, _mm256_castsi256_ps(c)); }
  static Half half(I v, int t) {
    return t == 0 ? _mm256_castsi256_si128(v) : _mm256_extracti128_si256(v, 1);
  }
  static F fp16_to_float(Half h) { return _mm256_cvtph_ps(h); }  // F16C
  static F bf16_to_float(Half h) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
  template <InputType T>
  static F round_through(F x) {
    return avx2::round_through<T>(x);
  }
};

}  // namespace qk::cpu
