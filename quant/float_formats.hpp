// The reference conversions between fp32 and qk's narrow float formats (fp16, bf16, fp8 e4m3,
// fp8 e5m2): part of the numerics contract. Every conversion is bit for bit what CUDA's own
// conversion returns on the host (cuda_fp8.hpp / cuda_fp16.hpp / cuda_bf16.hpp, CUDA 13.0);
// tests/quant/float_formats_test.cpp checks that against CUDA's headers over every code and a sweep
// of every rounding case.
//
// Formats (sign, exponent, mantissa bits; exponent bias):
//   fp16      1, 5, 10; bias 15   IEEE binary16: subnormals, ±Inf, NaN = exponent 31, mantissa != 0
//   bf16      1, 8, 7;  bias 127  the top half of an fp32: subnormals, ±Inf, NaN like fp32
//   fp8 e4m3  1, 4, 3;  bias 7    OCP "E4M3FN": subnormals, NO Inf, NaN = S.1111.111 only,
//                                 so exponent 15 holds finite values up to 448
//   fp8 e5m2  1, 5, 2;  bias 15   IEEE-like: subnormals, ±Inf = S.11111.00, NaN =
//   S.11111.{01,10,11}
//
// Encoding float -> narrow (float_to_*):
//   - Rounding: round to nearest, ties to even, on the exact value of the float (one rounding,
//     including into the target's subnormal range; a value at most half the smallest subnormal
//     becomes zero).
//   - Signed zero: the sign is kept on every non-NaN result, so -0 and negative values that
//     round to zero give the negative zero code (0x80 / 0x8000).
//   - Overflow: fp16 and bf16 round to ±Inf (a value at or above max + ulp/2 is rounded to Inf).
//     fp8 saturates (CUDA's __NV_SATFINITE): a value whose rounding would exceed the max finite
//     value — including ±Inf inputs — gives ±max finite (±448 for e4m3, ±57344 for e5m2). So e4m3
//     464 (the tie between 448 and the would-be 480) rounds to 448, and e5m2 never produces Inf.
//   - NaN: any NaN (quiet or signaling, either sign, any payload) gives the target's positive
//     all-ones NaN code, with the sign dropped: fp16 and bf16 0x7FFF, fp8 (both formats) 0x7F.
//     (In particular a signaling fp32 NaN never truncates to a bf16 Inf.)
// Decoding narrow -> float (*_to_float): exact, since every value of these formats is an fp32
// value (fp8 and fp16 subnormals are fp32 normals; bf16 subnormals are fp32 subnormals).
//   - ±0, subnormals and ±Inf decode to themselves, signs kept.
//   - NaN codes of fp16 and fp8 decode to CUDA's canonical fp32 NaN 0x7FFFFFFF (quiet, positive:
//     the sign and payload are dropped). bf16 decodes by appending 16 zero bits, so a bf16 NaN
//     keeps its sign and payload, as CUDA's __bfloat162float does.
#pragma once

#include <cstdint>

#include "qk/layer_config.hpp"

namespace qk::quant {

/// The two fp8 encodings: 4 exponent bits + 3 mantissa bits (no Inf, max 448) or 5 + 2 (max 57344).
enum class Fp8Format : std::uint8_t { e4m3, e5m2 };

/// Fp8Format of an fp8 QuantType.
/// @pre is_fp8(t). Any other type gives e4m3.
Fp8Format fp8_format_of(QuantType t);

/// Round-to-nearest-even, saturating to ±max finite (CUDA's __NV_SATFINITE): bit for bit what
/// CUDA's
/// __nv_cvt_float_to_fp8(x, __NV_SATFINITE, fmt) returns, including ±0, subnormals, ties, ±Inf
/// (→ ±max finite) and NaN (→ 0x7F, sign dropped).
/// Example: float_to_fp8(1000.f, Fp8Format::e4m3) == 0x7E (448).
std::uint8_t float_to_fp8(float x, Fp8Format f);

/// Exact decode of a code (every fp8 value is a float). NaN codes give the quiet NaN 0x7FFFFFFF;
/// e5m2 ±Inf codes (0x7C, 0xFC) give ±Inf.
float fp8_to_float(std::uint8_t code, Fp8Format f);

/// The largest finite value of the format: 448 (e4m3) and 57344 (e5m2).
float fp8_max_finite(Fp8Format f);

/// IEEE binary16, round-to-nearest-even, overflow to ±Inf, as CUDA's __float2half_rn (bit for
/// bit; NaN → 0x7FFF).
std::uint16_t float_to_fp16(float x);
/// Exact decode, as CUDA's __half2float (NaN → 0x7FFFFFFF).
float fp16_to_float(std::uint16_t bits);

/// bfloat16, round-to-nearest-even, overflow to ±Inf, as CUDA's __float2bfloat16_rn (bit for bit;
/// NaN → 0x7FFF).
std::uint16_t float_to_bf16(float x);
/// Exact decode: the 16 bits become the top half of an fp32 (as CUDA's __bfloat162float).
float bf16_to_float(std::uint16_t bits);

/// The value of x rounded to float type t, as a float: fp32 → x; fp16, bf16, fp8_e4m3, fp8_e5m2 →
/// decode(encode(x)) with the conversions above (so fp8 saturates and fp16/bf16 overflow to Inf).
/// @pre t is not int8/int4. Those give NaN, so that a misuse shows in every result.
/// @post round_to(t, round_to(t, x)) is round_to(t, x), bit for bit.
float round_to(QuantType t, float x);

}  // namespace qk::quant
