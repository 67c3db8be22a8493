// The weight decoders of the weight-only kernel (weight_only.hpp): one policy per stored weight
// type, chosen by the config's `weight`. A decoder knows its packed layout (how many k one 64-byte
// block of a 16-column panel holds) and turns weight k0 + t of the block's 16 columns into the
// value the kernel multiplies, in fp32 lanes:
//   int8, int4: w16 = round_to(activation type, value * scale)   (docs/numerics.md §4, §6.3)
//
// Packed layouts (quant/pack_cpu.hpp), all 16-column panels, so one 64-byte load feeds 16 columns:
//   int8: 4 k per 64 bytes, byte j * 4 + t of block q is w(16p + j, 4q + t). Lane j's int32
//     holds 4 consecutive k; shifts extract byte t.
//   int4: 8 k per 64 bytes, byte j * 4 + t of block q holds code(16p + j, 8q + t) in its low
//     nibble and code(16p + j, 8q + 4 + t) in its high nibble: a shift and a mask per k.
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

}  // namespace qk::cpu
