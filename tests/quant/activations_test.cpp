// Activation quantization: docs/numerics.md §6.1–§6.2. Scales sit on M, never on K.
#include "quant/activations.hpp"

#include <cfloat>
#include <cmath>

#include <gtest/gtest.h>

#include "quant/quantize.hpp"
#include "test_data.hpp"

namespace qk::quant {
namespace {

// §6.2: per-token scaling has one scale per row, from that row alone.
TEST(Activations, PerTokenScalesAreOnePerRow) {
  const std::int64_t m = 17, k = 200;
  const auto a = test::random_matrix(m, k, 5, 1.0f, 13, 50.0f);
  auto q = quantize_activations(a, m, k, QuantType::int8, ActivationScaling::dynamic_per_token);
  ASSERT_TRUE(q);
  ASSERT_EQ(q->scales.size(), static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    float amax = 0;
    for (std::int64_t j = 0; j < k; ++j) amax = std::max(amax, std::fabs(a[i * k + j]));
    EXPECT_EQ(q->scales[i], amax / 127.0f);
  }
}

// The property that makes the fused GEMM possible: scaling a token (row) by a power of two
// scales only that row's scale and leaves every code unchanged, so the scale factors out of the
// sum over K. Scaling a column (a K channel) instead changes codes: a per-token scale cannot
// absorb it, which is why SmoothQuant moves such channels into the weights.
TEST(Activations, PerTokenScaleFactorsOutOfTheReduction) {
  const std::int64_t m = 3, k = 64;
  auto a = test::random_matrix(m, k, 6);
  auto before =
      quantize_activations(a, m, k, QuantType::int8, ActivationScaling::dynamic_per_token);
  for (std::int64_t j = 0; j < k; ++j) a[1 * k + j] *= 8.0f;
  auto after = quantize_activations(a, m, k, QuantType::int8, ActivationScaling::dynamic_per_token);
  ASSERT_TRUE(before && after);
  EXPECT_EQ(before->codes, after->codes);
  EXPECT_EQ(after->scales[1], before->scales[1] * 8.0f);
  EXPECT_EQ(after->scales[0], before->scales[0]);
  EXPECT_EQ(after->scales[2], before->scales[2]);
}

TEST(Activations, PerTensorScalings) {
  const std::int64_t m = 4, k = 33;
  const auto a = test::random_matrix(m, k, 8);
  auto dyn = quantize_activations(a, m, k, QuantType::int8, ActivationScaling::dynamic_per_tensor);
  ASSERT_TRUE(dyn);
  ASSERT_EQ(dyn->scales.size(), 1u);
  EXPECT_EQ(dyn->scales[0], finite_absmax(a) / 127.0f);

  auto stat =
      quantize_activations(a, m, k, QuantType::int8, ActivationScaling::static_per_tensor, 0.01f);
  ASSERT_TRUE(stat);
  EXPECT_EQ(stat->scales[0], 0.01f);
  // A too-small static scale saturates instead of wrapping.
  for (std::int64_t idx = 0; idx < m * k; ++idx) {
    if (std::fabs(a[idx]) > 1.28f) {
      EXPECT_EQ(std::abs(static_cast<std::int8_t>(stat->codes[idx])), 127);
    }
  }
}

TEST(Activations, Fp8CodesDecodeWithinHalfAnUlp) {
  const std::int64_t m = 3, k = 100;
  const auto a = test::random_matrix(m, k, 9);
  auto q = quantize_activations(a, m, k, QuantType::fp8_e4m3, ActivationScaling::dynamic_per_token);
  ASSERT_TRUE(q);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < k; ++j) {
      const float back = q->unscaled_value(i, j) * q->scale(i);
      // e4m3 has 3 mantissa bits: relative error <= 2^-4 for normal values (plus subnormals).
      EXPECT_LE(std::fabs(back - a[i * k + j]),
                std::fabs(a[i * k + j]) / 16.0f + q->scale(i) * 0x1p-10f);
    }
}

TEST(Activations, RejectsBadInput) {
  const std::vector<float> a(10, 1.0f);
  EXPECT_FALSE(
      quantize_activations(a, 3, 3, QuantType::int8, ActivationScaling::dynamic_per_token));
  EXPECT_FALSE(
      quantize_activations(a, 2, 5, QuantType::int4, ActivationScaling::dynamic_per_token));
  EXPECT_FALSE(quantize_activations(a, 2, 5, QuantType::int8, ActivationScaling::none));
  for (float bad : {0.0f, -1.0f, 1e-39f, std::numeric_limits<float>::infinity(),
                    std::numeric_limits<float>::quiet_NaN()}) {
    auto r =
        quantize_activations(a, 2, 5, QuantType::int8, ActivationScaling::static_per_tensor, bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("FLT_MIN"), std::string::npos);
  }
}

}  // namespace
}  // namespace qk::quant
