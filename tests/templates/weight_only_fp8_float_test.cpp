// The weight-only kernel template with fp8 weights (WFP8A16, docs/numerics.md §6.3) and as the
// float baselines fp16, bf16, fp32 (§6.5), compiled ahead of time, against the reference, on the
// AVX-512 tiles (weight_only_sweeps.hpp). The fp8 decoder is checked alone over all 256 codes of
// both formats, and through the whole kernel on weights holding every code, NaN and Inf included.
#include <gtest/gtest.h>

#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using cpu::Isa;
using test::Tile;

// The config types' default tiles are AVX-512's.
constexpr Tile kDefaults{};

TEST(WeightDecoder, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoders_over_every_code<Isa::avx512>();
}

TEST(WeightDecoder, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decoders<Isa::avx512>();
}

// The default tiles (mr = 8): m = 3, 17, 129 leave partial row tiles.
TEST(WeightOnlyFp8Kernel, AwkwardShapes) {
  test::check_fp8_weights_awkward_shapes<Isa::avx512, kDefaults, kDefaults, kDefaults, kDefaults>();
}

TEST(FloatBaselineKernel, AwkwardShapes) {
  test::check_float_baseline_awkward_shapes<Isa::avx512, kDefaults, kDefaults, kDefaults>();
}

// Tiles that the fp8 and the float-baseline epilogue checks share.
constexpr Tile kGeluFp16{.mr = 4, .nv = 3, .mc = 8, .nc = 96};
constexpr Tile kSiluBf16{.mr = 1, .nv = 4, .mc = 8, .nc = 128};

TEST(WeightOnlyFp8Kernel, TilesAndEpilogues) {
  test::check_fp8_weights_tiles_and_epilogues<Isa::avx512, kGeluFp16, kSiluBf16, kDefaults>();
}

TEST(FloatBaselineKernel, TilesAndEpilogues) {
  constexpr Tile fp32_buffered{.mr = 2, .nv = 2, .mc = 6, .nc = 64};
  test::check_float_baseline_tiles_and_epilogues<Isa::avx512, kGeluFp16, kSiluBf16, kDefaults,
                                                 fp32_buffered>();
}

TEST(WeightOnlyFp8Kernel, EveryCodeIncludingNanAndInf) {
  test::check_every_fp8_code_on_each<Isa::avx512, kDefaults, kDefaults, kDefaults, kDefaults>();
}

}  // namespace
}  // namespace qk
