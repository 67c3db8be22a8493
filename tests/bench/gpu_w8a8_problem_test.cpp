// The problems qk-gpu-check runs on a GPU, checked where they can be: on the CPU. The variants
// are exactly the configs the cuda target implements, and the "exact" problem really is exact:
// its reference output equals the integer accumulator plus the bias, so a device's output that
// differs from it in any bit has a wrong integer part.
#include "bench/gpu/w8a8_problem.hpp"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "codegen/cuda_kernel_spec.hpp"
#include "quant/float_formats.hpp"

namespace qk::bench::gpu {
namespace {

TEST(GpuW8A8Variants, AreTheSixteenConfigsTheCudaTargetImplements) {
  const auto variants = w8a8_cuda_variants();
  ASSERT_EQ(variants.size(), 16u);
  std::set<std::string> names, labels;
  for (const LayerConfig& layer : variants) {
    EXPECT_TRUE(validate_layer(layer, "variant").empty()) << variant_label(layer);
    labels.insert(variant_label(layer));
    for (codegen::CudaArch arch : codegen::kCudaArchs)
      for (const codegen::CudaTile& tile : codegen::cuda_tiles(GemmFamily::w8a8)) {
        auto spec = codegen::cuda_kernel_spec(layer, tile, arch);
        ASSERT_TRUE(spec) << spec.error().str();
        names.insert(codegen::canonical_name(*spec));
      }
  }
  EXPECT_EQ(labels.size(), 16u);
  EXPECT_EQ(names.size(), 16u * 4 * codegen::cuda_tiles(GemmFamily::w8a8).size());
}

TEST(GpuW8A8Problem, TheExactProblemsOutputIsItsIntegerResult) {
  for (const LayerConfig& variant : w8a8_cuda_variants()) {
    auto p = exact_problem(variant, 19, 37, 48);
    ASSERT_TRUE(p) << p.error().str();
    for (float s : p->weights.scales) ASSERT_EQ(s, 1.0f);
    std::vector<std::int64_t> rows(19);
    for (int i = 0; i < 19; ++i) rows[i] = i;
    auto ref = reference_rows(*p, rows);
    ASSERT_TRUE(ref) << ref.error().str();
    ASSERT_TRUE(ref->activations.has_value());
    for (float s : ref->activations->scales) ASSERT_EQ(s, 1.0f) << variant_label(variant);
    bool some_negative = false, some_large = false;
    for (std::int64_t i = 0; i < 19; ++i)
      for (std::int64_t j = 0; j < 37; ++j) {
        const double expected = ref->int_accumulators[i * 37 + j] + p->bias[j];
        ASSERT_EQ(ref->y[i * 37 + j], expected) << variant_label(variant) << " " << i << "," << j;
        ASSERT_LE(std::fabs(expected), 256.0);
        some_negative |= expected < 0;
        some_large |= std::fabs(expected) > 100;
      }
    EXPECT_TRUE(some_negative && some_large) << "the values exercise sign and magnitude";
  }
}

TEST(GpuW8A8Problem, RandomProblemsHaveTheirShapeAndInputsInTheInputType) {
  LayerConfig variant = w8a8_cuda_variants()[5];
  auto p = random_problem(variant, 3, 7, 48, 1);
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_EQ(p->a.size(), 3u * 48);
  EXPECT_EQ(p->weights.scales.size(), 7u);
  EXPECT_EQ(p->bias.size(), 7u);
  for (float x : p->a) EXPECT_EQ(quant::round_to(variant.input_dtype, x), x);
  auto ref = reference_rows(*p, {0, 2});
  ASSERT_TRUE(ref) << ref.error().str();
  EXPECT_EQ(ref->y.size(), 2u * 7);
}

TEST(GpuW8A8Problem, AsVariantIsTheProblemGeneratedForThatVariant) {
  const auto variants = w8a8_cuda_variants();
  LayerConfig with_bias = variants[0];
  with_bias.epilogue.bias = true;
  auto base = random_problem(with_bias, 4, 9, 64, 7);
  ASSERT_TRUE(base) << base.error().str();
  for (const LayerConfig& v : variants) {
    if (v.input_dtype != with_bias.input_dtype) continue;
    const HostProblem reused = as_variant(*base, v);
    auto fresh = random_problem(v, 4, 9, 64, 7);
    ASSERT_TRUE(fresh) << fresh.error().str();
    EXPECT_EQ(reused.a, fresh->a);
    EXPECT_EQ(reused.bias, fresh->bias) << variant_label(v);
    auto r1 = reference_rows(reused, {0, 3});
    auto r2 = reference_rows(*fresh, {0, 3});
    ASSERT_TRUE(r1 && r2);
    EXPECT_EQ(r1->y, r2->y) << variant_label(v);
  }
}

}  // namespace
}  // namespace qk::bench::gpu
