// The GPU's conversions between fp32 and fp16/bf16, bit for bit, in portable C++ (the host's own
// instructions differ on NaN: x86 keeps a NaN's payload where PTX's cvt gives the canonical
// NaN). Used by ptx_emu.hpp in place of the cvt instructions of templates/cuda/ptx.cuh.
#pragma once

#include <cstring>

namespace qk::emu {

inline unsigned float_bits(float f) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  return u;
}
inline float bits_float(unsigned u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

/// Rounds the `shift` low bits off `value` to nearest, ties to even.
inline unsigned round_off(unsigned value, unsigned shift) {
  const unsigned kept = value >> shift, rest = value & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1u)) ? 1u : 0u);
}

/// cvt.rn.f16.f32: round to nearest even, overflow to ±Inf, NaN to the canonical 0x7FFF.
inline unsigned short f32_to_f16(float f) {
  const unsigned x = float_bits(f);
  const unsigned sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return 0x7fff;
  if (ax >= 0x477ff000u) return static_cast<unsigned short>(sign | 0x7c00u);  // >= 65520: Inf
  if (ax >= 0x38800000u) {  // a normal fp16 (>= 2^-14): rebias, round 13 mantissa bits off;
    // a carry out of the mantissa correctly bumps the exponent
    const unsigned rebiased = ax - ((127u - 15u) << 23);
    return static_cast<unsigned short>(sign | round_off(rebiased, 13));
  }
  if (ax <= 0x33000000u) return static_cast<unsigned short>(sign);  // <= 2^-25: ties to 0
  // A subnormal fp16: the significand in units of 2^-24.
  const unsigned exponent = ax >> 23, significand = (ax & 0x7fffffu) | 0x800000u;
  return static_cast<unsigned short>(sign | round_off(significand, 126u - exponent));
}

/// cvt.f32.f16: exact; a NaN becomes the canonical 0x7FFFFFFF.
inline float f16_to_f32(unsigned short h) {
  const unsigned sign = (h & 0x8000u) << 16, exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 31) return bits_float(mantissa ? 0x7fffffffu : sign | 0x7f800000u);
  if (exponent == 0) {  // zero or subnormal: mantissa · 2^-24, exact in fp32
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return sign ? -magnitude : magnitude;
  }
  return bits_float(sign | ((exponent + 127u - 15u) << 23) | (mantissa << 13));
}

/// cvt.rn.bf16.f32: round to nearest even, overflow to ±Inf, NaN to the canonical 0x7FFF.
inline unsigned short f32_to_bf16(float f) {
  const unsigned x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return 0x7fff;
  return static_cast<unsigned short>(round_off(x, 16));
}

/// bf16 -> fp32: exact (bf16 is the upper half of an fp32).
inline float bf16_to_f32(unsigned short h) {
  return bits_float(static_cast<unsigned>(h) << 16);
}

}  // namespace qk::emu
