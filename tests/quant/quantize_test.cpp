// Scalar quantization rules: docs/numerics.md §1 (rounding), §2 (scales), §3 (codes), §4.
#include "quant/quantize.hpp"

#include <cfloat>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "test_data.hpp"

namespace qk::quant {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// §1: ties go to the even neighbour, in both directions.
TEST(Quantize, RoundsHalfToEven) {
  EXPECT_EQ(quantize_int8(0.5f, 1.0f), 0);
  EXPECT_EQ(quantize_int8(1.5f, 1.0f), 2);
  EXPECT_EQ(quantize_int8(2.5f, 1.0f), 2);
  EXPECT_EQ(quantize_int8(-0.5f, 1.0f), 0);
  EXPECT_EQ(quantize_int8(-1.5f, 1.0f), -2);
  EXPECT_EQ(quantize_int8(-2.5f, 1.0f), -2);
  EXPECT_EQ(quantize_int8(2.5000002f, 1.0f), 3);
  EXPECT_EQ(quantize_int4(2.5f, 1.0f, kInt4SymmetricZero), 2 + kInt4SymmetricZero);
  EXPECT_EQ(quantize_int4(3.5f, 1.0f, kInt4SymmetricZero), 4 + kInt4SymmetricZero);
}

// §3.1: the int8 grid is symmetric [-127, 127]; -128 is never produced.
TEST(Quantize, Int8SaturatesSymmetrically) {
  EXPECT_EQ(quantize_int8(127.4f, 1.0f), 127);
  EXPECT_EQ(quantize_int8(1000.0f, 1.0f), 127);
  EXPECT_EQ(quantize_int8(-128.0f, 1.0f), -127);
  EXPECT_EQ(quantize_int8(-1e30f, 1.0f), -127);
  EXPECT_EQ(quantize_int8(kInf, 1.0f), 127);
  EXPECT_EQ(quantize_int8(-kInf, 1.0f), -127);
}

// §3.1: NaN quantizes to 0 (CUDA's cvt to integer gives 0 for NaN, too).
TEST(Quantize, NaNQuantizesToZero) {
  EXPECT_EQ(quantize_int8(kNaN, 1.0f), 0);
  EXPECT_EQ(quantize_int4(kNaN, 1.0f, kInt4SymmetricZero), kInt4SymmetricZero);
  EXPECT_EQ(quantize_int4(kNaN, 1.0f, 3), 3);
}

// §3.2: symmetric int4 codes are value + 8 and cover values -8..7.
TEST(Quantize, Int4SymmetricRange) {
  EXPECT_EQ(quantize_int4(7.0f, 1.0f, kInt4SymmetricZero), 15);
  EXPECT_EQ(quantize_int4(9.0f, 1.0f, kInt4SymmetricZero), 15);
  EXPECT_EQ(quantize_int4(-8.0f, 1.0f, kInt4SymmetricZero), 0);
  EXPECT_EQ(quantize_int4(-kInf, 1.0f, kInt4SymmetricZero), 0);
  EXPECT_EQ(quantize_int4(0.0f, 1.0f, kInt4SymmetricZero), 8);
}

// §2.1: NaN and ±Inf do not take part in the absmax.
TEST(Quantize, AbsmaxIgnoresNonFinite) {
  const std::vector<float> x{1.0f, -3.0f, kNaN, kInf, -kInf, 2.0f};
  EXPECT_EQ(finite_absmax(x), 3.0f);
  const std::vector<float> none{kNaN, kInf};
  EXPECT_EQ(finite_absmax(none), 0.0f);
}

// §2.2: scale = amax / qmax, never below FLT_MIN; its reciprocal is finite.
TEST(Quantize, ScaleFromAbsmax) {
  EXPECT_EQ(symmetric_scale(127.0f, QuantType::int8), 1.0f);
  EXPECT_EQ(symmetric_scale(254.0f, QuantType::int8), 2.0f);
  EXPECT_EQ(symmetric_scale(14.0f, QuantType::int4), 2.0f);
  EXPECT_EQ(symmetric_scale(448.0f, QuantType::fp8_e4m3), 1.0f);
  EXPECT_EQ(symmetric_scale(57344.0f, QuantType::fp8_e5m2), 1.0f);
  EXPECT_EQ(symmetric_scale(0.0f, QuantType::int8), FLT_MIN);
  EXPECT_EQ(symmetric_scale(1e-40f, QuantType::int8), FLT_MIN);
  EXPECT_TRUE(std::isfinite(inverse_scale(symmetric_scale(0.0f, QuantType::int8))));
  // An all-zero input quantizes to zeros and dequantizes to exact zeros.
  const float s = symmetric_scale(0.0f, QuantType::int8);
  EXPECT_EQ(quantize_int8(0.0f, inverse_scale(s)), 0);
  EXPECT_EQ(dequantize_int(0, s), 0.0f);
}

// §2.3 + §4: for finite x within the range, |dequant(quant(x)) - x| <= scale / 2 (plus the
// rounding of the product x * inv_scale, a few ulp of the scaled value).
TEST(Quantize, RoundTripWithinHalfStep) {
  std::mt19937 rng(7);
  for (QuantType t : {QuantType::int8, QuantType::int4}) {
    for (int trial = 0; trial < 200; ++trial) {
      const auto x = test::random_matrix(1, 257, 100 + trial, std::ldexp(1.0f, trial % 40 - 20));
      const float scale = symmetric_scale(finite_absmax(x), t);
      const float inv = inverse_scale(scale);
      for (float v : x) {
        const int q = t == QuantType::int8
                          ? quantize_int8(v, inv)
                          : quantize_int4(v, inv, kInt4SymmetricZero) - kInt4SymmetricZero;
        const float back = dequantize_int(q, scale);
        EXPECT_LE(std::fabs(back - v), 0.5f * scale * (1.0f + 1e-4f)) << v << " scale " << scale;
      }
    }
  }
}

// §3.3: the asymmetric range always contains 0, and 0 round-trips exactly.
TEST(Quantize, AsymmetricInt4KeepsZeroExact) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-5.0f, 5.0f);
  for (int trial = 0; trial < 1000; ++trial) {
    float lo = u(rng), hi = u(rng);
    if (lo > hi) std::swap(lo, hi);
    const AsymmetricInt4 p = asymmetric_int4_params(lo, hi);
    ASSERT_GE(p.zero_point, 0);
    ASSERT_LE(p.zero_point, 15);
    const std::uint8_t zero_code = quantize_int4(0.0f, inverse_scale(p.scale), p.zero_point);
    EXPECT_EQ(zero_code, p.zero_point);
    EXPECT_EQ(dequantize_int(zero_code - p.zero_point, p.scale), 0.0f);
    // The ends of the range are reachable within half a step.
    for (float v : {std::min(lo, 0.0f), std::max(hi, 0.0f)}) {
      const int code = quantize_int4(v, inverse_scale(p.scale), p.zero_point);
      EXPECT_LE(std::fabs(dequantize_int(code - p.zero_point, p.scale) - v),
                0.5f * p.scale * 1.0001f + 1e-6f);
    }
  }
}

