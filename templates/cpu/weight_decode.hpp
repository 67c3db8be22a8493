// The weight decoders of the weight-only kernel (weight_only.hpp): one policy per stored weight
// type, chosen by the config's `weight`, written once against the ISA's vector policy
// (templates/cpu/isa.hpp: 16 lanes on AVX-512, 8 on AVX2, the same results lane for lane). A
// decoder knows its packed layout (how many k one 64-byte block of a 16-column panel holds, and
// where the columns of each of the panel's 16 / LANES vectors are) and turns weight k0 + t of a
// vector's columns into the value the kernel multiplies, in fp32 lanes:
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
// On AVX2 a vector is 8 columns: bytes [32 part, 32 part + 32) of a block for int8, int4, fp8 and
// fp32 (4 bytes per column), and for fp16 and bf16 the 16 bytes of its columns in each of the
// block's two k (two 128-bit loads, so decode extracts k = 2q + t as AVX-512 does, by half).
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "cpu/isa.hpp"
#include "cpu/vec.hpp"

namespace qk::cpu {

/// Declared for every weight type; the specializations below define it. ISA picks the vector
/// policy (Vec<ISA>).
template <WeightType W, InputType A, Isa ISA = Isa::avx512>
struct WeightDecoder;

/// The packed bytes of vector `part` (0 .. 16 / LANES - 1) of a 64-byte block of a panel, where
/// each column's weights at the block's k are 4 consecutive bytes (int8, int4, fp8, fp32).
template <Isa ISA>
__attribute__((always_inline)) inline typename Vec<ISA>::I load_column_lanes(const uint8_t* block,
                                                                             int part) {
  return Vec<ISA>::load_bytes(block + part * 4 * Vec<ISA>::LANES);
}

/// int8 (W8A16) and int4 (W4A16): float(code - zero) * scale, rounded to the activation type.
template <WeightType W, InputType A, Isa ISA>
requires(W == WeightType::int8 || W == WeightType::int4) struct WeightDecoder<W, A, ISA> {
  using V = Vec<ISA>;
  static constexpr int K_STEP = W == WeightType::int8 ? 4 : 8;  ///< k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = W == WeightType::int8 ? 16 : 8;
  /// The in-register tile multiplies value() and scales each group's sums (weight_only.hpp).
  static constexpr bool SCALE_AFTER_SUM = true;
  /// int4 weights may come without zero points (abi.h: symmetric, every zero point 8), which
  /// value<true> decodes with one operation less.
  static constexpr bool ZERO_POINTS = W == WeightType::int4;
  static_assert(A != InputType::fp32, "Integer weights are dequantized to fp16 or bf16.");

  /// One scale group's parameters of LANES columns.
  struct Params {
    typename V::F scale;
    typename V::I zero;
  };
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs* args, int64_t g,
                                                    int64_t col) {
    const int64_t at = g * ((args->n + 15) / 16 * 16) + col;  // [groups][n_padded]
    if constexpr (W == WeightType::int8) return {V::load(args->w_scales + at), V::zero_i()};
    return {V::load(args->w_scales + at), args->w_zero_points == nullptr
                                              ? V::set1_i(8)
                                              : V::load_i(args->w_zero_points + at)};
  }

  /// SYMMETRIC (int4 without zero points): every nibble's top bit flipped, once per load, makes
  /// it the 4-bit two's complement of code - 8, its value.
  template <bool SYMMETRIC = false>
  __attribute__((always_inline)) static typename V::I load_packed(const uint8_t* block, int part) {
    const typename V::I packed = load_column_lanes<ISA>(block, part);
    if constexpr (SYMMETRIC) return V::xor_i(packed, V::set1_i(static_cast<int>(0x88888888u)));
    return packed;
  }

  /// The value of weight k0 + t, code - zero (int8: the code), as an exact fp32, from what
  /// load_packed<SYMMETRIC> returned. t is a constant once the caller's loop is unrolled, so
  /// every shift is an immediate.
  template <bool SYMMETRIC = false>
  __attribute__((always_inline)) static typename V::F value(typename V::I packed, const Params& p,
                                                            int t) {
    typename V::I v;
    if constexpr (W == WeightType::int8) {
      // Byte t of each lane to the top, then an arithmetic shift back: the signed int8.
      v = V::srai_i(V::slli_i(packed, 24 - 8 * t), 24);
    } else {
      // Low nibbles hold k0..k0+3, high nibbles k0+4..k0+7 (byte t % 4 of the lane).
      const int shift = 8 * (t % 4) + 4 * (t / 4);
      if constexpr (SYMMETRIC) {
        v = V::srai_i(V::slli_i(packed, 28 - shift), 28);  // sign-extends code - 8
      } else {
        v = V::and_i(V::srli_i(packed, shift), V::set1_i(0x0F));
        v = V::sub_i(v, p.zero);  // code - zero: exact
      }
    }
    return V::to_float(v);
  }

  /// The contract's w16: value * scale in fp32, rounded to the activation type.
  __attribute__((always_inline)) static typename V::F decode(typename V::I packed, const Params& p,
                                                             int t) {
    return V::template round_through<A>(V::mul(value(packed, p, t), p.scale));
  }
};

