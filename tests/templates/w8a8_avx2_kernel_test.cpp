// The W8A8 CPU kernel template for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with
// AVX-512 disabled (tests/CMakeLists.txt: a use of AVX-512 in its code path does not compile),
// against the reference of docs/numerics.md on awkward shapes, every scaling and epilogue.
#include <gtest/gtest.h>

#include "cpu/w8a8.hpp"
#include "kernel_harness.hpp"

#if defined(__AVX512F__) || !defined(__AVX2__)
#error "This test must be compiled for x86-64-v3 without AVX-512 (see tests/CMakeLists.txt)."
#endif

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::Isa;
using cpu::OutputType;
using cpu::Scaling;
using cpu::W8A8Config;

template <W8A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           unsigned seed) {
  static_assert(C.isa == Isa::avx2);
  LayerConfig layer = test::layer_for(C);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = granularity;
  test::check_kernel<cpu::W8A8Kernel<C>>(C, layer, m, quant::pack_cpu_int8, 128, seed);
}

// The largest tiles within 16 ymm: 4 x 16 (15 registers) and 1 x 32.
constexpr W8A8Config kPlain{.isa = Isa::avx2,
                            .input = InputType::fp32,
                            .scaling = Scaling::dynamic_per_token,
                            .output = OutputType::fp32,
                            .mr = 4,
                            .nv = 1,
                            .kc = 16384,
                            .mc = 96,
                            .nc = 960};

TEST(W8A8Avx2Kernel, AwkwardShapesExactIntegerPart) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {4, 37, 200, 1031})
        check<kPlain>(m, n, k, WeightGranularity::per_channel, seed++);
}

TEST(W8A8Avx2Kernel, SmallTilesAndKBlocking) {
  // kc smaller than K forces the int32 workspace between K blocks; mc and nc split the block.
  constexpr W8A8Config small{.isa = Isa::avx2, .mr = 3, .nv = 1, .kc = 64, .mc = 6, .nc = 32};
  constexpr W8A8Config wide{.isa = Isa::avx2, .mr = 1, .nv = 2, .kc = 128, .mc = 8, .nc = 64};
  constexpr W8A8Config tall{.isa = Isa::avx2, .mr = 4, .nv = 1, .kc = 256, .mc = 8, .nc = 48};
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 31})
    for (std::int64_t k : {60, 300}) {
      check<small>(m, 50, k, WeightGranularity::per_channel, seed++);
      check<wide>(m, 150, k, WeightGranularity::per_tensor, seed++);
      check<tall>(m, 70, k, WeightGranularity::per_channel, seed++);
    }
}

TEST(W8A8Avx2Kernel, EveryScalingInputAndEpilogue) {
  constexpr W8A8Config fp16_static{.isa = Isa::avx2,
                                   .input = InputType::fp16,
                                   .scaling = Scaling::static_per_tensor,
                                   .bias = true,
                                   .act = Act::relu,
                                   .output = OutputType::fp16,
                                   .mr = 4,
                                   .nv = 1,
                                   .mc = 96,
                                   .nc = 1024};
  constexpr W8A8Config bf16_tensor{.isa = Isa::avx2,
                                   .input = InputType::bf16,
                                   .scaling = Scaling::dynamic_per_tensor,
                                   .bias = false,
                                   .act = Act::silu,
                                   .output = OutputType::bf16,
                                   .mr = 2,
                                   .nv = 1,
                                   .mc = 96,
                                   .nc = 1024};
  constexpr W8A8Config gelu_int8{.isa = Isa::avx2,
                                 .input = InputType::fp32,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu,
                                 .output = OutputType::int8,
                                 .mr = 1,
                                 .nv = 2,
                                 .mc = 96,
                                 .nc = 1024};
  constexpr W8A8Config gelu_tanh{.isa = Isa::avx2,
                                 .input = InputType::fp16,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu_tanh,
                                 .output = OutputType::fp32,
                                 .mr = 3,
                                 .nv = 1,
                                 .mc = 96,
                                 .nc = 1024};
  constexpr W8A8Config static_bf16_out{.isa = Isa::avx2,
                                       .input = InputType::bf16,
                                       .scaling = Scaling::static_per_tensor,
                                       .bias = true,
                                       .act = Act::none,
                                       .output = OutputType::int8,
                                       .mr = 4,
                                       .nv = 1,
                                       .mc = 96,
                                       .nc = 1024};
  unsigned seed = 200;
  for (std::int64_t m : {1, 3, 7, 40}) {
    check<fp16_static>(m, 48, 96, WeightGranularity::per_channel, seed++);
    check<bf16_tensor>(m, 40, 132, WeightGranularity::per_tensor, seed++);
    check<gelu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<gelu_tanh>(m, 17, 260, WeightGranularity::per_channel, seed++);
    check<static_bf16_out>(m, 23, 77, WeightGranularity::per_tensor, seed++);
  }
}

// docs/numerics.md §6.2: K at the int32 bound; the AVX2 sums never wrap (no u8 offset).
TEST(W8A8Avx2Kernel, ExactAtTheKBound) {
  const std::int64_t k = 2147483647LL / (127 * 127);
  check<kPlain>(1, 16, k, WeightGranularity::per_channel, 7);
}

}  // namespace
}  // namespace qk
