// The W4A8 CPU kernel template, compiled ahead of time, against the reference of
// docs/numerics.md (§6.2 for the per-group int32 sums and their fp32 folding).
#include "cpu/w4a8.hpp"

#include <gtest/gtest.h>

#include "kernel_harness.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::OutputType;
using cpu::Scaling;
using cpu::W4A8Config;

template <W4A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           int block_size, bool symmetric, unsigned seed) {
  LayerConfig layer = test::layer_for(C);
  layer.weight_quant = QuantType::int4;
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = granularity;
  layer.block_size = block_size;
  layer.weight_symmetric = symmetric;
  test::check_kernel<cpu::W4A8Kernel<C>>(C, layer, m, quant::pack_cpu_int4, 0, seed);
}

constexpr W4A8Config kPlain{};

// §6.2: per-group sums are exact and folded in the reference's order (equal fp32 outputs).
TEST(W4A8Kernel, AwkwardShapesExactIntegerPart) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kPlain>(m, n, 256, WeightGranularity::per_group, 64, true, seed++);
      check<kPlain>(m, n, 96, WeightGranularity::per_group, 32, false, seed++);
      check<kPlain>(m, n, 200, WeightGranularity::per_channel, 0, false, seed++);
      check<kPlain>(m, n, 37, WeightGranularity::per_channel, 0, true, seed++);
    }
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
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 40}) {
    check<wide>(m, 150, 384, WeightGranularity::per_group, 128, true, seed++);
    check<tall>(m, 70, 512, WeightGranularity::per_group, 256, false, seed++);
    check<fp16_static>(m, 48, 128, WeightGranularity::per_group, 32, true, seed++);
    check<bf16_tensor>(m, 33, 64, WeightGranularity::per_tensor, 0, false, seed++);
  }
}

// quant/pack_cpu.hpp: every code and zero point survives packing; the nibble layout is the one
// the header documents (code(16p + j, 8q + t) low, code(16p + j, 8q + 4 + t) high).
TEST(W4A8Kernel, PackingKeepsEveryCodeAndZeroPoint) {
  const std::int64_t n = 37, k = 96;
  const auto w = test::random_matrix(n, k, 9, 0.1f);
  auto qw =
      quant::quantize_weights(w, n, k, {QuantType::int4, WeightGranularity::per_group, 32, false});
  ASSERT_TRUE(qw);
  auto packed = quant::pack_cpu_int4(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  ASSERT_EQ(packed->groups, 3);
  ASSERT_EQ(packed->group_k, 32);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      const int zero = packed->zero_points[(kk / 32) * packed->n_padded + row];
      ASSERT_EQ(quant::cpu_packed_weight(*packed, row, kk) - zero, qw->int_value(row, kk))
          << row << "," << kk;
    }
  // Row 17 is lane 1 of panel 1; k = 13 is the high nibble of byte 1*4 + 1 of block 1.
  const auto byte = static_cast<std::uint8_t>(packed->panels[1 * 16 * 96 / 2 + 1 * 64 + 1 * 4 + 1]);
  EXPECT_EQ(byte >> 4, quant::cpu_packed_weight(*packed, 17, 13));
  EXPECT_EQ(byte & 0xF, quant::cpu_packed_weight(*packed, 17, 9));
}

}  // namespace
}  // namespace qk
