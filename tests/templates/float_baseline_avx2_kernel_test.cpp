// The float baselines fp16, bf16, fp32 (docs/numerics.md §6.5) on the weight-only kernel template
// for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with AVX-512 disabled
// (tests/CMakeLists.txt), against the reference: awkward shapes, tiles, epilogues.
#include <gtest/gtest.h>

#include "weight_only_checks.hpp"

#if defined(__AVX512F__) || !defined(__AVX2__)
#error "This test must be compiled for x86-64-v3 without AVX-512 (see tests/CMakeLists.txt)."
#endif

namespace qk {
namespace {

using cpu::Act;
using cpu::FloatConfig;
using cpu::InputType;
using cpu::Isa;
using cpu::OutputType;
using cpu::WeightType;
using test::check_weight_only_kernel;

constexpr FloatConfig kFp16{
    .isa = Isa::avx2, .weight = WeightType::fp16, .input = InputType::fp16, .mr = 4, .nv = 1};
constexpr FloatConfig kBf16{
    .isa = Isa::avx2, .weight = WeightType::bf16, .input = InputType::bf16, .mr = 1, .nv = 2};
constexpr FloatConfig kFp32{
    .isa = Isa::avx2, .weight = WeightType::fp32, .input = InputType::fp32, .mr = 4, .nv = 1};
constexpr FloatConfig kFp16Decode{
    .isa = Isa::avx2, .weight = WeightType::fp16, .input = InputType::fp16, .mr = 1, .nv = 2};
constexpr FloatConfig kBf16Rows{
    .isa = Isa::avx2, .weight = WeightType::bf16, .input = InputType::bf16, .mr = 4, .nv = 1};

TEST(FloatBaselineAvx2Kernel, AwkwardShapes) {
  unsigned seed = 5000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {37, 201}) {
        check_weight_only_kernel<kFp16>(m, n, k, {WeightGranularity::per_channel}, seed++);
        check_weight_only_kernel<kBf16>(m, n, k, {WeightGranularity::per_channel}, seed++);
        check_weight_only_kernel<kFp32>(m, n, k, {WeightGranularity::per_channel}, seed++);
        check_weight_only_kernel<kFp16Decode>(m, n, k, {WeightGranularity::per_channel}, seed++);
        check_weight_only_kernel<kBf16Rows>(m, n, k, {WeightGranularity::per_channel}, seed++);
      }
}

// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue: bias,
// activation functions, fp16/bf16/int8 outputs.
TEST(FloatBaselineAvx2Kernel, TilesAndEpilogues) {
  constexpr FloatConfig fp16_gelu_fp16{.isa = Isa::avx2,
                                       .weight = WeightType::fp16,
                                       .input = InputType::fp16,
                                       .bias = true,
                                       .act = Act::gelu,
                                       .output = OutputType::fp16,
                                       .mr = 3,
                                       .nv = 1,
                                       .mc = 6,
                                       .nc = 96};
  constexpr FloatConfig bf16_silu_bf16{.isa = Isa::avx2,
                                       .weight = WeightType::bf16,
                                       .input = InputType::bf16,
                                       .bias = true,
                                       .act = Act::silu,
                                       .output = OutputType::bf16,
                                       .mr = 1,
                                       .nv = 2,
                                       .mc = 8,
                                       .nc = 128};
  constexpr FloatConfig fp32_relu_int8{.isa = Isa::avx2,
                                       .weight = WeightType::fp32,
                                       .input = InputType::fp32,
                                       .bias = true,
                                       .act = Act::relu,
                                       .output = OutputType::int8,
                                       .mr = 5,
                                       .nv = 1,
                                       .mc = 95,
                                       .nc = 768};
  constexpr FloatConfig bf16_buffered{.isa = Isa::avx2,
                                      .weight = WeightType::bf16,
                                      .input = InputType::bf16,
                                      .act = Act::gelu_tanh,
                                      .output = OutputType::fp16,
                                      .mr = 4,
                                      .nv = 1,
                                      .mc = 8,
                                      .nc = 64};
  constexpr FloatConfig fp32_buffered{.isa = Isa::avx2,
                                      .weight = WeightType::fp32,
                                      .input = InputType::fp32,
                                      .bias = true,
                                      .mr = 2,
                                      .nv = 1,
                                      .mc = 6,
                                      .nc = 64};
  unsigned seed = 7000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check_weight_only_kernel<fp16_gelu_fp16>(m, 70, 300, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<bf16_silu_bf16>(m, 150, 384, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<fp32_relu_int8>(m, 33, 64, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<bf16_buffered>(m, 40, 101, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<fp32_buffered>(m, 40, 37, {WeightGranularity::per_channel}, seed++);
  }
}

}  // namespace
}  // namespace qk
