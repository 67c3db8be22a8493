// The weight-only CPU kernel template (W8A16, W4A16), compiled ahead of time, against the
// reference of docs/numerics.md §6.3: weights dequantized to the activation type, fp32 sums.
#include <gtest/gtest.h>

#include "weight_only_checks.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::OutputType;
using cpu::W4A16Config;
using cpu::W8A16Config;

using test::Weights;

// The shared check (weight_only_checks.hpp), named briefly for the case lists below.
template <auto C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, Weights w, unsigned seed) {
  test::check_weight_only_kernel<C>(m, n, k, w, seed);
}

constexpr W8A16Config kW8Bf16{};
constexpr W8A16Config kW8Fp16{.input = InputType::fp16};
constexpr W4A16Config kW4Bf16{};
constexpr W4A16Config kW4Fp16{.input = InputType::fp16};

// Awkward shapes: partial row tiles (m = 3, 17, 129 against mr = 8), partial column panels and
// tiles (n = 33, 130), K not a multiple of the packing step (per-channel k = 37, 201).
TEST(WeightOnlyKernel, W8A16AwkwardShapes) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kW8Bf16>(m, n, 201, {WeightGranularity::per_channel, 0}, seed++);
      check<kW8Fp16>(m, n, 37, {WeightGranularity::per_tensor, 0}, seed++);
      check<kW8Bf16>(m, n, 256, {WeightGranularity::per_group, 128}, seed++);
      check<kW8Fp16>(m, n, 96, {WeightGranularity::per_group, 32}, seed++);
    }
}

TEST(WeightOnlyKernel, W4A16AwkwardShapes) {
  unsigned seed = 1000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kW4Bf16>(m, n, 256, {WeightGranularity::per_group, 128, true}, seed++);
      check<kW4Fp16>(m, n, 96, {WeightGranularity::per_group, 32, false}, seed++);
      check<kW4Bf16>(m, n, 200, {WeightGranularity::per_channel, 0, false}, seed++);
      check<kW4Fp16>(m, n, 37, {WeightGranularity::per_channel, 0, true}, seed++);
    }
}

// Tiles other than the defaults, and every epilogue: bias, activation functions, fp16/bf16/int8
// outputs.
// Decode (the in-register tile) and a buffered block on weights that are fp16 subnormals.
TEST(WeightOnlyKernel, SubnormalWeightsInFp16) {
  constexpr W8A16Config w8_decode{.input = InputType::fp16, .mr = 1, .nv = 4};
  constexpr W4A16Config w4_decode{.input = InputType::fp16, .mr = 1, .nv = 4};
  for (std::int64_t m : {1, 9}) {
    test::check_weight_only_subnormal_weights<w8_decode>(m, 3000 + m);
    test::check_weight_only_subnormal_weights<w4_decode>(m, 3100 + m);
    test::check_weight_only_subnormal_weights<kW4Fp16>(m, 3200 + m);
  }
}

