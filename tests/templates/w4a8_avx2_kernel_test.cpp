// The W4A8 CPU kernel template for AVX2 (Isa::avx2), compiled ahead of time for x86-64-v3 with
// AVX-512 disabled (tests/CMakeLists.txt), against the reference of docs/numerics.md: awkward
// shapes, every weight granularity, scalings and epilogues (w4a8_checks.hpp, and below the AVX2
// decode tiles and int16 chains); integer parts exact.
#include <gtest/gtest.h>

#include "avx2_target.hpp"
#include "w4a8_checks.hpp"

namespace qk {
namespace {

using namespace cpu;  // the configs and their enums
using test::check_w4a8;
using test::Tile;
using test::w4a8_plain;

// 2 x 16, the default above M = 1, and the decode tiles: one row, 3 or 4 panels (six or eight
// weight streams); 3 x 16 is the tallest within 16 ymm.
constexpr Tile kPlain{.mr = 2, .nv = 1};
constexpr Tile kDecode3{.mr = 1, .nv = 3};
constexpr Tile kDecode4{.mr = 1, .nv = 4};
constexpr Tile kTall{.mr = 3, .nv = 1};

// Every granularity (groups of 32..256, per channel), symmetric and with zero points, on shapes
// that are not multiples of the tile: n leaves partial 16-column vectors and a partial nv; per
// channel, K ends in fewer than four 8-k steps (200 = 6 * 32 + 8, 37 -> 40 = 32 + 8), so the
// int16 chains' tail runs too.
template <Tile T>
unsigned check_granularities(std::int64_t m, unsigned seed) {
  constexpr W4A8Config C = w4a8_plain<Isa::avx2, T>;
  return test::sweep_m_n({m}, {16, 33, 130, 200},
                         {{check_w4a8<C>, 96, {WeightGranularity::per_group, 32, false}},
                          {check_w4a8<C>, 256, {WeightGranularity::per_group, 64, true}},
                          {check_w4a8<C>, 384, {WeightGranularity::per_group, 128, false}},
                          {check_w4a8<C>, 512, {WeightGranularity::per_group, 256, true}},
                          {check_w4a8<C>, 200, {WeightGranularity::per_channel, 0, false}},
                          {check_w4a8<C>, 37, {WeightGranularity::per_channel, 0, true}}},
                         {}, seed);
}

TEST(W4A8Avx2Kernel, AwkwardShapesExactIntegerPart) {
  test::check_w4a8_awkward_shapes<Isa::avx2, kPlain>();
}

TEST(W4A8Avx2Kernel, DecodeTilesEveryGranularityExactIntegerPart) {
  unsigned seed = 500;
  for (std::int64_t m : {1, 3}) {
    seed = check_granularities<kDecode3>(m, seed);
    seed = check_granularities<kDecode4>(m, seed);
    seed = check_granularities<kTall>(m, seed);
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
      auto check_on = [&]<Tile T>() {
        constexpr W4A8Config C = w4a8_plain<Isa::avx2, T>;
        test::check_kernel_on<cpu::W4A8Kernel<C>>(
            C, test::w4a8_layer<C>(n, k, {granularity, block, symmetric}), m, quant::pack_cpu_int4,
            0, a, w, 7);
      };
      check_on.template operator()<kDecode4>();
      check_on.template operator()<kPlain>();
      check_on.template operator()<kTall>();
    }
}

TEST(W4A8Avx2Kernel, TilesScalingsAndEpilogues) {
  constexpr Tile one{.mr = 1, .nv = 1, .mc = 8, .nc = 32};
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
  constexpr W4A8Config bf16_tensor = test::w4a8_bf16_tensor<Isa::avx2, kDecode4>;
  // The AVX2 decode tiles: bf16 activations scaled per tensor on groups, fp16 ones per channel
  // and on groups.
  test::check_w4a8_tiles_scalings_and_epilogues<Isa::avx2, one, relu_bf16, kPlain, kDecode4>(
      {1, 3, 5, 40},
      {{check_w4a8<bf16_tensor>, 100, 256, {WeightGranularity::per_group, 64, false}},
       {check_w4a8<fp16_decode>, 150, 200, {WeightGranularity::per_channel, 0, false}},
       {check_w4a8<fp16_decode>, 70, 384, {WeightGranularity::per_group, 128, true}}});
}

}  // namespace
}  // namespace qk
