// The W4A8 CPU kernel template for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with
// AVX-512 disabled (tests/CMakeLists.txt), against the reference of docs/numerics.md: awkward
// shapes, every weight granularity, scalings and epilogues; integer parts exact.
#include <gtest/gtest.h>

#include "cpu/w4a8.hpp"
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
using cpu::W4A8Config;

template <W4A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           int block_size, bool symmetric, unsigned seed) {
  static_assert(C.isa == Isa::avx2);
  LayerConfig layer = test::layer_for(C);
  layer.weight_quant = QuantType::int4;
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = granularity;
  layer.block_size = block_size;
  layer.weight_symmetric = symmetric;
  test::check_kernel<cpu::W4A8Kernel<C>>(C, layer, m, quant::pack_cpu_int4, 0, seed);
}

// The largest tile within 16 ymm: 2 x 16 (16 registers).
constexpr W4A8Config kPlain{.isa = Isa::avx2, .mr = 2, .nv = 1, .mc = 96, .nc = 768};

// §6.2: per-group sums are exact and folded in the reference's order (equal fp32 outputs).
TEST(W4A8Avx2Kernel, AwkwardShapesExactIntegerPart) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kPlain>(m, n, 256, WeightGranularity::per_group, 64, true, seed++);
      check<kPlain>(m, n, 96, WeightGranularity::per_group, 32, false, seed++);
      check<kPlain>(m, n, 200, WeightGranularity::per_channel, 0, false, seed++);
      check<kPlain>(m, n, 37, WeightGranularity::per_channel, 0, true, seed++);
    }
}

TEST(W4A8Avx2Kernel, TilesScalingsAndEpilogues) {
  constexpr W4A8Config one{.isa = Isa::avx2, .mr = 1, .nv = 1, .mc = 8, .nc = 32};
  constexpr W4A8Config fp16_static{.isa = Isa::avx2,
                                   .input = InputType::fp16,
                                   .scaling = Scaling::static_per_tensor,
                                   .bias = true,
                                   .act = Act::gelu,
                                   .output = OutputType::fp16,
                                   .mr = 2,
                                   .nv = 1,
                                   .mc = 96,
                                   .nc = 768};
  constexpr W4A8Config bf16_tensor{.isa = Isa::avx2,
                                   .input = InputType::bf16,
                                   .scaling = Scaling::dynamic_per_tensor,
                                   .act = Act::silu,
                                   .output = OutputType::int8,
                                   .mr = 1,
                                   .nv = 1,
                                   .mc = 96,
                                   .nc = 768};
  constexpr W4A8Config relu_bf16{.isa = Isa::avx2,
                                 .input = InputType::fp32,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::relu,
                                 .output = OutputType::bf16,
                                 .mr = 2,
                                 .nv = 1,
                                 .mc = 96,
                                 .nc = 768};
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 40}) {
    check<one>(m, 150, 384, WeightGranularity::per_group, 128, true, seed++);
    check<fp16_static>(m, 48, 128, WeightGranularity::per_group, 32, true, seed++);
    check<bf16_tensor>(m, 33, 64, WeightGranularity::per_tensor, 0, false, seed++);
    check<relu_bf16>(m, 70, 512, WeightGranularity::per_group, 256, false, seed++);
  }
}

}  // namespace
}  // namespace qk