TEST(WeightOnlyKernel, TilesAndEpilogues) {
  constexpr W8A16Config w8_wide{.mr = 1, .nv = 4, .mc = 8, .nc = 128};
  constexpr W8A16Config w8_fp16_gelu{.input = InputType::fp16,
                                     .bias = true,
                                     .act = Act::gelu,
                                     .output = OutputType::fp16,
                                     .mr = 4,
                                     .nv = 3,
                                     .mc = 8,
                                     .nc = 96};
  constexpr W8A16Config w8_relu_int8{.bias = true, .act = Act::relu, .output = OutputType::int8};
  constexpr W4A16Config w4_wide{.mr = 1, .nv = 4, .mc = 8, .nc = 128};
  constexpr W4A16Config w4_silu_bf16{.bias = true,
                                     .act = Act::silu,
                                     .output = OutputType::bf16,
                                     .mr = 2,
                                     .nv = 4,
                                     .mc = 4,
                                     .nc = 128};
  constexpr W4A16Config w4_fp16_tanh{.input = InputType::fp16,
                                     .act = Act::gelu_tanh,
                                     .output = OutputType::fp32,
                                     .mr = 6,
                                     .nv = 2,
                                     .mc = 12,
                                     .nc = 64};
  unsigned seed = 2000;
  for (std::int64_t m : {1, 5, 40}) {
    check<w8_wide>(m, 150, 384, {WeightGranularity::per_group, 64}, seed++);
    check<w8_fp16_gelu>(m, 70, 300, {WeightGranularity::per_channel, 0}, seed++);
    check<w8_relu_int8>(m, 33, 64, {WeightGranularity::per_tensor, 0}, seed++);
    check<w4_wide>(m, 150, 384, {WeightGranularity::per_group, 128, false}, seed++);
    check<w4_silu_bf16>(m, 70, 512, {WeightGranularity::per_group, 256, true}, seed++);
    check<w4_fp16_tanh>(m, 48, 64, {WeightGranularity::per_tensor, 0, false}, seed++);
  }
}

// Cache blocks of more rows than one register tile dequantize K blocks of weights into the
// workspace once and run FMA-only tiles on them, carrying fp32 sums between K blocks. With
// mc = 8, nc = 64 and nv = 1 a K block is 24 values: blocks that cross scale groups (32) and end
// inside them, a short last block (k_padded = 40), the direct path for m <= mr.
TEST(WeightOnlyKernel, BufferedKBlocksCrossGroups) {
  constexpr W8A16Config w8{.input = InputType::fp16, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
  constexpr W4A16Config w4{.mr = 4, .nv = 1, .mc = 8, .nc = 64};
  static_assert(cpu::WeightOnlyKernel<w8>::BUFFER_K == 24);
  unsigned seed = 3000;
  for (std::int64_t m : {3, 5, 8, 13, 29}) {
    check<w8>(m, 40, 160, {WeightGranularity::per_group, 32}, seed++);
    check<w8>(m, 40, 37, {WeightGranularity::per_channel, 0}, seed++);
    check<w4>(m, 40, 160, {WeightGranularity::per_group, 32, false}, seed++);
    check<w4>(m, 40, 37, {WeightGranularity::per_channel, 0, true}, seed++);
  }
}

// quant/pack_cpu.hpp: per-group int8 weights (new with W8A16) keep every value in the panel
// layout of W8A8, and each group's scale lands at [g][n_padded].
TEST(WeightOnlyKernel, PerGroupInt8PackingKeepsEveryWeightAndScale) {
  const std::int64_t n = 37, k = 96;
  const auto w = test::random_matrix(n, k, 9, 0.1f);
  auto qw =
      quant::quantize_weights(w, n, k, {QuantType::int8, WeightGranularity::per_group, 32, true});
  ASSERT_TRUE(qw);
  auto packed = quant::pack_cpu_int8(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  ASSERT_EQ(packed->groups, 3);
  ASSERT_EQ(packed->group_k, 32);
  ASSERT_EQ(packed->n_padded, 48);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      ASSERT_EQ(quant::cpu_packed_weight(*packed, row, kk), qw->int_value(row, kk))
          << row << "," << kk;
      ASSERT_EQ(packed->scales[(kk / 32) * packed->n_padded + row], qw->scale(row, kk))
          << row << "," << kk;
    }
  // Row 17 is lane 1 of panel 1; k = 13 is byte 1 of lane 1 in 4-k block 3.
  EXPECT_EQ(packed->panels[1 * 16 * 96 + 3 * 64 + 1 * 4 + 1], qw->int_value(17, 13));
  // Every byte of the panels is some weight or zero padding: padding rows are zero.
  for (std::int64_t row = n; row < packed->n_padded; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk)
      ASSERT_EQ(quant::cpu_packed_weight(*packed, row, kk), 0);
}

}  // namespace
}  // namespace qk
