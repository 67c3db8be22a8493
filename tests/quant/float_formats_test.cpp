// quant/float_formats against its oracle, CUDA's own host conversions (cuda_fp8.h, cuda_fp16.h,
// cuda_bf16.h compiled by the host compiler): every code of every format, a structured sweep of
// floats that hits every rounding case (ties, sticky bits, subnormals, overflow, Inf, NaN), several
// million random floats, and named edge cases whose expected codes are also written out by hand.
#include "quant/float_formats.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace qk::quant {
namespace {

// ---- The oracle: CUDA's conversions, through the same integer/float interface as ours. ----

__nv_fp8_interpretation_t cuda_interpretation(Fp8Format f) {
  return f == Fp8Format::e4m3 ? __NV_E4M3 : __NV_E5M2;
}
std::uint8_t cuda_float_to_fp8(float x, Fp8Format f) {
  return __nv_cvt_float_to_fp8(x, __NV_SATFINITE, cuda_interpretation(f));
}
float cuda_fp8_to_float(std::uint8_t code, Fp8Format f) {
  return __half2float(__half(__nv_cvt_fp8_to_halfraw(code, cuda_interpretation(f))));
}
std::uint16_t cuda_float_to_fp16(float x) {
  return static_cast<__half_raw>(__float2half_rn(x)).x;
}
float cuda_fp16_to_float(std::uint16_t bits) {
  __half_raw raw;
  raw.x = bits;
  return __half2float(__half(raw));
}
std::uint16_t cuda_float_to_bf16(float x) {
  return static_cast<__nv_bfloat16_raw>(__float2bfloat16_rn(x)).x;
}
float cuda_bf16_to_float(std::uint16_t bits) {
  __nv_bfloat16_raw raw;
  raw.x = bits;
  return __bfloat162float(__nv_bfloat16(raw));
}

// ---- Inputs. ----

std::uint32_t bits_of(float x) {
  return std::bit_cast<std::uint32_t>(x);
}
float float_of(std::uint32_t bits) {
  return std::bit_cast<float>(bits);
}

/// Low 11 fraction bits of the sweep: 0, 1, half - 1, half, half + 1, all ones. With every value of
/// the 12 bits above them, these put every format's rounding point on an exact tie, just below and
/// just above one, with and without a far sticky bit.
constexpr std::array<std::uint32_t, 6> kLowPatterns{0x000, 0x001, 0x3FF, 0x400, 0x401, 0x7FF};
constexpr int kLowBits = 11;  ///< fraction bits below the swept top 12

/// Calls fn(x) for both signs × every exponent field (0: zero and subnormals; 255: Inf and NaNs) ×
/// every value of the top 12 fraction bits × kLowPatterns: 12.6 million floats.
template <class Fn>
void for_each_sweep_float(Fn&& fn) {
  for (std::uint32_t sign = 0; sign < 2; ++sign)
    for (std::uint32_t exponent = 0; exponent < 256; ++exponent)
      for (std::uint32_t top = 0; top < (1u << 12); ++top)
        for (const std::uint32_t low : kLowPatterns)
          fn(float_of((sign << 31) | (exponent << 23) | (top << kLowBits) | low));
}

/// 4 million uniformly random fp32 bit patterns, fixed seed.
const std::vector<float>& random_floats() {
  static const std::vector<float> floats = [] {
    std::mt19937 rng(20240611u);
    std::vector<float> v(4'000'000);
    for (float& x : v) x = float_of(static_cast<std::uint32_t>(rng()));
    return v;
  }();
  return floats;
}

/// 2 million random floats for round_to: half uniform bit patterns, half with magnitudes in
/// [2^-30, 2^21), where all four narrow formats have finite, mostly normal values.
std::vector<float> round_to_samples() {
  std::mt19937 rng(7u);
  std::vector<float> v;
  v.reserve(2'000'000);
  for (int i = 0; i < 1'000'000; ++i) v.push_back(float_of(static_cast<std::uint32_t>(rng())));
  std::uniform_int_distribution<std::uint32_t> exponent(127 - 30, 127 + 20);
  for (int i = 0; i < 1'000'000; ++i) {
    const std::uint32_t r = static_cast<std::uint32_t>(rng());
    v.push_back(float_of((r & 0x807FFFFFu) | (exponent(rng) << 23)));
  }
  return v;
}

// ---- Reporting: one EXPECT per loop, showing the first few mismatches. ----

class Mismatches {
 public:
  void add(const std::string& line) {
    if (count_ < kShown) shown_ += line + "\n";
    ++count_;
  }
  std::int64_t count() const { return count_; }
  const std::string& shown() const { return shown_; }