/// fp8 E4M3 and E5M2 (WFP8A16): fp8_to_float(code) * scale, rounded to the activation type.
/// The code is decoded arithmetically, bit-exact with quant::fp8_to_float for all 256 codes
/// (tests/templates/weight_decode_test.cpp): a normal code's exponent and mantissa are moved into
/// an fp32's fields and the exponent rebased by integer addition; a subnormal code (exponent 0) is
/// its mantissa times the smallest subnormal, float(m) * 2^(1 - bias - mantissa bits), which needs
/// no fp32 subnormal (so MXCSR's DAZ cannot change it); NaN and Inf codes are set by mask.
template <WeightType W, InputType A, Isa ISA>
requires(W == WeightType::fp8_e4m3 || W == WeightType::fp8_e5m2) struct WeightDecoder<W, A, ISA> {
  using V = Vec<ISA>;
  static constexpr int K_STEP = 4;  ///< the int8 layout: 4 k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = 16;
  /// The in-register tile multiplies decode(), the contract's w16 exactly: fp8's NaN and Inf
  /// codes, and scales that take w16 past fp16's range, give what the reference gives.
  static constexpr bool SCALE_AFTER_SUM = false;
  static constexpr bool ZERO_POINTS = false;
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
    typename V::F scale;
  };
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs* args, int64_t g,
                                                    int64_t col) {
    return {V::load(args->w_scales + g * ((args->n + 15) / 16 * 16) + col)};
  }

  __attribute__((always_inline)) static typename V::I load_packed(const uint8_t* block, int part) {
    return load_column_lanes<ISA>(block, part);
  }

  /// fp8_to_float of byte t of each lane, exactly (NaN codes give the quiet NaN 0x7FC00000 with
  /// the code's sign; any NaN is the contract's NaN once scaled, and it stays NaN through
  /// round_through, whose bf16 rounding would carry a payload of all ones into the sign).
  __attribute__((always_inline)) static typename V::F decode_code(typename V::I packed, int t) {
    const typename V::I code = V::srli_i(packed, 8 * t);  // byte t in bits 0..7
    const typename V::I magnitude = V::and_i(code, V::set1_i(0x7F));
    const typename V::I sign = V::slli_i(V::and_i(code, V::set1_i(0x80)), 24);
    // Exponent and mantissa at the top of an fp32's fields; + (127 - BIAS) in the exponent field.
    typename V::F value =
        V::as_float(V::add_i(V::slli_i(magnitude, 23 - MANTISSA), V::set1_i((127 - BIAS) << 23)));
    const typename V::Cond subnormal = V::lt_i(magnitude, V::set1_i(1 << MANTISSA));
    value = V::select(subnormal, V::mul(V::to_float(magnitude), V::set1(SUBNORMAL_STEP)),
                      value);  // exact: m < 8, a power of two
    const typename V::F quiet_nan = V::as_float(V::set1_i(0x7FC00000));
    if constexpr (E4M3) {
      value = V::select(V::eq_i(magnitude, V::set1_i(0x7F)), quiet_nan, value);
    } else {
      value = V::select(V::eq_i(magnitude, V::set1_i(SPECIAL)), V::as_float(V::set1_i(0x7F800000)),
                        value);  // Inf
      value = V::select(V::gt_i(magnitude, V::set1_i(SPECIAL)), quiet_nan, value);
    }
    return V::as_float(V::or_i(V::as_int(value), sign));
  }

  __attribute__((always_inline)) static typename V::F decode(typename V::I packed, const Params& p,
                                                             int t) {
    return V::template round_through<A>(V::mul(decode_code(packed, t), p.scale));
  }
};

/// fp16, bf16, fp32 (the float baselines): the stored weight, widened exactly; no scales.
template <WeightType W, InputType A, Isa ISA>
requires(W == WeightType::fp16 || W == WeightType::bf16 ||
         W == WeightType::fp32) struct WeightDecoder<W, A, ISA> {
  using V = Vec<ISA>;
  static constexpr int K_STEP = W == WeightType::fp32 ? 1 : 2;  ///< k per 64-byte block
  static constexpr int64_t PANEL_BYTES_PER_K = W == WeightType::fp32 ? 64 : 32;
  static constexpr bool SCALE_AFTER_SUM = false;  ///< no scales: decode() is the weight itself
  static constexpr bool ZERO_POINTS = false;
  static_assert(W == WeightType::fp16   ? A == InputType::fp16
                : W == WeightType::bf16 ? A == InputType::bf16
                                        : A == InputType::fp32,
                "A float baseline's activations (input) have the weights' type.");

  struct Params {};
  __attribute__((always_inline)) static Params load(const QkCpuGemmArgs*, int64_t, int64_t) {
    return {};
  }

  /// fp32: the part's 8 or 16 columns. fp16, bf16: the part's columns at both k of the block, k
  /// = 2q in the low half, 2q + 1 in the high half (on AVX-512 the whole block is exactly that).
  __attribute__((always_inline)) static typename V::I load_packed(const uint8_t* block, int part) {
    if constexpr (W == WeightType::fp32 || ISA == Isa::avx512) {
      return load_column_lanes<ISA>(block, part);
    } else {
      const uint8_t* first = block + part * 2 * V::LANES;  // 16 bytes at k = 2q, then 2q + 1
      return _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(first + 32),
                                 reinterpret_cast<const __m128i*>(first));
    }
  }

  __attribute__((always_inline)) static typename V::F decode(typename V::I packed, const Params&,
                                                             int t) {
    if constexpr (W == WeightType::fp32) {
      return V::as_float(packed);
    } else if constexpr (W == WeightType::fp16) {
      return V::fp16_to_float(V::half(packed, t));
    } else {
      return V::bf16_to_float(V::half(packed, t));
    }
  }
};

}  // namespace qk::cpu
