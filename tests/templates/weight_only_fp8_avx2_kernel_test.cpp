// The weight-only kernel template for AVX2 (Isa::avx2) with fp8 weights (WFP8A16, docs/numerics.md
// §6.3), compiled ahead of time for x86-64-v3 with AVX-512 disabled (tests/CMakeLists.txt): the
// decoder alone over all 256 codes of both formats, bit-exact, and scaled and rounded as the
// contract; the whole kernel on awkward shapes, epilogues, and weights holding every code
// (weight_only_sweeps.hpp, on the AVX2 tiles).
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using cpu::Isa;
using test::Tile;

TEST(WeightDecoderAvx2, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoders_over_every_code<Isa::avx2>();
}

TEST(WeightDecoderAvx2, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decoders<Isa::avx2>();
}

// codegen's avx2 defaults: 4 x 16 (M > 4) and 1 x 32.
constexpr Tile kRows{.mr = 4, .nv = 1};
constexpr Tile kDecode{.mr = 1, .nv = 2};

TEST(WeightOnlyFp8Avx2Kernel, AwkwardShapes) {
  test::check_fp8_weights_awkward_shapes<Isa::avx2, kRows, kDecode, kDecode, kRows>();
}

// 5 x 16, in cache blocks of 95 rows (a multiple of mr).
constexpr Tile kFiveRows{.mr = 5, .nv = 1, .mc = 95, .nc = 768};

TEST(WeightOnlyFp8Avx2Kernel, TilesAndEpilogues) {
  constexpr Tile e4m3_gelu_fp16{.mr = 3, .nv = 1, .mc = 6, .nc = 96};
  constexpr Tile e5m2_silu_bf16{.mr = 1, .nv = 2, .mc = 8, .nc = 128};
  test::check_fp8_weights_tiles_and_epilogues<Isa::avx2, e4m3_gelu_fp16, e5m2_silu_bf16,
                                              kFiveRows>();
}

TEST(WeightOnlyFp8Avx2Kernel, EveryCodeIncludingNanAndInf) {
  test::check_every_fp8_code_on_each<Isa::avx2, kDecode, kRows, kFiveRows, kDecode>();
}

}  // namespace
}  // namespace qk
