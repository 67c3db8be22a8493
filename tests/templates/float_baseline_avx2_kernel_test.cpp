// The float baselines fp16, bf16, fp32 (docs/numerics.md §6.5) on the weight-only kernel template
// for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with AVX-512 disabled
// (tests/CMakeLists.txt), against the reference: awkward shapes, tiles, epilogues
// (weight_only_sweeps.hpp, on the AVX2 tiles).
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "weight_only_sweeps.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums

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
  test::check_float_baseline_awkward_shapes<kFp16, kBf16, kFp32, kFp16Decode, kBf16Rows>();
}

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
  test::check_float_baseline_tiles_and_epilogues<fp16_gelu_fp16, bf16_silu_bf16, fp32_relu_int8,
                                                 bf16_buffered, fp32_buffered>();
}

}  // namespace
}  // namespace qk
