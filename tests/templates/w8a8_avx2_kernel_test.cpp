// The W8A8 CPU kernel template for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with
// AVX-512 disabled (tests/CMakeLists.txt: a use of AVX-512 in its code path does not compile),
// against the reference of docs/numerics.md on awkward shapes, every scaling and epilogue
// (w8a8_checks.hpp), on the AVX2 tiles.
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "w8a8_checks.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums
using test::Tile;

// The largest tiles within 16 ymm: 4 x 16 (15 registers) and 1 x 32.
constexpr Tile kPlain{.mr = 4, .nv = 1, .kc = 16384, .mc = 96, .nc = 960};

TEST(W8A8Avx2Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w8a8_awkward_shapes<Isa::avx2, kPlain>();
}

TEST(W8A8Avx2Kernel, SmallTilesAndKBlocking) {
  constexpr Tile small{.mr = 3, .nv = 1, .kc = 64, .mc = 6, .nc = 32};
  constexpr Tile wide{.mr = 1, .nv = 2, .kc = 128, .mc = 8, .nc = 64};
  constexpr Tile tall{.mr = 4, .nv = 1, .kc = 256, .mc = 8, .nc = 48};
  test::check_w8a8_k_blocking<Isa::avx2, small, wide, tall>();
}

TEST(W8A8Avx2Kernel, EveryScalingInputAndEpilogue) {
  constexpr W8A8Config static_bf16_out{.isa = Isa::avx2,
                                       .input = InputType::bf16,
                                       .scaling = Scaling::static_per_tensor,
                                       .bias = true,
                                       .act = Act::none,
                                       .output = OutputType::int8,
                                       .mr = 4,
                                       .nv = 1,
                                       .mc = 96,
                                       .nc = 1024};
  // One more case on AVX2: bf16 activations, a static scale and an int8 output.
  test::check_w8a8_scalings_and_epilogues<Isa::avx2, Tile{.mr = 4, .nv = 1}, Tile{.mr = 2, .nv = 1},
                                          Tile{.mr = 1, .nv = 2}, Tile{.mr = 3, .nv = 1}>(
      {1, 3, 7, 40},
      {{test::check_w8a8<static_bf16_out>, 23, 77, {WeightGranularity::per_tensor}}});
}

// The AVX2 sums never wrap at the K bound (no u8 offset).
TEST(W8A8Avx2Kernel, ExactAtTheKBound) {
  test::check_w8a8_at_the_k_bound<Isa::avx2, kPlain>();
}

}  // namespace
}  // namespace qk
