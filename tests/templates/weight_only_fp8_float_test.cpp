// The weight-only kernel template with fp8 weights (WFP8A16, docs/numerics.md §6.3) and as the
// float baselines fp16, bf16, fp32 (§6.5), compiled ahead of time, against the reference. The fp8
// decoder is checked alone over all 256 codes of both formats, and through the whole kernel on
// weights holding every code, NaN and Inf included.
#include <gtest/gtest.h>

#include "weight_only_checks.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::FloatConfig;
using cpu::InputType;
using cpu::Isa;
using cpu::OutputType;
using cpu::WeightType;
using cpu::WFp8A16Config;

TEST(WeightDecoder, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoder_over_every_code<WeightType::fp8_e4m3, Isa::avx512>();
  test::check_fp8_decoder_over_every_code<WeightType::fp8_e5m2, Isa::avx512>();
}

TEST(WeightDecoder, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::fp16, Isa::avx512>();
  test::check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::bf16, Isa::avx512>();
  test::check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::fp16, Isa::avx512>();
  test::check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::bf16, Isa::avx512>();
}

// The shared check (weight_only_checks.hpp), named briefly for the case lists below.
template <auto C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity g, unsigned seed) {
  test::check_weight_only_kernel<C>(m, n, k, {g}, seed);
}

constexpr WFp8A16Config kE4m3Bf16{};
constexpr WFp8A16Config kE4m3Fp16{.input = InputType::fp16};
constexpr WFp8A16Config kE5m2Bf16{.weight = WeightType::fp8_e5m2};
constexpr WFp8A16Config kE5m2Fp16{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};

// Awkward shapes: partial row tiles (m = 3, 17, 129 against mr = 8), partial column panels and
// tiles (n = 33, 130), K not a multiple of the packing step (k = 37, 201).
TEST(WeightOnlyFp8Kernel, AwkwardShapes) {
  unsigned seed = 4000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kE4m3Bf16>(m, n, 201, WeightGranularity::per_channel, seed++);
      check<kE4m3Fp16>(m, n, 37, WeightGranularity::per_tensor, seed++);
      check<kE5m2Bf16>(m, n, 37, WeightGranularity::per_tensor, seed++);
      check<kE5m2Fp16>(m, n, 201, WeightGranularity::per_channel, seed++);
    }
}

constexpr FloatConfig kFp16{.weight = WeightType::fp16, .input = InputType::fp16};
constexpr FloatConfig kBf16{.weight = WeightType::bf16, .input = InputType::bf16};
constexpr FloatConfig kFp32{.weight = WeightType::fp32, .input = InputType::fp32};

TEST(FloatBaselineKernel, AwkwardShapes) {
  unsigned seed = 5000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {37, 201}) {
        check<kFp16>(m, n, k, WeightGranularity::per_channel, seed++);
        check<kBf16>(m, n, k, WeightGranularity::per_channel, seed++);
        check<kFp32>(m, n, k, WeightGranularity::per_channel, seed++);
      }
}

// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue: bias,
// activation functions, fp16/bf16/int8 outputs.
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
  static_assert(cpu::WeightOnlyKernel<e5m2_buffered>::BUFFER_K == 24);
  unsigned seed = 6000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check<e4m3_gelu_fp16>(m, 70, 300, WeightGranularity::per_channel, seed++);
    check<e5m2_silu_bf16>(m, 150, 384, WeightGranularity::per_tensor, seed++);
    check<e4m3_relu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<e5m2_buffered>(m, 40, 101, WeightGranularity::per_channel, seed++);
  }
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
  unsigned seed = 7000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check<fp16_gelu_fp16>(m, 70, 300, WeightGranularity::per_channel, seed++);
    check<bf16_silu_bf16>(m, 150, 384, WeightGranularity::per_channel, seed++);
    check<fp32_relu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<bf16_buffered>(m, 40, 101, WeightGranularity::per_channel, seed++);
    check<fp32_buffered>(m, 40, 37, WeightGranularity::per_channel, seed++);
  }
}

// Every code through the whole kernel, NaN and Inf included (weight_only_checks.hpp).
TEST(WeightOnlyFp8Kernel, EveryCodeIncludingNanAndInf) {
  constexpr WFp8A16Config e5m2_direct{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};
  constexpr WFp8A16Config e4m3_buffered{.mr = 4, .nv = 1, .mc = 8, .nc = 64};
  for (std::int64_t m : {1, 3, 17}) {
    test::check_every_fp8_code<kE4m3Fp16>(m, 10 + m);
    test::check_every_fp8_code<kE4m3Bf16>(m, 20 + m);
    test::check_every_fp8_code<e5m2_direct>(m, 30 + m);
    test::check_every_fp8_code<kE5m2Bf16>(m, 40 + m);
    test::check_every_fp8_code<e4m3_buffered>(m, 50 + m);
  }
}

}  // namespace
}  // namespace qk
