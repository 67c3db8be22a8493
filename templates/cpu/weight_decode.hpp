// The weight decoders of the weight-only kernel (weight_only.hpp): one policy per stored weight
// type, chosen by the config's `weight`. A decoder knows its packed layout (how many k one 64-byte
// block of a 16-column panel holds) and turns weight k0 + t of the block's 16 columns into the
// value the kernel multiplies, in fp32 lanes:
//   int8, int4, fp8: w16 = round_to(activation type, value * scale)   (docs/numerics.md §4, §6.3)
//   fp16, bf16, fp32 (the float baselines, §6.5): the stored value itself, widened exactly.
//
// Packed layouts (quant/pack_cpu.hpp), all 16-column panels, so one 64-byte load feeds 16 columns:
//   int8, fp8: 4 k per 64 bytes, byte j * 4 + t of block q is w(16p + j, 4q + t). Lane j's int32
//     holds 4 consecutive k; shifts extract byte t.
//   int4: 8 k per 64 bytes, byte j * 4 + t of block q holds code(16p + j, 8q + t) in its low
//     nibble and code(16p + j, 8q + 4 + t) in its high nibble: a shift and a mask per k.
//   fp16, bf16: 2 k per 64 bytes, k-major: bytes [32 t, 32 t + 32) of block q are the 16 columns'
//     weights at k = 2q + t (one 256-bit half, which vcvtph2ps or a widening shift reads as is).
//   fp32: 1 k per 64 bytes, the 16 columns' weights at that k.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "cpu/vec.hpp"

namespace qk::cpu {

/// Declared for every weight type; the specializations below define it.
template <WeightType W, InputType A>
struct WeightDecoder;

/// int8 (W8A16) and int4 (W4A16): float(code - zero) * scale, rounded to the activation type.
template <WeightType W, InputType A>
requires(W == WeightType::int8 || W == WeightType::int4) struct WeightDecoder<W, A> {
  static constexpr int K_STEP = W == WeightType::int8 ? 4 : 8;  ///< k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = W == WeightType::int8 ? 16 : 8;
  static_assert(A != InputType::fp32, "Integer weights are dequantized to fp16 or bf16.");

  /// One scale group's parameters of 16 columns.
  struct Params {
    __m512 scale;
    __m512i zero;
  };
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs* args, int64_t g,
                                                    int64_t col) {
    const int64_t at = g * ((args->n + 15) / 16 * 16) + col;  // [groups][n_padded]
    return {_mm512_loadu_ps(args->w_scales + at), W == WeightType::int4
                                                      ? _mm512_loadu_si512(args->w_zero_points + at)
                                                      : _mm512_setzero_si512()};
  }

  /// t is a constant once the caller's loop is unrolled, so every shift is an immediate.
  __attribute__((always_inline)) static __m512 decode(__m512i packed, const Params& p, int t) {
    __m512i value;
    if constexpr (W == WeightType::int8) {
      // Byte t of each lane to the top, then an arithmetic shift back: the signed int8.
      value = _mm512_srai_epi32(_mm512_slli_epi32(packed, 24 - 8 * t), 24);
    } else {
      // Low nibbles hold k0..k0+3, high nibbles k0+4..k0+7 (byte t % 4 of the lane).
      value = _mm512_and_si512(_mm512_srli_epi32(packed, 8 * (t % 4) + 4 * (t / 4)),
                               _mm512_set1_epi32(0x0F));
      value = _mm512_sub_epi32(value, p.zero);  // code - zero: exact
    }
    return round_through<A>(_mm512_mul_ps(_mm512_cvtepi32_ps(value), p.scale));
  }
};

