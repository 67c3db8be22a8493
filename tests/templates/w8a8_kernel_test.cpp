// The W8A8 CPU kernel template, compiled ahead of time (templates stay real C++), against the
// reference of docs/numerics.md on awkward shapes and every epilogue.
#include "cpu/w8a8.hpp"

#include <gtest/gtest.h>

#include "kernel_harness.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::OutputType;
using cpu::Scaling;
using cpu::W8A8Config;

template <W8A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           unsigned seed) {
  LayerConfig layer = test::layer_for(C);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = granularity;
  test::check_kernel<cpu::W8A8Kernel<C>>(C, layer, m, quant::pack_cpu_int8, 128, seed);
}

constexpr W8A8Config kPlain{
    .input = InputType::fp32, .scaling = Scaling::dynamic_per_token, .output = OutputType::fp32};

TEST(W8A8Kernel, AwkwardShapesExactIntegerPart) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {4, 37, 200, 1031})
        check<kPlain>(m, n, k, WeightGranularity::per_channel, seed++);
}

TEST(W8A8Kernel, SmallTilesAndKBlocking) {
  // kc smaller than K forces the int32 workspace between K blocks; mc and nc split the block.
  constexpr W8A8Config small{.mr = 2, .nv = 1, .kc = 64, .mc = 4, .nc = 32};
  constexpr W8A8Config wide{.mr = 1, .nv = 8, .kc = 128, .mc = 8, .nc = 256};
  constexpr W8A8Config tall{.mr = 14, .nv = 2, .kc = 256, .mc = 28, .nc = 64};
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 31})
    for (std::int64_t k : {60, 300}) {
      check<small>(m, 50, k, WeightGranularity::per_channel, seed++);
      check<wide>(m, 150, k, WeightGranularity::per_tensor, seed++);
      check<tall>(m, 70, k, WeightGranularity::per_channel, seed++);
    }
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
  unsigned seed = 200;
  for (std::int64_t m : {1, 7, 40}) {
    check<fp16_static>(m, 48, 96, WeightGranularity::per_channel, seed++);
    check<bf16_tensor>(m, 40, 132, WeightGranularity::per_tensor, seed++);
    check<gelu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<gelu_tanh>(m, 17, 260, WeightGranularity::per_channel, seed++);
  }
}

// docs/numerics.md §6.2: at the K bound the u8 offset makes the raw sums wrap; the result is
// still exact.
TEST(W8A8Kernel, ExactAtTheKBound) {
  const std::int64_t k = 2147483647LL / (127 * 127);
  check<kPlain>(1, 16, k, WeightGranularity::per_channel, 7);
}

}  // namespace
}  // namespace qk
