// The float baselines fp16, bf16, fp32 (docs/numerics.md §6.5) on the weight-only kernel template
// for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with AVX-512 disabled
// (tests/CMakeLists.txt), against the reference: awkward shapes, tiles, epilogues
// (weight_only_sweeps.hpp, on the AVX2 tiles).
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using cpu::Isa;
using test::Tile;

constexpr Tile kRows{.mr = 4, .nv = 1};
constexpr Tile kDecode{.mr = 1, .nv = 2};

TEST(FloatBaselineAvx2Kernel, AwkwardShapes) {
  test::check_float_baseline_awkward_shapes<Isa::avx2, kRows, kDecode, kRows,
                                            test::fp16_baseline<Isa::avx2, kDecode>,
                                            test::bf16_baseline<Isa::avx2, kRows>>();
}

TEST(FloatBaselineAvx2Kernel, TilesAndEpilogues) {
  constexpr Tile fp16_gelu_fp16{.mr = 3, .nv = 1, .mc = 6, .nc = 96};
  constexpr Tile bf16_silu_bf16{.mr = 1, .nv = 2, .mc = 8, .nc = 128};
  constexpr Tile fp32_relu_int8{.mr = 5, .nv = 1, .mc = 95, .nc = 768};
  constexpr Tile fp32_buffered{.mr = 2, .nv = 1, .mc = 6, .nc = 64};
  test::check_float_baseline_tiles_and_epilogues<Isa::avx2, fp16_gelu_fp16, bf16_silu_bf16,
                                                 fp32_relu_int8, fp32_buffered>();
}

}  // namespace
}  // namespace qk
