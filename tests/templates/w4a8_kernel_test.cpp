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
