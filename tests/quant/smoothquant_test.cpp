// SmoothQuant smoothing and folding: docs/numerics.md §9.
#include "quant/smoothquant.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "quant/activations.hpp"
#include "test_data.hpp"

namespace qk::quant {
namespace {

// §9: s_j = max|X_j|^a / max|W_j|^(1-a), from the definition.
TEST(SmoothQuant, FactorsFollowTheFormula) {
  const std::vector<float> act{16.0f, 1.0f, 100.0f};
  const std::vector<float> wt{4.0f, 1.0f, 0.01f};
  auto s = smoothquant_factors(act, wt, 0.5);
  ASSERT_TRUE(s);
  EXPECT_FLOAT_EQ((*s)[0], 2.0f);  // sqrt(16) / sqrt(4)
  EXPECT_FLOAT_EQ((*s)[1], 1.0f);
  EXPECT_FLOAT_EQ((*s)[2], 100.0f);             // sqrt(100) / sqrt(0.01)
  auto s0 = smoothquant_factors(act, wt, 0.0);  // all difficulty stays with the activations
  ASSERT_TRUE(s0);
  EXPECT_FLOAT_EQ((*s0)[0], 0.25f);
  auto s1 = smoothquant_factors(act, wt, 1.0);  // all moves to the weights
  ASSERT_TRUE(s1);
  EXPECT_FLOAT_EQ((*s1)[2], 100.0f);
}

// With alpha = 0.5 the smoothed activation and weight channel maxima are equal:
// max|X_j|/s_j = max|W_j|*s_j = sqrt(max|X_j| max|W_j|).
TEST(SmoothQuant, HalfAlphaBalancesChannelMaxima) {
  const std::int64_t rows = 64, n = 48, k = 96;
  auto x = test::random_matrix(rows, k, 21, 1.0f, 8, 60.0f);
  auto w = test::random_matrix(n, k, 22, 0.05f);
  auto s = smoothquant_factors(channel_absmax(x, rows, k), channel_absmax(w, n, k), 0.5);
  ASSERT_TRUE(s);
  std::vector<float> gamma(k, 1.0f), beta;
  fold_smoothing_into_norm(gamma, beta, *s);
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < k; ++j) x[i * k + j] *= gamma[j];  // the norm now emits X / s
  fold_smoothing_into_weights(w, n, *s);
  const auto x_max = channel_absmax(x, rows, k), w_max = channel_absmax(w, n, k);
  for (std::int64_t j = 0; j < k; ++j) EXPECT_NEAR(x_max[j] / w_max[j], 1.0f, 1e-5f) << j;
}

// Folding keeps X W^T (up to float rounding) and makes per-token int8 quantization of an input
// with outlier channels markedly more accurate.
TEST(SmoothQuant, FoldingPreservesTheProductAndHelpsQuantization) {
  const std::int64_t rows = 32, n = 16, k = 128;
  const auto x = test::random_matrix(rows, k, 31, 1.0f, 16, 80.0f);
  const auto w = test::random_matrix(n, k, 32, 0.05f);
  auto s = smoothquant_factors(channel_absmax(x, rows, k), channel_absmax(w, n, k), 0.5);
  ASSERT_TRUE(s);
  auto xs = x;
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < k; ++j) xs[i * k + j] /= (*s)[j];
  auto ws = w;
  fold_smoothing_into_weights(ws, n, *s);

  auto product = [&](const std::vector<float>& a, const std::vector<float>& b, std::int64_t i,
                     std::int64_t o) {
    double sum = 0;
    for (std::int64_t j = 0; j < k; ++j) sum += double{a[i * k + j]} * b[o * k + j];
    return sum;
  };
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t o = 0; o < n; ++o)
      EXPECT_NEAR(product(xs, ws, i, o), product(x, w, i, o),
                  1e-4 * (1 + std::fabs(product(x, w, i, o))));

  // Relative error of dequantized activations, on the channels that are not outliers.
  auto error_on_normal_channels = [&](const std::vector<float>& a,
                                      const std::vector<float>& scale) {
    auto q =
        quantize_activations(a, rows, k, QuantType::int8, ActivationScaling::dynamic_per_token);
    double err = 0, ref = 0;
    for (std::int64_t i = 0; i < rows; ++i)
      for (std::int64_t j = 0; j < k; ++j) {
        if (j % 16 == 0) continue;
        const double back = q->unscaled_value(i, j) * q->scale(i) * scale[j];
        err += std::fabs(back - x[i * k + j]);
        ref += std::fabs(x[i * k + j]);
      }
    return err / ref;
  };
  const std::vector<float> ones(k, 1.0f);
  const double plain = error_on_normal_channels(x, ones);
  const double smoothed = error_on_normal_channels(xs, *s);
  EXPECT_LT(smoothed, plain / 3) << "plain " << plain << " smoothed " << smoothed;
}

TEST(SmoothQuant, DeadChannelsAndBadAlpha) {
  const std::vector<float> act{0.0f, 5.0f, std::numeric_limits<float>::infinity()};
  const std::vector<float> wt{1.0f, 0.0f, 1.0f};
  auto s = smoothquant_factors(act, wt, 0.5);
  ASSERT_TRUE(s);
  EXPECT_EQ(*s, std::vector<float>({1.0f, 1.0f, 1.0f}));
  for (double bad : {-0.1, 1.5, std::nan("")}) {
    auto r = smoothquant_factors(act, wt, bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().where, "smoothquant_alpha");
  }
  EXPECT_FALSE(smoothquant_factors(act, std::vector<float>{1.0f}, 0.5));
}

}  // namespace
}  // namespace qk::quant
