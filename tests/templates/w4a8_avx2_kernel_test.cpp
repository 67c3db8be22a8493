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
LayerConfig int4_layer(std::int64_t n, std::int64_t k, WeightGranularity granularity,
                       int block_size, bool symmetric) {
  static_assert(C.isa == Isa::avx2);
  LayerConfig layer = test::layer_for(C);
  layer.weight_quant = QuantType::int4;
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = granularity;
  layer.block_size = block_size;
  layer.weight_symmetric = symmetric;
  return layer;
}

template <W4A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           int block_size, bool symmetric, unsigned seed) {
  test::check_kernel<cpu::W4A8Kernel<C>>(C, int4_layer<C>(n, k, granularity, block_size, symmetric),
                                         m, quant::pack_cpu_int4, 0, seed);
}

// 2 x 16, the default above M = 1, and the decode tiles: one row, 3 or 4 panels (six or eight
// weight streams); 3 x 16 is the tallest within 16 ymm.
constexpr W4A8Config kPlain{.isa = Isa::avx2, .mr = 2, .nv = 1, .mc = 96, .nc = 768};
constexpr W4A8Config kDecode3{.isa = Isa::avx2, .mr = 1, .nv = 3, .mc = 96, .nc = 768};
constexpr W4A8Config kDecode4{.isa = Isa::avx2, .mr = 1, .nv = 4, .mc = 96, .nc = 768};
constexpr W4A8Config kTall{.isa = Isa::avx2, .mr = 3, .nv = 1, .mc = 96, .nc = 768};

// Every granularity (groups of 32..256, per channel), symmetric and with zero points, on shapes
// that are not multiples of the tile: n leaves partial 16-column vectors and a partial nv; per
// channel, K ends in fewer than four 8-k steps (200 = 6 * 32 + 8, 37 -> 40 = 32 + 8), so the
// int16 chains' tail runs too.
template <W4A8Config C>
void check_granularities(std::int64_t m, unsigned& seed) {
  for (std::int64_t n : {16, 33, 130, 200}) {
    check<C>(m, n, 96, WeightGranularity::per_group, 32, false, seed++);
    check<C>(m, n, 256, WeightGranularity::per_group, 64, true, seed++);
    check<C>(m, n, 384, WeightGranularity::per_group, 128, false, seed++);
    check<C>(m, n, 512, WeightGranularity::per_group, 256, true, seed++);
    check<C>(m, n, 200, WeightGranularity::per_channel, 0, false, seed++);
    check<C>(m, n, 37, WeightGranularity::per_channel, 0, true, seed++);
  }
}

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

TEST(W4A8Avx2Kernel, DecodeTilesEveryGranularityExactIntegerPart) {
  unsigned seed = 500;
  for (std::int64_t m : {1, 3}) {
    check_granularities<kDecode3>(m, seed);
    check_granularities<kDecode4>(m, seed);
    check_granularities<kTall>(m, seed);
  }
}

// The int16 chains at their bound: every weight code 15 (symmetric: all weights equal and
// positive; with zero points: zero 0) times activation codes of +-127, so each 8-k step adds
// 4 * 15 * 127 = 7620 to an int16 lane and four steps 30480 (a fifth would wrap). Negative
// weights give code 0 (symmetric) or 15 with zero 15 (asymmetric); row 2 mixes signs.
TEST(W4A8Avx2Kernel, Int16ChainsHoldTheLargestSums) {
  for (const bool symmetric : {true, false})
    for (const std::int64_t k : {512, 1000}) {
      const std::int64_t m = 3, n = 70;
      std::vector<float> a(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k));
      for (std::int64_t j = 0; j < k; ++j) {
        a[j] = 1.0f;
        a[k + j] = -1.0f;
        a[2 * k + j] = j % 16 < 8 ? 1.0f : -1.0f;
      }
      for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < k; ++j) w[i * k + j] = i % 3 == 2 ? -0.5f : 0.5f;
      const auto granularity =
          k == 512 ? WeightGranularity::per_group : WeightGranularity::per_channel;
      const int block = k == 512 ? 256 : 0;
      auto check_on = [&]<W4A8Config C>() {
        test::check_kernel_on<cpu::W4A8Kernel<C>>(
            C, int4_layer<C>(n, k, granularity, block, symmetric), m, quant::pack_cpu_int4, 0, a, w,
            7);
      };
      check_on.template operator()<kDecode4>();
      check_on.template operator()<kPlain>();
      check_on.template operator()<kTall>();
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
                                   .nv = 4,
                                   .mc = 96,
                                   .nc = 768};
  constexpr W4A8Config fp16_decode{.isa = Isa::avx2,
                                   .input = InputType::fp16,
                                   .scaling = Scaling::dynamic_per_token,
                                   .bias = true,
                                   .act = Act::gelu_tanh,
                                   .output = OutputType::fp32,
                                   .mr = 1,
                                   .nv = 3,
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
  for (std::int64_t m : {1, 3, 5, 40}) {
    check<one>(m, 150, 384, WeightGranularity::per_group, 128, true, seed++);
    check<fp16_static>(m, 48, 128, WeightGranularity::per_group, 32, true, seed++);
    check<bf16_tensor>(m, 33, 64, WeightGranularity::per_tensor, 0, false, seed++);
    check<bf16_tensor>(m, 100, 256, WeightGranularity::per_group, 64, false, seed++);
    check<fp16_decode>(m, 150, 200, WeightGranularity::per_channel, 0, false, seed++);
    check<fp16_decode>(m, 70, 384, WeightGranularity::per_group, 128, true, seed++);
    check<relu_bf16>(m, 70, 512, WeightGranularity::per_group, 256, false, seed++);
  }
}

}  // namespace
}  // namespace qk
