// The comparison targets use: docs/numerics.md §8.
#include "quant/tolerance.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "test_data.hpp"

namespace qk::quant {
namespace {

GemmReference reference_for(const LayerConfig& layer, std::int64_t m) {
  const auto a = test::random_matrix(m, layer.k, 41);
  const auto w = test::random_matrix(layer.n, layer.k, 42, 0.05f);
  auto qw = quantize_weights(w, layer.n, layer.k, weight_format_of(layer));
  auto ref = reference_gemm(layer, {a, m, &*qw, {}, 0, 0.01f});
  EXPECT_TRUE(ref) << ref.error().str();
  return *ref;
}

LayerConfig w8a8(QuantType output) {
  LayerConfig l;
  l.name = "w8a8";
  l.n = 8;
  l.k = 256;
  l.epilogue.output = output;
  return l;
}

TEST(Tolerance, AcceptsTheReferenceAndSmallFloatNoise) {
  const LayerConfig layer = w8a8(QuantType::fp32);
  const GemmReference ref = reference_for(layer, 4);
  EXPECT_TRUE(compare_to_reference(layer, ref, ref.y));
  auto nudged = ref.y;
  for (float& v : nudged) v = std::nextafter(v, 2 * v);  // one fp32 ulp
  EXPECT_TRUE(compare_to_reference(layer, ref, nudged));
}

TEST(Tolerance, RejectsAWrongElementAndNamesIt) {
  const LayerConfig layer = w8a8(QuantType::fp16);
  const GemmReference ref = reference_for(layer, 4);
  auto wrong = ref.y;
  wrong[2 * 8 + 5] += 0.05f * (std::fabs(wrong[2 * 8 + 5]) + 1.0f);  // far beyond fp16 rounding
  auto r = compare_to_reference(layer, ref, wrong);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("1 of 32"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("y[2, 5]"), std::string::npos) << r.error().message;
}

TEST(Tolerance, Int8OutputsMayDifferByOneCode) {
  const LayerConfig layer = w8a8(QuantType::int8);
  const GemmReference ref = reference_for(layer, 2);
  auto off_by_one = ref.y;
  off_by_one[0] += 1;
  EXPECT_TRUE(compare_to_reference(layer, ref, off_by_one));
  off_by_one[0] += 1;
  EXPECT_FALSE(compare_to_reference(layer, ref, off_by_one));
}

// Float accumulation allows more slack than exact integer accumulation, growing with K.
TEST(Tolerance, FloatFamiliesScaleWithK) {
  LayerConfig int_layer = w8a8(QuantType::fp32);
  LayerConfig float_layer = int_layer;
  float_layer.weight_quant = float_layer.activation_quant = float_layer.input_dtype =
      QuantType::fp16;
  float_layer.activation_scaling = ActivationScaling::none;
  EXPECT_LT(gemm_tolerance(int_layer).magnitude_rtol, gemm_tolerance(float_layer).magnitude_rtol);
  LayerConfig longer = float_layer;
  longer.k = 4096;
  EXPECT_LT(gemm_tolerance(float_layer).magnitude_rtol, gemm_tolerance(longer).magnitude_rtol);
}

}  // namespace
}  // namespace qk::quant
