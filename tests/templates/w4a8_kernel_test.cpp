// The W4A8 CPU kernel template, compiled ahead of time, against the reference of
// docs/numerics.md (§6.2 for the per-group int32 sums and their fp32 folding; w4a8_checks.hpp),
// on the AVX-512 tiles; and the int4 packing.
#include <gtest/gtest.h>

#include "w4a8_checks.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums

constexpr W4A8Config kPlain{};

TEST(W4A8Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w4a8_awkward_shapes<kPlain>();
}

TEST(W4A8Kernel, TilesScalingsAndEpilogues) {
  constexpr W4A8Config wide{.mr = 1, .nv = 6, .mc = 8, .nc = 96};
  constexpr W4A8Config tall{.mr = 4, .nv = 2, .mc = 8, .nc = 64};
  constexpr W4A8Config fp16_static{.input = InputType::fp16,
                                   .scaling = Scaling::static_per_tensor,
                                   .bias = true,
                                   .act = Act::gelu,
                                   .output = OutputType::fp16};
  constexpr W4A8Config bf16_tensor{.input = InputType::bf16,
                                   .scaling = Scaling::dynamic_per_tensor,
                                   .act = Act::silu,
                                   .output = OutputType::int8};
  test::check_w4a8_tiles_scalings_and_epilogues<wide, tall, fp16_static, bf16_tensor>({1, 5, 40});
}

}  // namespace
}  // namespace qk
