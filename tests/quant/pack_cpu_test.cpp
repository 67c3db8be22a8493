// quant/pack_cpu.hpp: the int4 and per-group int8 panels keep every code, zero point and scale;
// for the fp8 and float layouts packing is a bijection of the canonical storage
// (docs/numerics.md §5.2). Every weight reads back bit for bit, distinct weights land in distinct
// places (weights that are all distinct read back intact), and every other byte is zero padding.
#include "quant/pack_cpu.hpp"

#include <cstring>

#include <gtest/gtest.h>

#include "test_data.hpp"

namespace qk::quant {
namespace {

// Weights of `type` with every element distinct: element i holds bits i (fp8: i % 256, so at most
// 256 elements are distinct, which is every code including NaN and Inf).
QuantizedWeights distinct_weights(QuantType type, std::int64_t n, std::int64_t k) {
  QuantizedWeights w;
  w.format = {type, WeightGranularity::per_channel, 0, true};
  w.n = n;
  w.k = k;
  const std::int64_t bytes = bits_of(type) / 8;
  w.codes.resize(static_cast<std::size_t>(n * k * bytes));
  for (std::int64_t i = 0; i < n * k; ++i) {
    const auto bits = static_cast<std::uint32_t>(type == QuantType::fp32 ? 0x3F000000u + i : i);
    std::memcpy(w.codes.data() + i * bytes, &bits, static_cast<std::size_t>(bytes));
  }
  if (is_fp8(type))
    for (std::int64_t r = 0; r < n; ++r) w.scales.push_back(0.5f + static_cast<float>(r));
  return w;
}

std::uint32_t canonical_bits(const QuantizedWeights& w, std::int64_t row, std::int64_t k) {
  const std::int64_t bytes = bits_of(w.format.type) / 8;
  std::uint32_t bits = 0;
  std::memcpy(&bits, w.codes.data() + row * w.row_bytes() + k * bytes,
              static_cast<std::size_t>(bytes));
  return bits;
}

void check_bijection(const QuantizedWeights& w) {
  SCOPED_TRACE(std::string(to_string(w.format.type)) + " n=" + std::to_string(w.n) +
               " k=" + std::to_string(w.k));
  auto p = pack_cpu(w);
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_EQ(p->type, w.format.type);
  const std::int64_t bytes = bits_of(w.format.type) / 8;
  const std::int64_t k_step = is_float(w.format.type) ? 64 / (16 * bytes) : 4;
  EXPECT_EQ(p->n_padded % 16, 0);
  EXPECT_EQ(p->k_padded % k_step, 0);
  EXPECT_LT(p->k_padded - w.k, k_step);
  ASSERT_EQ(static_cast<std::int64_t>(p->panels.size()), p->n_padded * p->k_padded * bytes);
  std::int64_t nonzero_packed = 0;
  for (std::int64_t row = 0; row < p->n_padded; ++row)
    for (std::int64_t k = 0; k < p->k_padded; ++k) {
      const bool real = row < w.n && k < w.k;
      const std::uint32_t expected = real ? canonical_bits(w, row, k) : 0;
      ASSERT_EQ(cpu_packed_bits(*p, row, k), expected) << row << "," << k;
    }
  // No byte outside the mapped positions holds data: the padding is zero.
  for (std::int8_t b : p->panels) nonzero_packed += b != 0;
  std::int64_t nonzero_canonical_bytes = 0;
  for (std::uint8_t b : w.codes) nonzero_canonical_bytes += b != 0;
  EXPECT_EQ(nonzero_packed, nonzero_canonical_bytes);
  if (is_fp8(w.format.type)) {
    ASSERT_EQ(p->groups, 1);
    for (std::int64_t row = 0; row < p->n_padded; ++row)
      ASSERT_EQ(p->scales[row], row < w.n ? w.scale(row, 0) : 0.0f) << row;
  } else {
    EXPECT_TRUE(p->scales.empty());
    EXPECT_EQ(p->groups, 1);
    EXPECT_EQ(p->group_k, p->k_padded);
  }
}

TEST(PackCpu, Fp8IsABijectionOverEveryCode) {
  for (QuantType t : {QuantType::fp8_e4m3, QuantType::fp8_e5m2}) {
    check_bijection(distinct_weights(t, 16, 16));  // all 256 codes once
    check_bijection(distinct_weights(t, 8, 32));
    check_bijection(distinct_weights(t, 33, 37));  // partial panel and K step
    for (WeightGranularity g : {WeightGranularity::per_channel, WeightGranularity::per_tensor}) {
      const auto w = test::random_matrix(19, 130, 7, 0.1f);
      auto q = quantize_weights(w, 19, 130, {t, g, 0, true});
      ASSERT_TRUE(q);
      check_bijection(*q);
    }
  }
}

TEST(PackCpu, FloatTypesAreABijection) {
  for (QuantType t : {QuantType::fp16, QuantType::bf16, QuantType::fp32}) {
    check_bijection(distinct_weights(t, 16, 64));
    check_bijection(distinct_weights(t, 33, 37));  // partial panel, odd K
    check_bijection(distinct_weights(t, 130, 3));
    const auto w = test::random_matrix(21, 101, 9, 0.1f);
    auto q = quantize_weights(w, 21, 101, {t, WeightGranularity::per_channel, 0, true});
    ASSERT_TRUE(q);
    check_bijection(*q);
  }
}

// The layout of docs/cpu.md: fp8 codes as int8 (byte j * 4 + t of 4-k block q), 16-bit weights
// K-major (32 bytes per k), fp32 64 bytes per k.
TEST(PackCpu, LayoutsPutWeightsWhereTheKernelsLoadThem) {
  auto fp8 = pack_cpu(distinct_weights(QuantType::fp8_e4m3, 33, 37));
  ASSERT_TRUE(fp8);
  // Row 17 is lane 1 of panel 1; k = 13 is byte 1 of lane 1 in block 3 (k_padded = 40).
  EXPECT_EQ(static_cast<std::uint8_t>(fp8->panels[1 * 16 * 40 + 3 * 64 + 1 * 4 + 1]),
            (17 * 37 + 13) % 256);
  auto bf16 = pack_cpu(distinct_weights(QuantType::bf16, 33, 37));
  ASSERT_TRUE(bf16);
  ASSERT_EQ(bf16->k_padded, 38);
  std::uint16_t h;
  std::memcpy(&h, bf16->panels.data() + (1 * 16 * 38 + 13 * 16 + 1) * 2, 2);
  EXPECT_EQ(h, 17 * 37 + 13);
  auto fp32 = pack_cpu(distinct_weights(QuantType::fp32, 33, 37));
  ASSERT_TRUE(fp32);
  ASSERT_EQ(fp32->k_padded, 37);
  std::uint32_t bits;
  std::memcpy(&bits, fp32->panels.data() + (1 * 16 * 37 + 13 * 16 + 1) * 4, 4);
  EXPECT_EQ(bits, 0x3F000000u + 17 * 37 + 13);
}

TEST(PackCpu, WrongFormatsAreUnsupported) {
  auto fp16 = distinct_weights(QuantType::fp16, 16, 16);
  EXPECT_EQ(pack_cpu_fp8(fp16).error().code, Errc::unsupported);
  auto e4m3 = distinct_weights(QuantType::fp8_e4m3, 16, 16);
  EXPECT_EQ(pack_cpu_float(e4m3).error().code, Errc::unsupported);
  e4m3.format.granularity = WeightGranularity::per_group;
  e4m3.format.block_size = 32;
  EXPECT_EQ(pack_cpu_fp8(e4m3).error().code, Errc::unsupported);
}

// quant/pack_cpu.hpp: every code and zero point survives packing; the nibble layout is the one
// the header documents (code(16p + j, 8q + t) low, code(16p + j, 8q + 4 + t) high).
TEST(PackCpu, Int4KeepsEveryCodeAndZeroPoint) {
  const std::int64_t n = 37, k = 96;
  const auto w = test::random_matrix(n, k, 9, 0.1f);
  auto qw = quantize_weights(w, n, k, {QuantType::int4, WeightGranularity::per_group, 32, false});
  ASSERT_TRUE(qw);
  auto packed = pack_cpu_int4(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  ASSERT_EQ(packed->groups, 3);
  ASSERT_EQ(packed->group_k, 32);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      const int zero = packed->zero_points[(kk / 32) * packed->n_padded + row];
      ASSERT_EQ(cpu_packed_weight(*packed, row, kk) - zero, qw->int_value(row, kk))
          << row << "," << kk;
    }
  // Row 17 is lane 1 of panel 1; k = 13 is the high nibble of byte 1*4 + 1 of block 1.
  const auto byte = static_cast<std::uint8_t>(packed->panels[1 * 16 * 96 / 2 + 1 * 64 + 1 * 4 + 1]);
  EXPECT_EQ(byte >> 4, cpu_packed_weight(*packed, 17, 13));
  EXPECT_EQ(byte & 0xF, cpu_packed_weight(*packed, 17, 9));
}

// quant/pack_cpu.hpp: per-group int8 weights (new with W8A16) keep every value in the panel
// layout of W8A8, and each group's scale lands at [g][n_padded].
TEST(PackCpu, PerGroupInt8KeepsEveryWeightAndScale) {
  const std::int64_t n = 37, k = 96;
  const auto w = test::random_matrix(n, k, 9, 0.1f);
  auto qw = quantize_weights(w, n, k, {QuantType::int8, WeightGranularity::per_group, 32, true});
  ASSERT_TRUE(qw);
  auto packed = pack_cpu_int8(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  ASSERT_EQ(packed->groups, 3);
  ASSERT_EQ(packed->group_k, 32);
  ASSERT_EQ(packed->n_padded, 48);
  for (std::int64_t row = 0; row < n; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk) {
      ASSERT_EQ(cpu_packed_weight(*packed, row, kk), qw->int_value(row, kk)) << row << "," << kk;
      ASSERT_EQ(packed->scales[(kk / 32) * packed->n_padded + row], qw->scale(row, kk))
          << row << "," << kk;
    }
  // Row 17 is lane 1 of panel 1; k = 13 is byte 1 of lane 1 in 4-k block 3.
  EXPECT_EQ(packed->panels[1 * 16 * 96 + 3 * 64 + 1 * 4 + 1], qw->int_value(17, 13));
  // Every byte of the panels is some weight or zero padding: padding rows are zero.
  for (std::int64_t row = n; row < packed->n_padded; ++row)
    for (std::int64_t kk = 0; kk < k; ++kk) ASSERT_EQ(cpu_packed_weight(*packed, row, kk), 0);
}

}  // namespace
}  // namespace qk::quant
