// The weight-only CPU kernel template (W8A16, W4A16), compiled ahead of time, against the
// reference of docs/numerics.md §6.3 within §8 (integer weights are not rounded to the
// activation type: kernel_harness.hpp, check_weight_only) on the AVX-512 tiles
// (weight_only_sweeps.hpp); and the per-group int8 packing.
#include <gtest/gtest.h>

#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using cpu::Isa;
using test::Tile;

// The config types' default tiles are AVX-512's.
constexpr Tile kDefaults{};

// The default tiles (mr = 8): m = 3, 17, 129 leave partial row tiles.
TEST(WeightOnlyKernel, W8A16AwkwardShapes) {
  test::check_w8a16_awkward_shapes<Isa::avx512, kDefaults, kDefaults>();
}

TEST(WeightOnlyKernel, W4A16AwkwardShapes) {
  test::check_w4a16_awkward_shapes<Isa::avx512, kDefaults, kDefaults>();
}

TEST(WeightOnlyKernel, SubnormalWeightsInFp16) {
  constexpr Tile decode{.mr = 1, .nv = 4};
  test::check_subnormal_weights<Isa::avx512, decode, decode, kDefaults>();
}

TEST(WeightOnlyKernel, TilesAndEpilogues) {
  constexpr Tile wide{.mr = 1, .nv = 4, .mc = 8, .nc = 128};
  constexpr Tile w8_fp16_gelu{.mr = 4, .nv = 3, .mc = 8, .nc = 96};
  constexpr Tile w4_silu_bf16{.mr = 2, .nv = 4, .mc = 4, .nc = 128};
  constexpr Tile w4_fp16_tanh{.mr = 6, .nv = 2, .mc = 12, .nc = 64};
  test::check_integer_weights_tiles_and_epilogues<Isa::avx512, wide, w8_fp16_gelu, kDefaults, wide,
                                                  w4_silu_bf16, w4_fp16_tanh>();
}

TEST(WeightOnlyKernel, BufferedKBlocksCrossGroups) {
  test::check_buffered_k_blocks_cross_groups<Isa::avx512>();
}

}  // namespace
}  // namespace qk