 private:
  static constexpr int kShown = 10;  ///< mismatches listed in the failure message
  std::int64_t count_ = 0;
  std::string shown_;
};

/// Bit-exact float comparison (NaNs included: CUDA's decoders return one canonical NaN).
bool same_bits(float a, float b) {
  return bits_of(a) == bits_of(b);
}

template <class Code>
void check_encode(Mismatches& m, float x, Code ours, Code cuda) {
  if (ours != cuda)
    m.add(fmt::format("x = {:#010x} ({}): ours {:#x}, CUDA {:#x}", bits_of(x), x, ours, cuda));
}

void check_decode(Mismatches& m, unsigned code, float ours, float cuda) {
  if (!same_bits(ours, cuda))
    m.add(fmt::format("code {:#x}: ours {:#010x} ({}), CUDA {:#010x} ({})", code, bits_of(ours),
                      ours, bits_of(cuda), cuda));
}

constexpr std::array<Fp8Format, 2> kFp8Formats{Fp8Format::e4m3, Fp8Format::e5m2};
const char* name_of(Fp8Format f) {
  return f == Fp8Format::e4m3 ? "e4m3" : "e5m2";
}

bool is_e5m2_inf(std::uint8_t code) {
  return (code & 0x7F) == 0x7C;
}

// ---- fp8 ----

TEST(FloatFormatsFp8, FormatOfAndMaxFinite) {
  EXPECT_EQ(fp8_format_of(QuantType::fp8_e4m3), Fp8Format::e4m3);
  EXPECT_EQ(fp8_format_of(QuantType::fp8_e5m2), Fp8Format::e5m2);
  EXPECT_EQ(fp8_max_finite(Fp8Format::e4m3), 448.0f);
  EXPECT_EQ(fp8_max_finite(Fp8Format::e5m2), 57344.0f);
  EXPECT_EQ(fp8_max_finite(Fp8Format::e4m3), cuda_fp8_to_float(0x7E, Fp8Format::e4m3));
  EXPECT_EQ(fp8_max_finite(Fp8Format::e5m2), cuda_fp8_to_float(0x7B, Fp8Format::e5m2));
}

TEST(FloatFormatsFp8, DecodesEveryCodeAsCuda) {
  for (const Fp8Format f : kFp8Formats) {
    SCOPED_TRACE(name_of(f));
    Mismatches m;
    int nans = 0;
    for (unsigned c = 0; c < 256; ++c) {
      const auto code = static_cast<std::uint8_t>(c);
      const float ours = fp8_to_float(code, f);
      check_decode(m, c, ours, cuda_fp8_to_float(code, f));
      if (std::isnan(ours)) ++nans;
    }
    EXPECT_EQ(m.count(), 0) << m.shown();
    // e4m3 has one NaN per sign (S.1111.111); e5m2 has three (S.11111.{01,10,11}).
    EXPECT_EQ(nans, f == Fp8Format::e4m3 ? 2 : 6);
  }
}

TEST(FloatFormatsFp8, EncodingADecodedCodeGivesTheCodeBack) {
  for (const Fp8Format f : kFp8Formats) {
    SCOPED_TRACE(name_of(f));
    Mismatches m;
    for (unsigned c = 0; c < 256; ++c) {
      const auto code = static_cast<std::uint8_t>(c);
      const float x = fp8_to_float(code, f);
      if (std::isnan(x)) continue;
      // Saturation maps e5m2's ±Inf to ±max finite instead of back to ±Inf.
      const std::uint8_t expected =
          f == Fp8Format::e5m2 && is_e5m2_inf(code) ? (code & 0x80) | 0x7B : code;
      check_encode(m, x, float_to_fp8(x, f), expected);
    }
    EXPECT_EQ(m.count(), 0) << m.shown();
  }
}

TEST(FloatFormatsFp8, E4m3MatchesCudaOnSweep) {
  Mismatches m;
  for_each_sweep_float([&](float x) {
    check_encode(m, x, float_to_fp8(x, Fp8Format::e4m3), cuda_float_to_fp8(x, Fp8Format::e4m3));
  });
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsFp8, E5m2MatchesCudaOnSweep) {
  Mismatches m;
  for_each_sweep_float([&](float x) {
    check_encode(m, x, float_to_fp8(x, Fp8Format::e5m2), cuda_float_to_fp8(x, Fp8Format::e5m2));
  });
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsFp8, MatchesCudaOnRandomFloats) {
  for (const Fp8Format f : kFp8Formats) {
    SCOPED_TRACE(name_of(f));
    Mismatches m;
    for (const float x : random_floats())
      check_encode(m, x, float_to_fp8(x, f), cuda_float_to_fp8(x, f));
    EXPECT_EQ(m.count(), 0) << m.shown();
  }
}

/// float_to_fp8(x) is `expected`, and so is CUDA's answer (so a change of CUDA's contract shows).
void expect_fp8(float x, Fp8Format f, std::uint8_t expected, const char* why) {
  EXPECT_EQ(float_to_fp8(x, f), expected) << name_of(f) << ": " << why;
  EXPECT_EQ(cuda_float_to_fp8(x, f), expected) << name_of(f) << " (CUDA): " << why;
}

float next_up(float x) {
  return std::nextafter(x, std::numeric_limits<float>::infinity());
}
float next_down(float x) {
  return std::nextafter(x, -std::numeric_limits<float>::infinity());
}

constexpr float kInf = std::numeric_limits<float>::infinity();
const float kNan = std::numeric_limits<float>::quiet_NaN();
const float kNegativeNan = float_of(0xFFC00000u);   ///< a quiet NaN with the sign bit set
const float kSignalingNan = float_of(0x7F800001u);  ///< signaling, payload in the lowest bit only

TEST(FloatFormatsFp8, E4m3EdgeCases) {
  constexpr Fp8Format f = Fp8Format::e4m3;
  expect_fp8(448.0f, f, 0x7E, "max finite, S.1111.110");
  expect_fp8(-448.0f, f, 0xFE, "-max finite");
  expect_fp8(464.0f, f, 0x7E, "tie between 448 (even) and the would-be 480: 448");
  expect_fp8(next_up(464.0f), f, 0x7E, "rounds to the would-be 480 (the NaN code): saturates");
  expect_fp8(480.0f, f, 0x7E, "beyond max: saturates");
  expect_fp8(-1e30f, f, 0xFE, "far beyond -max: saturates to -448");
  expect_fp8(kInf, f, 0x7E, "Inf saturates to max finite");
  expect_fp8(-kInf, f, 0xFE, "-Inf saturates to -max finite");
  expect_fp8(kNan, f, 0x7F, "NaN: the one NaN code");
  expect_fp8(kNegativeNan, f, 0x7F, "a negative NaN loses its sign");
  expect_fp8(kSignalingNan, f, 0x7F, "a signaling NaN is a NaN");
  expect_fp8(0.0f, f, 0x00, "+0");
  expect_fp8(-0.0f, f, 0x80, "-0 keeps its sign");
  expect_fp8(0x1p-9f, f, 0x01, "min subnormal 2^-9");
  expect_fp8(0x1p-10f, f, 0x00, "min subnormal / 2: tie, to the even 0");
  expect_fp8(-0x1p-10f, f, 0x80, "-(min subnormal / 2): to -0");
  expect_fp8(next_up(0x1p-10f), f, 0x01, "just over min subnormal / 2: up");
  expect_fp8(next_down(0x1p-10f), f, 0x00, "just under min subnormal / 2: down");
  expect_fp8(0x1.8p-9f, f, 0x02, "1.5 * min subnormal: tie, to the even 2");
  expect_fp8(0x1.4p-8f, f, 0x02, "2.5 * min subnormal: tie, to the even 2");
  expect_fp8(0x1p-6f, f, 0x08, "min normal 2^-6");
  expect_fp8(0x1.Ep-7f, f, 0x08, "max subnormal + half a step: tie, to the even min normal");
  expect_fp8(1.0f, f, 0x38, "1 = S.0111.000");
  expect_fp8(0x1.1p0f, f, 0x38, "1 + 1/16: tie, to the even 1");
  expect_fp8(0x1.3p0f, f, 0x3A, "1 + 3/16: tie, to the even 1.25");
}

TEST(FloatFormatsFp8, E5m2EdgeCases) {
  constexpr Fp8Format f = Fp8Format::e5m2;
  expect_fp8(57344.0f, f, 0x7B, "max finite, S.11110.11");
  expect_fp8(61440.0f, f, 0x7B, "tie between max (odd) and 2^16 (Inf): would be Inf, saturates");
  expect_fp8(next_down(61440.0f), f, 0x7B, "just under the tie: max");
  expect_fp8(-1e30f, f, 0xFB, "far beyond -max: saturates");
  expect_fp8(kInf, f, 0x7B, "Inf saturates to max finite, never the Inf code");
  expect_fp8(-kInf, f, 0xFB, "-Inf saturates");
  expect_fp8(kNan, f, 0x7F, "NaN: S.11111.11");
  expect_fp8(kNegativeNan, f, 0x7F, "a negative NaN loses its sign");
  expect_fp8(kSignalingNan, f, 0x7F, "a signaling NaN is a NaN");
  expect_fp8(-0.0f, f, 0x80, "-0 keeps its sign");
  expect_fp8(0x1p-16f, f, 0x01, "min subnormal 2^-16");
  expect_fp8(0x1p-17f, f, 0x00, "min subnormal / 2: tie, to the even 0");
  expect_fp8(next_up(0x1p-17f), f, 0x01, "just over min subnormal / 2: up");
  expect_fp8(next_down(0x1p-17f), f, 0x00, "just under min subnormal / 2: down");
  expect_fp8(0x1p-14f, f, 0x04, "min normal 2^-14");
  expect_fp8(1.0f, f, 0x3C, "1 = S.01111.00");
  expect_fp8(0x1.2p0f, f, 0x3C, "1 + 1/8: tie, to the even 1");
  expect_fp8(0x1.6p0f, f, 0x3E, "1 + 3/8: tie, to the even 1.5");
}

// ---- fp16 ----

TEST(FloatFormatsFp16, DecodesEveryCodeAsCuda) {
  Mismatches m;
  for (unsigned c = 0; c < 65536; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    check_decode(m, c, fp16_to_float(code), cuda_fp16_to_float(code));
  }
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsFp16, EncodingADecodedCodeGivesTheCodeBack) {
  Mismatches m;
  for (unsigned c = 0; c < 65536; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    const float x = fp16_to_float(code);
    if (!std::isnan(x)) check_encode(m, x, float_to_fp16(x), code);
  }
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsFp16, MatchesCudaOnSweep) {
  Mismatches m;
  for_each_sweep_float(
      [&](float x) { check_encode(m, x, float_to_fp16(x), cuda_float_to_fp16(x)); });
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsFp16, MatchesCudaOnRandomFloats) {
  Mismatches m;
  for (const float x : random_floats()) check_encode(m, x, float_to_fp16(x), cuda_float_to_fp16(x));
  EXPECT_EQ(m.count(), 0) << m.shown();
}

void expect_fp16(float x, std::uint16_t expected, const char* why) {
  EXPECT_EQ(float_to_fp16(x), expected) << why;
  EXPECT_EQ(cuda_float_to_fp16(x), expected) << "CUDA: " << why;
}

TEST(FloatFormatsFp16, EdgeCases) {
  expect_fp16(65504.0f, 0x7BFF, "max finite");
  expect_fp16(65520.0f, 0x7C00, "tie between max (odd) and 2^16: to the even Inf");
  expect_fp16(next_down(65520.0f), 0x7BFF, "just under the tie: max");
  expect_fp16(kInf, 0x7C00, "Inf");
  expect_fp16(-kInf, 0xFC00, "-Inf");
  expect_fp16(kNan, 0x7FFF, "NaN: CUDA's canonical 0x7FFF");
  expect_fp16(kNegativeNan, 0x7FFF, "a negative NaN loses its sign");
  expect_fp16(kSignalingNan, 0x7FFF, "a signaling NaN whose payload truncation would lose");
  expect_fp16(-0.0f, 0x8000, "-0 keeps its sign");
  expect_fp16(0x1p-24f, 0x0001, "min subnormal");
  expect_fp16(0x1p-25f, 0x0000, "min subnormal / 2: tie, to the even 0");
  expect_fp16(-0x1p-25f, 0x8000, "-(min subnormal / 2): to -0");
  expect_fp16(next_up(0x1p-25f), 0x0001, "just over min subnormal / 2: up");
  expect_fp16(0x1p-14f, 0x0400, "min normal");
  expect_fp16(0x1.002p0f, 0x3C00, "1 + 2^-11: tie, to the even 1");
  expect_fp16(0x1.006p0f, 0x3C02, "1 + 3 * 2^-11: tie, to the even 1 + 2^-9");
}

// ---- bf16 ----

TEST(FloatFormatsBf16, DecodesEveryCodeAsCuda) {
  Mismatches m;
  for (unsigned c = 0; c < 65536; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    check_decode(m, c, bf16_to_float(code), cuda_bf16_to_float(code));
  }
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsBf16, EncodingADecodedCodeGivesTheCodeBack) {
  Mismatches m;
  for (unsigned c = 0; c < 65536; ++c) {
    const auto code = static_cast<std::uint16_t>(c);
    const float x = bf16_to_float(code);
    if (!std::isnan(x)) check_encode(m, x, float_to_bf16(x), code);
  }
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsBf16, MatchesCudaOnSweep) {
  Mismatches m;
  for_each_sweep_float(
      [&](float x) { check_encode(m, x, float_to_bf16(x), cuda_float_to_bf16(x)); });
  EXPECT_EQ(m.count(), 0) << m.shown();
}

TEST(FloatFormatsBf16, MatchesCudaOnRandomFloats) {
  Mismatches m;
  for (const float x : random_floats()) check_encode(m, x, float_to_bf16(x), cuda_float_to_bf16(x));
  EXPECT_EQ(m.count(), 0) << m.shown();
}

void expect_bf16(float x, std::uint16_t expected, const char* why) {
  EXPECT_EQ(float_to_bf16(x), expected) << why;
  EXPECT_EQ(cuda_float_to_bf16(x), expected) << "CUDA: " << why;
}

TEST(FloatFormatsBf16, EdgeCases) {
  expect_bf16(std::numeric_limits<float>::max(), 0x7F80, "fp32 max rounds up to Inf");
  expect_bf16(float_of(0x7F7F7FFFu), 0x7F7F, "just under max bf16 + half a step: max bf16");
  expect_bf16(float_of(0x7F7F8000u), 0x7F80, "max bf16 (odd) + half a step: tie, to the even Inf");
  expect_bf16(kInf, 0x7F80, "Inf");
  expect_bf16(-kInf, 0xFF80, "-Inf");
  expect_bf16(kNan, 0x7FFF, "NaN: CUDA's canonical 0x7FFF");
  expect_bf16(kNegativeNan, 0x7FFF, "a negative NaN loses its sign");
  expect_bf16(kSignalingNan, 0x7FFF, "a signaling NaN, which truncation would turn into Inf");
  expect_bf16(-0.0f, 0x8000, "-0 keeps its sign");
  expect_bf16(float_of(0x00000001u), 0x0000, "fp32 min subnormal: far under half a bf16 step");
  expect_bf16(float_of(0x00008000u), 0x0000, "bf16 min subnormal / 2: tie, to the even 0");
  expect_bf16(float_of(0x00008001u), 0x0001, "just over bf16 min subnormal / 2: up");
  expect_bf16(float_of(0x00018000u), 0x0002, "1.5 bf16 min subnormals: tie, to the even 2");
  expect_bf16(float_of(0x007FFFFFu), 0x0080, "fp32 max subnormal: up to the min normal");
  expect_bf16(0x1.01p0f, 0x3F80, "1 + 2^-8: tie, to the even 1");
  expect_bf16(0x1.03p0f, 0x3F82, "1 + 3 * 2^-8: tie, to the even 1 + 2^-6");
}

// ---- round_to ----

constexpr std::array<QuantType, 4> kNarrowFloatTypes{QuantType::fp16, QuantType::bf16,
                                                     QuantType::fp8_e4m3, QuantType::fp8_e5m2};

float decode_of_encode(QuantType t, float x) {
  switch (t) {
    case QuantType::fp16:
      return fp16_to_float(float_to_fp16(x));
    case QuantType::bf16:
      return bf16_to_float(float_to_bf16(x));
    case QuantType::fp8_e4m3:
      return fp8_to_float(float_to_fp8(x, Fp8Format::e4m3), Fp8Format::e4m3);
    case QuantType::fp8_e5m2:
      return fp8_to_float(float_to_fp8(x, Fp8Format::e5m2), Fp8Format::e5m2);
    default:
      return x;
  }
}

/// Equal bits, or both NaN.
bool same_value(float a, float b) {
  return same_bits(a, b) || (std::isnan(a) && std::isnan(b));
}

TEST(FloatFormatsRoundTo, IsDecodeOfEncodeAndIdempotent) {
  const std::vector<float> samples = round_to_samples();
  for (const QuantType t : kNarrowFloatTypes) {
    SCOPED_TRACE(std::string(to_string(t)));
    Mismatches not_decode_of_encode;
    Mismatches not_idempotent;
    for (const float x : samples) {
      const float r = round_to(t, x);
      if (!same_value(r, decode_of_encode(t, x)))
        not_decode_of_encode.add(fmt::format("x = {:#010x}: {}", bits_of(x), r));
      if (!same_value(round_to(t, r), r))
        not_idempotent.add(fmt::format("x = {:#010x}: {} then {}", bits_of(x), r, round_to(t, r)));
    }
    EXPECT_EQ(not_decode_of_encode.count(), 0) << not_decode_of_encode.shown();
    EXPECT_EQ(not_idempotent.count(), 0) << not_idempotent.shown();
  }
}

TEST(FloatFormatsRoundTo, NamedValues) {
  EXPECT_EQ(round_to(QuantType::fp16, 0x1.002p0f), 1.0f);  // tie to even
  EXPECT_EQ(round_to(QuantType::bf16, 0x1.03p0f), 0x1.04p0f);
  EXPECT_EQ(round_to(QuantType::fp8_e4m3, 1000.0f), 448.0f);          // saturates
  EXPECT_EQ(round_to(QuantType::fp8_e5m2, -kInf), -57344.0f);         // saturates
  EXPECT_EQ(round_to(QuantType::fp16, 1e6f), kInf);                   // overflows to Inf
  EXPECT_TRUE(std::signbit(round_to(QuantType::fp8_e4m3, -1e-30f)));  // -0
  for (const QuantType t : kNarrowFloatTypes) EXPECT_TRUE(std::isnan(round_to(t, kNan)));
}

TEST(FloatFormatsRoundTo, Fp32IsTheIdentity) {
  Mismatches m;
  for (const float x : round_to_samples())
    if (!same_bits(round_to(QuantType::fp32, x), x)) m.add(fmt::format("x = {:#010x}", bits_of(x)));
  EXPECT_EQ(m.count(), 0) << m.shown();
}

}  // namespace
}  // namespace qk::quant
