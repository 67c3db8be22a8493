// The weight-only kernel template for AVX2 (Isa::avx2) with integer weights, W8A16 and W4A16,
// compiled ahead of time for x86-64-v3 with AVX-512 disabled (tests/CMakeLists.txt), against the
// reference of docs/numerics.md §6.3 within §8 (integer weights are not rounded to the
// activation type: kernel_harness.hpp, check_weight_only) (weight_only_sweeps.hpp, on the AVX2
// tiles).
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums
using test::check_weight_only_kernel;
using test::Tile;

// Tiles of codegen's avx2 buckets: 1 x 32 (M = 1) and 4 x 16 (M = 3 and up; 2 x 16, M = 2's, is
// among TilesAndEpilogues').
constexpr Tile kRows{.mr = 4, .nv = 1};
constexpr Tile kDecode{.mr = 1, .nv = 2};
constexpr W4A16Config kW4Bf16 = test::w4a16_bf16<Isa::avx2, kRows>;
constexpr W4A16Config kW4Decode = test::w4a16_fp16<Isa::avx2, kDecode>;

// m = 3, 17, 129 leave partial row tiles against mr = 4, n = 33, 130 the second ymm of a panel
// partly or wholly past n; the decode tile too.
TEST(WeightOnlyAvx2Kernel, W8A16AwkwardShapes) {
  constexpr W8A16Config w8_decode = test::w8a16_bf16<Isa::avx2, kDecode>;
  test::check_w8a16_awkward_shapes<Isa::avx2, kRows, kRows>(
      {{check_weight_only_kernel<w8_decode>, 201, {WeightGranularity::per_tensor}}});
}

// int4 with groups of 32 to 256, with and without zero points, and per channel.
TEST(WeightOnlyAvx2Kernel, W4A16AwkwardShapesAndGroups) {
  unsigned seed = test::check_w4a16_awkward_shapes<Isa::avx2, kRows, kRows>(
      {{check_weight_only_kernel<kW4Decode>, 512, {WeightGranularity::per_group, 256, false}}});
  for (int group : {32, 64, 128, 256})
    for (bool symmetric : {true, false}) {
      check_weight_only_kernel<kW4Decode>(1, 70, 512,
                                          {WeightGranularity::per_group, group, symmetric}, seed++);
      check_weight_only_kernel<kW4Bf16>(9, 70, 512,
                                        {WeightGranularity::per_group, group, symmetric}, seed++);
    }
}

TEST(WeightOnlyAvx2Kernel, SubnormalWeightsInFp16) {
  test::check_subnormal_weights<Isa::avx2, kDecode, kDecode, kRows>();
}

// Tiles within 16 ymm other than the defaults (1 x 32, 2 x 16, 3 x 16, 5 x 16), and every epilogue:
// bias, activation functions, fp16/bf16/int8 outputs.
TEST(WeightOnlyAvx2Kernel, TilesAndEpilogues) {
  constexpr Tile w8_wide{.mr = 1, .nv = 2, .mc = 8, .nc = 128};
  constexpr Tile w8_fp16_gelu{.mr = 2, .nv = 1, .mc = 8, .nc = 96};
  constexpr Tile w8_relu_int8{.mr = 5, .nv = 1, .mc = 10, .nc = 64};
  constexpr Tile w4_wide{.mr = 1, .nv = 2, .mc = 8, .nc = 96};
  constexpr Tile w4_silu_bf16{.mr = 2, .nv = 1, .mc = 4, .nc = 128};
  constexpr Tile w4_fp16_tanh{.mr = 3, .nv = 1, .mc = 12, .nc = 64};
  test::check_integer_weights_tiles_and_epilogues<Isa::avx2, w8_wide, w8_fp16_gelu, w8_relu_int8,
                                                  w4_wide, w4_silu_bf16, w4_fp16_tanh>();
}

TEST(WeightOnlyAvx2Kernel, BufferedKBlocksCrossGroups) {
  test::check_buffered_k_blocks_cross_groups<Isa::avx2>();
}

}  // namespace
}  // namespace qk