// §3.3: all-positive data widens to [0, hi] (zero point 0); all-negative to [lo, 0] (15).
TEST(Quantize, AsymmetricOneSidedRanges) {
  const AsymmetricInt4 pos = asymmetric_int4_params(2.0f, 30.0f);
  EXPECT_EQ(pos.zero_point, 0);
  EXPECT_EQ(pos.scale, 2.0f);
  const AsymmetricInt4 neg = asymmetric_int4_params(-30.0f, -2.0f);
  EXPECT_EQ(neg.zero_point, 15);
  EXPECT_EQ(neg.scale, 2.0f);
  const AsymmetricInt4 huge = asymmetric_int4_params(-FLT_MAX, FLT_MAX);
  EXPECT_TRUE(std::isfinite(huge.scale));
}

// §3.4: fp8 quantization saturates to the format's largest finite value.
TEST(Quantize, Fp8Saturates) {
  EXPECT_EQ(fp8_to_float(quantize_fp8(1e6f, 1.0f, Fp8Format::e4m3), Fp8Format::e4m3), 448.0f);
  EXPECT_EQ(fp8_to_float(quantize_fp8(-kInf, 1.0f, Fp8Format::e4m3), Fp8Format::e4m3), -448.0f);
  EXPECT_EQ(fp8_to_float(quantize_fp8(1e9f, 1.0f, Fp8Format::e5m2), Fp8Format::e5m2), 57344.0f);
  // With the absmax scale, the largest input maps exactly to the largest code.
  const float scale = symmetric_scale(3.0f, QuantType::fp8_e4m3);
  EXPECT_EQ(
      fp8_to_float(quantize_fp8(3.0f, inverse_scale(scale), Fp8Format::e4m3), Fp8Format::e4m3),
      448.0f);
}

}  // namespace
}  // namespace qk::quant
