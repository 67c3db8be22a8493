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

using namespace cpu;  // the configs and their enums

TEST(WeightDecoderAvx2, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoders_over_every_code<Isa::avx2>();
}

TEST(WeightDecoderAvx2, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decoders<Isa::avx2>();
}

// codegen's avx2 defaults: 4 x 16 (M > 4) and 1 x 32.
constexpr WFp8A16Config kE4m3Bf16{.isa = Isa::avx2, .mr = 4, .nv = 1};
constexpr WFp8A16Config kE4m3Fp16{.isa = Isa::avx2, .input = InputType::fp16, .mr = 1, .nv = 2};
constexpr WFp8A16Config kE5m2Bf16{
    .isa = Isa::avx2, .weight = WeightType::fp8_e5m2, .mr = 1, .nv = 2};
constexpr WFp8A16Config kE5m2Fp16{
    .isa = Isa::avx2, .weight = WeightType::fp8_e5m2, .input = InputType::fp16, .mr = 4, .nv = 1};

TEST(WeightOnlyFp8Avx2Kernel, AwkwardShapes) {
  test::check_fp8_weights_awkward_shapes<kE4m3Bf16, kE4m3Fp16, kE5m2Bf16, kE5m2Fp16>();
}

TEST(WeightOnlyFp8Avx2Kernel, TilesAndEpilogues) {
  constexpr WFp8A16Config e4m3_gelu_fp16{.isa = Isa::avx2,
                                         .input = InputType::fp16,
                                         .bias = true,
                                         .act = Act::gelu,
                                         .output = OutputType::fp16,
                                         .mr = 3,
                                         .nv = 1,
                                         .mc = 6,
                                         .nc = 96};
  constexpr WFp8A16Config e5m2_silu_bf16{.isa = Isa::avx2,
                                         .weight = WeightType::fp8_e5m2,
                                         .bias = true,
                                         .act = Act::silu,
                                         .output = OutputType::bf16,
                                         .mr = 1,
                                         .nv = 2,
                                         .mc = 8,
                                         .nc = 128};
  constexpr WFp8A16Config e4m3_relu_int8{.isa = Isa::avx2,
                                         .bias = true,
                                         .act = Act::relu,
                                         .output = OutputType::int8,
                                         .mr = 5,
                                         .nv = 1,
                                         .mc = 95,
                                         .nc = 768};
  constexpr WFp8A16Config e5m2_buffered{.isa = Isa::avx2,
                                        .weight = WeightType::fp8_e5m2,
                                        .input = InputType::fp16,
                                        .act = Act::gelu_tanh,
                                        .mr = 4,
                                        .nv = 1,
                                        .mc = 8,
                                        .nc = 64};
  test::check_fp8_weights_tiles_and_epilogues<e4m3_gelu_fp16, e5m2_silu_bf16, e4m3_relu_int8,
                                              e5m2_buffered>();
}

TEST(WeightOnlyFp8Avx2Kernel, EveryCodeIncludingNanAndInf) {
  constexpr WFp8A16Config e5m2_direct{.isa = Isa::avx2,
                                      .weight = WeightType::fp8_e5m2,
                                      .input = InputType::fp16,
                                      .mr = 5,
                                      .nv = 1,
                                      .mc = 95,
                                      .nc = 768};
  constexpr WFp8A16Config e4m3_buffered{.isa = Isa::avx2, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
  test::check_every_fp8_code_on_each<kE4m3Fp16, kE4m3Bf16, e5m2_direct, kE5m2Bf16, e4m3_buffered>();
}

}  // namespace
}  // namespace qk
