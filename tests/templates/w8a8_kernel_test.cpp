// The W8A8 CPU kernel template, compiled ahead of time (templates stay real C++), against the
// reference of docs/numerics.md on awkward shapes and every epilogue (w8a8_checks.hpp), on the
// AVX-512 tiles.
#include <gtest/gtest.h>

#include "w8a8_checks.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums

constexpr W8A8Config kPlain{
    .input = InputType::fp32, .scaling = Scaling::dynamic_per_token, .output = OutputType::fp32};

TEST(W8A8Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w8a8_awkward_shapes<kPlain>();
}

TEST(W8A8Kernel, SmallTilesAndKBlocking) {
  constexpr W8A8Config small{.mr = 2, .nv = 1, .kc = 64, .mc = 4, .nc = 32};
  constexpr W8A8Config wide{.mr = 1, .nv = 8, .kc = 128, .mc = 8, .nc = 256};
  constexpr W8A8Config tall{.mr = 14, .nv = 2, .kc = 256, .mc = 28, .nc = 64};
  test::check_w8a8_k_blocking<small, wide, tall>();
}

TEST(W8A8Kernel, EveryScalingInputAndEpilogue) {
  constexpr W8A8Config fp16_static{.input = InputType::fp16,
                                   .scaling = Scaling::static_per_tensor,
                                   .bias = true,
                                   .act = Act::relu,
                                   .output = OutputType::fp16};
  constexpr W8A8Config bf16_tensor{.input = InputType::bf16,
                                   .scaling = Scaling::dynamic_per_tensor,
                                   .bias = false,
                                   .act = Act::silu,
                                   .output = OutputType::bf16};
  constexpr W8A8Config gelu_int8{.input = InputType::fp32,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu,
                                 .output = OutputType::int8};
  constexpr W8A8Config gelu_tanh{.input = InputType::fp16,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu_tanh,
                                 .output = OutputType::fp32};
  test::check_w8a8_scalings_and_epilogues<fp16_static, bf16_tensor, gelu_int8, gelu_tanh>(
      {1, 7, 40});
}

// At the K bound the u8 offset makes the raw sums wrap; the result is still exact.
TEST(W8A8Kernel, ExactAtTheKBound) {
  test::check_w8a8_at_the_k_bound<kPlain>();
}

}  // namespace
}  // namespace qk
