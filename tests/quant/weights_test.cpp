// Weight quantization and canonical storage: docs/numerics.md §3 and §5.
#include "quant/weights.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "quant/float_formats.hpp"
#include "quant/int4_pack.hpp"
#include "test_data.hpp"

namespace qk::quant {
namespace {

WeightFormat format(QuantType t, WeightGranularity g, int block = 0, bool symmetric = true) {
  return {t, g, block, symmetric};
}

// The absmax of the elements sharing scale `s`, recomputed here from the definition of §3.
float group_absmax(const std::vector<float>& w, std::int64_t k, std::int64_t row0,
                   std::int64_t rows, std::int64_t col0, std::int64_t cols) {
  float amax = 0;
  for (std::int64_t i = row0; i < row0 + rows; ++i)
    for (std::int64_t j = col0; j < col0 + cols; ++j)
      amax = std::max(amax, std::fabs(w[i * k + j]));
  return amax;
}

// §3: one scale per tensor / channel / group, each amax / qmax of exactly its own elements.
TEST(Weights, ScalesCoverTheirOwnElements) {
  const std::int64_t n = 5, k = 256;
  const auto w = test::random_matrix(n, k, 1, 0.05f, 7, 20.0f);
  auto per_tensor =
      quantize_weights(w, n, k, format(QuantType::int8, WeightGranularity::per_tensor));
  ASSERT_TRUE(per_tensor);
  ASSERT_EQ(per_tensor->scales.size(), 1u);
  EXPECT_FLOAT_EQ(per_tensor->scales[0], group_absmax(w, k, 0, n, 0, k) / 127.0f);

  auto per_channel =
      quantize_weights(w, n, k, format(QuantType::int8, WeightGranularity::per_channel));
  ASSERT_TRUE(per_channel);
  ASSERT_EQ(per_channel->scales.size(), static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    EXPECT_FLOAT_EQ(per_channel->scales[i], group_absmax(w, k, i, 1, 0, k) / 127.0f);

  auto per_group =
      quantize_weights(w, n, k, format(QuantType::int4, WeightGranularity::per_group, 64));
  ASSERT_TRUE(per_group);
  ASSERT_EQ(per_group->scales.size(), static_cast<std::size_t>(n * 4));
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t g = 0; g < 4; ++g)
      EXPECT_FLOAT_EQ(per_group->scales[i * 4 + g], group_absmax(w, k, i, 1, g * 64, 64) / 7.0f);
}

// §3 + §4: every dequantized element is within half a step of its group's scale.
TEST(Weights, DequantizedWithinHalfStep) {
  const std::int64_t n = 7, k = 384;
  const auto w = test::random_matrix(n, k, 2, 0.02f);
  for (auto f : {format(QuantType::int8, WeightGranularity::per_channel),
                 format(QuantType::int8, WeightGranularity::per_group, 128),
                 format(QuantType::int4, WeightGranularity::per_group, 128),
                 format(QuantType::int4, WeightGranularity::per_group, 32, false),
                 format(QuantType::int4, WeightGranularity::per_channel, 0, false)}) {
    auto q = quantize_weights(w, n, k, f);
    ASSERT_TRUE(q) << q.error().str();
    const auto back = dequantize_weights(*q);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < k; ++j)
        ASSERT_LE(std::fabs(back[i * k + j] - w[i * k + j]), 0.5001f * q->scale(i, j))
            << to_string(f.type) << " block " << f.block_size << " at " << i << "," << j;
  }
}

// §5: the stored bytes are the canonical layout: int8 two's complement, int4 nibbles low first
// holding value + zero point.
TEST(Weights, CanonicalStorage) {
  const std::int64_t n = 2, k = 3;
  const std::vector<float> w{-7, 0,  7,  //
                             3,  -3, 1};
  auto q8 = quantize_weights(w, n, k, format(QuantType::int8, WeightGranularity::per_tensor));
  ASSERT_TRUE(q8);  // scale 7/127: codes -127, 0, 127 ...
  EXPECT_EQ(q8->codes[0], 0x81);
  EXPECT_EQ(q8->codes[1], 0x00);
  EXPECT_EQ(q8->codes[2], 0x7F);
  auto q4 = quantize_weights(w, n, k, format(QuantType::int4, WeightGranularity::per_tensor));
  ASSERT_TRUE(q4);  // scale 1: values -7, 0, 7 -> codes 1, 8, 15; row 1: 3, -3, 1 -> 11, 5, 9
  const std::vector<std::uint8_t> expected{0x81, 0x0F, 0x5B, 0x09};
  EXPECT_EQ(q4->codes, expected);
  EXPECT_EQ(q4->int_value(1, 1), -3);
}

// Float weight formats store rounded values and no scales.
TEST(Weights, FloatFormatsRoundToNearest) {
  const std::vector<float> w{1.0f / 3.0f, -2.0f, 65504.0f, 1e-3f};
  for (QuantType t : {QuantType::fp16, QuantType::bf16, QuantType::fp32}) {
    auto q = quantize_weights(w, 1, 4, format(t, WeightGranularity::per_tensor));
    ASSERT_TRUE(q);
    EXPECT_TRUE(q->scales.empty());
    for (std::int64_t j = 0; j < 4; ++j) EXPECT_EQ(q->value(0, j), round_to(t, w[j]));
  }
}

TEST(Weights, RejectsBadShapes) {
  const std::vector<float> w(100, 1.0f);
  auto wrong_size =
      quantize_weights(w, 3, 33, format(QuantType::int8, WeightGranularity::per_channel));
  ASSERT_FALSE(wrong_size);
  EXPECT_NE(wrong_size.error().message.find("100"), std::string::npos);
  auto not_multiple =
      quantize_weights(w, 1, 100, format(QuantType::int4, WeightGranularity::per_group, 32));
  ASSERT_FALSE(not_multiple);
  EXPECT_NE(not_multiple.error().message.find("block_size 32"), std::string::npos);
  auto asym_int8 = quantize_weights(
      w, 1, 100, format(QuantType::int8, WeightGranularity::per_channel, 0, false));
  ASSERT_FALSE(asym_int8);
  EXPECT_NE(asym_int8.error().message.find("int4 only"), std::string::npos);
}

}  // namespace
}  // namespace qk::quant
