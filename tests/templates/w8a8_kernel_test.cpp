// The W8A8 CPU kernel template, compiled ahead of time (templates stay real C++), against the
// reference of docs/numerics.md on awkward shapes and every epilogue (w8a8_checks.hpp), on the
// AVX-512 tiles.
#include <gtest/gtest.h>

#include "w8a8_checks.hpp"

namespace qk {
namespace {

using cpu::Isa;
using test::Tile;

// The config types' default tiles are AVX-512's.
constexpr Tile kDefaults{};

TEST(W8A8Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w8a8_awkward_shapes<Isa::avx512, kDefaults>();
}

TEST(W8A8Kernel, SmallTilesAndKBlocking) {
  constexpr Tile small{.mr = 2, .nv = 1, .kc = 64, .mc = 4, .nc = 32};
  constexpr Tile wide{.mr = 1, .nv = 8, .kc = 128, .mc = 8, .nc = 256};
  constexpr Tile tall{.mr = 14, .nv = 2, .kc = 256, .mc = 28, .nc = 64};
  test::check_w8a8_k_blocking<Isa::avx512, small, wide, tall>();
}

TEST(W8A8Kernel, EveryScalingInputAndEpilogue) {
  test::check_w8a8_scalings_and_epilogues<Isa::avx512, kDefaults, kDefaults, kDefaults, kDefaults>(
      {1, 7, 40});
}

// At the K bound the u8 offset makes the raw sums wrap; the result is still exact.
TEST(W8A8Kernel, ExactAtTheKBound) {
  test::check_w8a8_at_the_k_bound<Isa::avx512, kDefaults>();
}

}  // namespace
}  // namespace qk
