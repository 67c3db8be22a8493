// Reference conversions between fp32 and fp16 / bf16 / fp8: plain bit manipulation, one rounding
// routine shared by every format. The contract (rounding, saturation, NaN, Inf, signed zero) is in
// float_formats.hpp.
#include "quant/float_formats.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

namespace qk::quant {
namespace {

/// A narrow binary float format with subnormals (its Inf/NaN encodings are handled by the caller).
struct NarrowFormat {
  int mantissa_bits;  ///< explicit fraction bits (the leading 1 of normals is implicit)
  int bias;           ///< exponent bias: a normal value is 1.f * 2^(exponent field - bias)
};

constexpr NarrowFormat kFp16{10, 15};
constexpr NarrowFormat kBf16{7, 127};
constexpr NarrowFormat kE4m3{3, 7};
constexpr NarrowFormat kE5m2{2, 15};

constexpr int kF32MantissaBits = 23;                    ///< fraction bits of an fp32
constexpr int kF32Bias = 127;                           ///< exponent bias of an fp32
constexpr std::uint32_t kF32AbsMask = 0x7FFFFFFFu;      ///< every bit of an fp32 but the sign
constexpr std::uint32_t kF32InfBits = 0x7F800000u;      ///< +Inf; larger magnitudes are NaNs
constexpr std::uint32_t kF32CudaNanBits = 0x7FFFFFFFu;  ///< the NaN CUDA's fp16/fp8 decoders return

constexpr std::uint16_t kHalfInfCode = 0x7C00;  ///< fp16 +Inf: exponent 31, fraction 0
constexpr std::uint16_t kBf16InfCode = 0x7F80;  ///< bf16 +Inf: exponent 255, fraction 0
constexpr std::uint16_t kHalfNanCode = 0x7FFF;  ///< the NaN CUDA returns for fp16 and for bf16

constexpr std::uint8_t kFp8SignBit = 0x80;   ///< sign bit of both fp8 formats
constexpr std::uint8_t kFp8NanCode = 0x7F;   ///< the NaN CUDA returns (a NaN in both formats)
constexpr std::uint8_t kE4m3MaxCode = 0x7E;  ///< S.1111.110 = 1.75 * 2^8 = 448
constexpr std::uint8_t kE5m2MaxCode = 0x7B;  ///< S.11110.11 = 1.75 * 2^15 = 57344
constexpr std::uint8_t kE5m2InfCode = 0x7C;  ///< S.11111.00; 0x7D..0x7F are NaNs
constexpr int kHalfExponentAllOnes = 0x1F;   ///< fp16 exponent field of Inf and NaN

/// |x| rounded to nearest, ties to even, in `fmt`, returned as the code of the magnitude (exponent
/// field and fraction, no sign) with an unbounded exponent field: a magnitude that rounds past the
/// format's largest finite value gives a code past that value's code, for the caller to saturate
/// or turn into Inf.
/// @pre abs_bits are the bits of a finite, non-negative fp32.
std::uint32_t round_magnitude(std::uint32_t abs_bits, NarrowFormat fmt) {
  const int exponent_field = static_cast<int>(abs_bits >> kF32MantissaBits);
  const std::uint32_t fraction = abs_bits & ((1u << kF32MantissaBits) - 1);
  // |x| = significand * 2^(exponent - 23). fp32 subnormals have no implicit bit and the exponent
  // of the smallest normal, -126.
  const std::uint32_t significand =
      exponent_field == 0 ? fraction : fraction | (1u << kF32MantissaBits);
  const int exponent = std::max(exponent_field, 1) - kF32Bias;
  // Below the format's smallest normal exponent the quantum stops shrinking (subnormals).
  const int target_exponent = std::max(exponent, 1 - fmt.bias);
  // How many low bits of the significand are below the target's quantum 2^(target_exponent - m).
  // Always >= 1, since every format here has fewer fraction bits than fp32.
  const int shift = kF32MantissaBits - fmt.mantissa_bits + (target_exponent - exponent);
  std::uint32_t rounded = 0;            // the significand in units of the target's quantum
  if (shift <= kF32MantissaBits + 1) {  // beyond, significand < 2^24 is under half a quantum: 0
    rounded = significand >> shift;
    const std::uint32_t rest = significand & ((1u << shift) - 1);
    const std::uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (rounded & 1u) != 0)) ++rounded;
  }
  // A normal result has rounded in [2^m, 2^(m+1)]: its code is (target_exponent + bias) << m plus
  // rounded - 2^m, i.e. the formula below; rounded == 2^(m+1) carries into the next exponent with
  // fraction 0. A subnormal result has target_exponent + bias - 1 == 0 and rounded < 2^m is its
  // fraction; rounded == 2^m is then the code of the smallest normal.
  const auto exponent_base = static_cast<std::uint32_t>(target_exponent + fmt.bias - 1);
  return (exponent_base << fmt.mantissa_bits) + rounded;
}

