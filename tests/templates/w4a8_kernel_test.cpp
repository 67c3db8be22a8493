// The W4A8 CPU kernel template, compiled ahead of time, against the reference of
// docs/numerics.md (§6.2 for the per-group int32 sums and their fp32 folding; w4a8_checks.hpp),
// on the AVX-512 tiles; and the int4 packing.
#include <gtest/gtest.h>

#include "w4a8_checks.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums
using test::Tile;

// The config types' default tiles are AVX-512's.
constexpr Tile kDefaults{};

TEST(W4A8Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w4a8_awkward_shapes<Isa::avx512, kDefaults>();
}

TEST(W4A8Kernel, TilesScalingsAndEpilogues) {
  constexpr Tile wide{.mr = 1, .nv = 6, .mc = 8, .nc = 96};
  constexpr W4A8Config tall{.mr = 4, .nv = 2, .mc = 8, .nc = 64};
  test::check_w4a8_tiles_scalings_and_epilogues<Isa::avx512, wide, tall, kDefaults, kDefaults>(
      {1, 5, 40});
}

}  // namespace
}  // namespace qk
