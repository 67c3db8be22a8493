// The weight-only kernel template with fp8 weights (WFP8A16, docs/numerics.md §6.3) and as the
// float baselines fp16, bf16, fp32 (§6.5), compiled ahead of time, against the reference, on the
// AVX-512 tiles (weight_only_sweeps.hpp). The fp8 decoder is checked alone over all 256 codes of
// both formats, and through the whole kernel on weights holding every code, NaN and Inf included.
#include <gtest/gtest.h>

#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums

TEST(WeightDecoder, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoders_over_every_code<Isa::avx512>();
}

TEST(WeightDecoder, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decoders<Isa::avx512>();
}

constexpr WFp8A16Config kE4m3Bf16{};
constexpr WFp8A16Config kE4m3Fp16{.input = InputType::fp16};
constexpr WFp8A16Config kE5m2Bf16{.weight = WeightType::fp8_e5m2};
constexpr WFp8A16Config kE5m2Fp16{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};

// The default tiles (mr = 8): m = 3, 17, 129 leave partial row tiles.
TEST(WeightOnlyFp8Kernel, AwkwardShapes) {
  test::check_fp8_weights_awkward_shapes<kE4m3Bf16, kE4m3Fp16, kE5m2Bf16, kE5m2Fp16>();
}

constexpr FloatConfig kFp16{.weight = WeightType::fp16, .input = InputType::fp16};
constexpr FloatConfig kBf16{.weight = WeightType::bf16, .input = InputType::bf16};
constexpr FloatConfig kFp32{.weight = WeightType::fp32, .input = InputType::fp32};

TEST(FloatBaselineKernel, AwkwardShapes) {
  test::check_float_baseline_awkward_shapes<kFp16, kBf16, kFp32>();
}

TEST(WeightOnlyFp8Kernel, TilesAndEpilogues) {
  constexpr WFp8A16Config e4m3_gelu_fp16{.input = InputType::fp16,
                                         .bias = true,
                                         .act = Act::gelu,
                                         .output = OutputType::fp16,
                                         .mr = 4,
                                         .nv = 3,
                                         .mc = 8,
                                         .nc = 96};
  constexpr WFp8A16Config e5m2_silu_bf16{.weight = WeightType::fp8_e5m2,
                                         .bias = true,
                                         .act = Act::silu,
                                         .output = OutputType::bf16,
                                         .mr = 1,
                                         .nv = 4,
                                         .mc = 8,
                                         .nc = 128};
  constexpr WFp8A16Config e4m3_relu_int8{
      .bias = true, .act = Act::relu, .output = OutputType::int8};
  constexpr WFp8A16Config e5m2_buffered{.weight = WeightType::fp8_e5m2,
                                        .input = InputType::fp16,
                                        .act = Act::gelu_tanh,
                                        .mr = 4,
                                        .nv = 1,
                                        .mc = 8,
                                        .nc = 64};
  test::check_fp8_weights_tiles_and_epilogues<e4m3_gelu_fp16, e5m2_silu_bf16, e4m3_relu_int8,
                                              e5m2_buffered>();
}

TEST(FloatBaselineKernel, TilesAndEpilogues) {
  constexpr FloatConfig fp16_gelu_fp16{.weight = WeightType::fp16,
                                       .input = InputType::fp16,
                                       .bias = true,
                                       .act = Act::gelu,
                                       .output = OutputType::fp16,
                                       .mr = 4,
                                       .nv = 3,
                                       .mc = 8,
                                       .nc = 96};
  constexpr FloatConfig bf16_silu_bf16{.weight = WeightType::bf16,
                                       .input = InputType::bf16,
                                       .bias = true,
                                       .act = Act::silu,
                                       .output = OutputType::bf16,
                                       .mr = 1,
                                       .nv = 4,
                                       .mc = 8,
                                       .nc = 128};
  constexpr FloatConfig fp32_relu_int8{.weight = WeightType::fp32,
                                       .input = InputType::fp32,
                                       .bias = true,
                                       .act = Act::relu,
                                       .output = OutputType::int8};
  constexpr FloatConfig bf16_buffered{.weight = WeightType::bf16,
                                      .input = InputType::bf16,
                                      .act = Act::gelu_tanh,
                                      .output = OutputType::fp16,
                                      .mr = 4,
                                      .nv = 1,
                                      .mc = 8,
                                      .nc = 64};
  constexpr FloatConfig fp32_buffered{.weight = WeightType::fp32,
                                      .input = InputType::fp32,
                                      .bias = true,
                                      .mr = 2,
                                      .nv = 2,
                                      .mc = 6,
                                      .nc = 64};
  test::check_float_baseline_tiles_and_epilogues<fp16_gelu_fp16, bf16_silu_bf16, fp32_relu_int8,
                                                 bf16_buffered, fp32_buffered>();
}

TEST(WeightOnlyFp8Kernel, EveryCodeIncludingNanAndInf) {
  constexpr WFp8A16Config e5m2_direct{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};
  constexpr WFp8A16Config e4m3_buffered{.mr = 4, .nv = 1, .mc = 8, .nc = 64};
  test::check_every_fp8_code_on_each<kE4m3Fp16, kE4m3Bf16, e5m2_direct, kE5m2Bf16, e4m3_buffered>();
}

}  // namespace
}  // namespace qk
