// The weight-only CPU kernel template (W8A16, W4A16), compiled ahead of time, against the
// reference of docs/numerics.md §6.3 within §8 (integer weights are not rounded to the
// activation type: kernel_harness.hpp, check_weight_only) on the AVX-512 tiles
// (weight_only_sweeps.hpp); and the per-group int8 packing.
#include <gtest/gtest.h>

#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums

constexpr W8A16Config kW8Bf16{};
constexpr W8A16Config kW8Fp16{.input = InputType::fp16};
constexpr W4A16Config kW4Bf16{};
constexpr W4A16Config kW4Fp16{.input = InputType::fp16};

// The default tiles (mr = 8): m = 3, 17, 129 leave partial row tiles.
TEST(WeightOnlyKernel, W8A16AwkwardShapes) {
  test::check_w8a16_awkward_shapes<kW8Bf16, kW8Fp16>();
}

TEST(WeightOnlyKernel, W4A16AwkwardShapes) {
  test::check_w4a16_awkward_shapes<kW4Bf16, kW4Fp16>();
}

TEST(WeightOnlyKernel, SubnormalWeightsInFp16) {
  constexpr W8A16Config w8_decode{.input = InputType::fp16, .mr = 1, .nv = 4};
  constexpr W4A16Config w4_decode{.input = InputType::fp16, .mr = 1, .nv = 4};
  test::check_subnormal_weights<w8_decode, w4_decode, kW4Fp16>();
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
  test::check_integer_weights_tiles_and_epilogues<w8_wide, w8_fp16_gelu, w8_relu_int8, w4_wide,
                                                  w4_silu_bf16, w4_fp16_tanh>();
}

TEST(WeightOnlyKernel, BufferedKBlocksCrossGroups) {
  constexpr W8A16Config w8{.input = InputType::fp16, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
  constexpr W4A16Config w4{.mr = 4, .nv = 1, .mc = 8, .nc = 64};
  test::check_buffered_k_blocks_cross_groups<w8, w4>();
}

}  // namespace
}  // namespace qk