/// The value of a finite, non-negative code (exponent field and fraction) of `fmt`.
/// @pre the value is an fp32 normal or zero (true of fp16 and fp8, not of bf16 subnormals).
float decode_magnitude(std::uint32_t exponent_field, std::uint32_t fraction, NarrowFormat fmt) {
  // Normals: (2^m + fraction) * 2^(exponent_field - bias - m);
  // subnormals: fraction * 2^(1 - bias - m).
  const bool normal = exponent_field != 0;
  const std::uint32_t significand = normal ? fraction | (1u << fmt.mantissa_bits) : fraction;
  const int exponent =
      (normal ? static_cast<int>(exponent_field) : 1) - fmt.bias - fmt.mantissa_bits;
  // Exact: the significand has at most 11 bits and the result is within fp32's normal range.
  return std::ldexp(static_cast<float>(significand), exponent);
}

float with_sign(bool negative, float magnitude) {
  return negative ? -magnitude : magnitude;
}

}  // namespace

Fp8Format fp8_format_of(QuantType t) {
  return t == QuantType::fp8_e5m2 ? Fp8Format::e5m2 : Fp8Format::e4m3;
}

std::uint8_t float_to_fp8(float x, Fp8Format f) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t abs_bits = bits & kF32AbsMask;
  if (abs_bits > kF32InfBits) return kFp8NanCode;  // CUDA drops the sign of a NaN
  const std::uint32_t sign = (bits & ~kF32AbsMask) != 0 ? kFp8SignBit : 0u;
  const bool e4m3 = f == Fp8Format::e4m3;
  const std::uint32_t max_code = e4m3 ? kE4m3MaxCode : kE5m2MaxCode;
  // Saturation: ±Inf, and anything that rounds past max finite (e4m3's NaN code, e5m2's Inf).
  const std::uint32_t code =
      abs_bits == kF32InfBits ? max_code
                              : std::min(round_magnitude(abs_bits, e4m3 ? kE4m3 : kE5m2), max_code);
  return static_cast<std::uint8_t>(sign | code);
}

float fp8_to_float(std::uint8_t code, Fp8Format f) {
  const bool negative = (code & kFp8SignBit) != 0;
  const std::uint32_t abs_code = code & ~kFp8SignBit & 0xFFu;
  if (f == Fp8Format::e4m3) {
    if (abs_code == kFp8NanCode) return std::bit_cast<float>(kF32CudaNanBits);
    return with_sign(negative,
                     decode_magnitude(abs_code >> kE4m3.mantissa_bits,
                                      abs_code & ((1u << kE4m3.mantissa_bits) - 1), kE4m3));
  }
  if (abs_code > kE5m2InfCode) return std::bit_cast<float>(kF32CudaNanBits);
  if (abs_code == kE5m2InfCode) return with_sign(negative, std::numeric_limits<float>::infinity());
  return with_sign(negative, decode_magnitude(abs_code >> kE5m2.mantissa_bits,
                                              abs_code & ((1u << kE5m2.mantissa_bits) - 1), kE5m2));
}

namespace {

// fp16 and bf16 share one encoder: IEEE overflow to Inf, and any NaN (CUDA drops its sign and
// payload; a signaling NaN is never truncated to Inf) becomes the canonical 0x7FFF.
std::uint16_t float_to_16bit(float x, const NarrowFormat& format, std::uint32_t inf_code) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t abs_bits = bits & kF32AbsMask;
  if (abs_bits > kF32InfBits) return kHalfNanCode;
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  // Overflow (a code at or past Inf's) and Inf itself give Inf.
  const std::uint32_t code =
      abs_bits == kF32InfBits
          ? inf_code
          : std::min<std::uint32_t>(round_magnitude(abs_bits, format), inf_code);
  return static_cast<std::uint16_t>(sign | code);
}

}  // namespace

float fp8_max_finite(Fp8Format f) {
  return f == Fp8Format::e4m3 ? 448.0f : 57344.0f;
}

std::uint16_t float_to_fp16(float x) {
  return float_to_16bit(x, kFp16, kHalfInfCode);
}

float fp16_to_float(std::uint16_t bits) {
  const bool negative = (bits & 0x8000u) != 0;
  const std::uint32_t exponent_field = (bits >> kFp16.mantissa_bits) & 0x1Fu;
  const std::uint32_t fraction = bits & ((1u << kFp16.mantissa_bits) - 1);
  if (exponent_field == kHalfExponentAllOnes) {
    if (fraction != 0) return std::bit_cast<float>(kF32CudaNanBits);
    return with_sign(negative, std::numeric_limits<float>::infinity());
  }
  return with_sign(negative, decode_magnitude(exponent_field, fraction, kFp16));
}

std::uint16_t float_to_bf16(float x) {
  return float_to_16bit(x, kBf16, kBf16InfCode);
}

float bf16_to_float(std::uint16_t bits) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

float round_to(QuantType t, float x) {
  switch (t) {
    case QuantType::fp32:
      return x;
    case QuantType::fp16:
      return fp16_to_float(float_to_fp16(x));
    case QuantType::bf16:
      return bf16_to_float(float_to_bf16(x));
    case QuantType::fp8_e4m3:
    case QuantType::fp8_e5m2: {
      const Fp8Format f = fp8_format_of(t);
      return fp8_to_float(float_to_fp8(x, f), f);
    }
    case QuantType::int8:
    case QuantType::int4:
      break;
  }
  return std::numeric_limits<float>::quiet_NaN();
}

}  // namespace qk::quant
