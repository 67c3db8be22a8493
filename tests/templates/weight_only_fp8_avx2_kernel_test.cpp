// The weight-only kernel template for AVX2 (Isa::avx2) with fp8 weights (WFP8A16, docs/numerics.md
// §6.3), compiled ahead of time for x86-64-v3 with AVX-512 disabled (tests/CMakeLists.txt): the
// decoder alone over all 256 codes of both formats, bit-exact, and scaled and rounded as the
// contract; the whole kernel on awkward shapes, epilogues, and weights holding every code.
#include <gtest/gtest.h>

#include "weight_only_checks.hpp"

#if defined(__AVX512F__) || !defined(__AVX2__)
#error "This test must be compiled for x86-64-v3 without AVX-512 (see tests/CMakeLists.txt)."
#endif

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::Isa;
using cpu::OutputType;
using cpu::WeightType;
using cpu::WFp8A16Config;
using test::check_weight_only_kernel;

TEST(WeightDecoderAvx2, Fp8DecodeIsBitExactOverEveryCode) {
  test::check_fp8_decoder_over_every_code<WeightType::fp8_e4m3, Isa::avx2>();
  test::check_fp8_decoder_over_every_code<WeightType::fp8_e5m2, Isa::avx2>();
}

TEST(WeightDecoderAvx2, Fp8ScaledDecodeRoundsAsTheContract) {
  test::check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::fp16, Isa::avx2>();
  test::check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::bf16, Isa::avx2>();
  test::check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::fp16, Isa::avx2>();
  test::check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::bf16, Isa::avx2>();
}

// codegen's avx2 defaults: 4 x 16 (M > 4) and 1 x 32.
constexpr WFp8A16Config kE4m3Bf16{.isa = Isa::avx2, .mr = 4, .nv = 1};
constexpr WFp8A16Config kE4m3Fp16{.isa = Isa::avx2, .input = InputType::fp16, .mr = 1, .nv = 2};
constexpr WFp8A16Config kE5m2Bf16{
    .isa = Isa::avx2, .weight = WeightType::fp8_e5m2, .mr = 1, .nv = 2};
constexpr WFp8A16Config kE5m2Fp16{
    .isa = Isa::avx2, .weight = WeightType::fp8_e5m2, .input = InputType::fp16, .mr = 4, .nv = 1};

TEST(WeightOnlyFp8Avx2Kernel, AwkwardShapes) {
  unsigned seed = 4000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check_weight_only_kernel<kE4m3Bf16>(m, n, 201, {WeightGranularity::per_channel}, seed++);
      check_weight_only_kernel<kE4m3Fp16>(m, n, 37, {WeightGranularity::per_tensor}, seed++);
      check_weight_only_kernel<kE5m2Bf16>(m, n, 37, {WeightGranularity::per_tensor}, seed++);
      check_weight_only_kernel<kE5m2Fp16>(m, n, 201, {WeightGranularity::per_channel}, seed++);
    }
}

// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue.
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
  static_assert(cpu::WeightOnlyKernel<e5m2_buffered>::BUFFER_K == 24);
  unsigned seed = 6000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check_weight_only_kernel<e4m3_gelu_fp16>(m, 70, 300, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<e5m2_silu_bf16>(m, 150, 384, {WeightGranularity::per_tensor}, seed++);
    check_weight_only_kernel<e4m3_relu_int8>(m, 33, 64, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<e5m2_buffered>(m, 40, 101, {WeightGranularity::per_channel}, seed++);
  }
}

// Every code through the whole kernel, NaN and Inf included, on the in-register path (m <= mr)
// and the buffered one.
TEST(WeightOnlyFp8Avx2Kernel, EveryCodeIncludingNanAndInf) {
  constexpr WFp8A16Config e5m2_direct{.isa = Isa::avx2,
                                      .weight = WeightType::fp8_e5m2,
                                      .input = InputType::fp16,
                                      .mr = 5,
                                      .nv = 1,
                                      .mc = 95,
                                      .nc = 768};
  constexpr WFp8A16Config e4m3_buffered{.isa = Isa::avx2, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
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