/// fp8 E4M3 and E5M2 (WFP8A16): fp8_to_float(code) * scale, rounded to the activation type.
/// The code is decoded arithmetically, bit-exact with quant::fp8_to_float for all 256 codes
/// (tests/templates/weight_decode_test.cpp): a normal code's exponent and mantissa are moved into
/// an fp32's fields and the exponent rebased by integer addition; a subnormal code (exponent 0) is
/// its mantissa times the smallest subnormal, float(m) * 2^(1 - bias - mantissa bits), which needs
/// no fp32 subnormal (so MXCSR's DAZ cannot change it); NaN and Inf codes are set by mask.
template <WeightType W, InputType A>
requires(W == WeightType::fp8_e4m3 || W == WeightType::fp8_e5m2) struct WeightDecoder<W, A> {
  static constexpr int K_STEP = 4;  ///< the int8 layout: 4 k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = 16;
  static_assert(A != InputType::fp32, "fp8 weights are dequantized to fp16 or bf16.");

  static constexpr bool E4M3 = W == WeightType::fp8_e4m3;
  static constexpr int MANTISSA = E4M3 ? 3 : 2;  ///< mantissa bits
  static constexpr int BIAS = E4M3 ? 7 : 15;     ///< exponent bias
  /// The value of mantissa 1 with exponent 0: 2^-9 (E4M3), 2^-16 (E5M2).
  static constexpr float SUBNORMAL_STEP = E4M3 ? 0x1p-9f : 0x1p-16f;
  /// Magnitudes (code & 0x7F) from which the exponent field is all ones: E4M3 has only NaN there
  /// (S.1111.111; 0x78..0x7E are finite), E5M2 Inf (0x7C) and NaN (0x7D..0x7F).
  static constexpr int SPECIAL = E4M3 ? 0x7F : 0x7C;

  struct Params {
    __m512 scale;
  };
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs* args, int64_t g,
                                                    int64_t col) {
    return {_mm512_loadu_ps(args->w_scales + g * ((args->n + 15) / 16 * 16) + col)};
  }

  /// fp8_to_float of byte t of each lane, exactly (NaN codes give the quiet NaN 0x7FC00000 with
  /// the code's sign; any NaN is the contract's NaN once scaled, and it stays NaN through
  /// round_through, whose bf16 rounding would carry a payload of all ones into the sign).
  __attribute__((always_inline)) static __m512 decode_code(__m512i packed, int t) {
    const __m512i code = _mm512_srli_epi32(packed, 8 * t);  // byte t in bits 0..7
    const __m512i magnitude = _mm512_and_si512(code, _mm512_set1_epi32(0x7F));
    const __m512i sign = _mm512_slli_epi32(_mm512_and_si512(code, _mm512_set1_epi32(0x80)), 24);
    // Exponent and mantissa at the top of an fp32's fields; + (127 - BIAS) in the exponent field.
    __m512 value = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_slli_epi32(magnitude, 23 - MANTISSA),
                                                        _mm512_set1_epi32((127 - BIAS) << 23)));
    const __mmask16 subnormal =
        _mm512_cmplt_epi32_mask(magnitude, _mm512_set1_epi32(1 << MANTISSA));
    value = _mm512_mask_mul_ps(value, subnormal, _mm512_cvtepi32_ps(magnitude),
                               _mm512_set1_ps(SUBNORMAL_STEP));  // exact: m < 8, a power of two
    if constexpr (E4M3) {
      value = _mm512_mask_mov_ps(value, _mm512_cmpeq_epi32_mask(magnitude, _mm512_set1_epi32(0x7F)),
                                 _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
    } else {
      value =
          _mm512_mask_mov_ps(value, _mm512_cmpeq_epi32_mask(magnitude, _mm512_set1_epi32(SPECIAL)),
                             _mm512_castsi512_ps(_mm512_set1_epi32(0x7F800000)));  // Inf
      value =
          _mm512_mask_mov_ps(value, _mm512_cmpgt_epi32_mask(magnitude, _mm512_set1_epi32(SPECIAL)),
                             _mm512_castsi512_ps(_mm512_set1_epi32(0x7FC00000)));
    }
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(value), sign));
  }

  __attribute__((always_inline)) static __m512 decode(__m512i packed, const Params& p, int t) {
    return round_through<A>(_mm512_mul_ps(decode_code(packed, t), p.scale));
  }
};

/// fp16, bf16, fp32 (the float baselines): the stored weight, widened exactly; no scales.
template <WeightType W, InputType A>
requires(W == WeightType::fp16 || W == WeightType::bf16 ||
         W == WeightType::fp32) struct WeightDecoder<W, A> {
  static constexpr int K_STEP = W == WeightType::fp32 ? 1 : 2;  ///< k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = W == WeightType::fp32 ? 64 : 32;
  static_assert(W == WeightType::fp16   ? A == InputType::fp16
                : W == WeightType::bf16 ? A == InputType::bf16
                                        : A == InputType::fp32,
                "A float baseline's activations (input) have the weights' type.");

  struct Params {};
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs*, int64_t, int64_t) {
    return {};
  }

  __attribute__((always_inline)) static __m512 decode(__m512i packed, const Params&, int t) {
    if constexpr (W == WeightType::fp32) {
      return _mm512_castsi512_ps(packed);
    } else {
      const __m256i half =
          t == 0 ? _mm512_castsi512_si256(packed) : _mm512_extracti64x4_epi64(packed, 1);
      if constexpr (W == WeightType::fp16) return _mm512_cvtph_ps(half);
      // bf16 is the top half of an fp32.
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
    }
  }
};

}  // namespace qk::cpu
