// quant/pack_cuda.hpp: the cuda int4 layout is a bijection of the canonical storage
// (docs/numerics.md §5.2) whose 32-bit words hold exactly the codes one lane's m16n8k16 B
// fragments need (PTX ISA 9.0 §9.7.14.5.8), and the scales and zero points land transposed.
#include "quant/pack_cuda.hpp"

#include <set>

#include <gtest/gtest.h>

#include "quant/int4_pack.hpp"
#include "test_data.hpp"

namespace qk::quant {
namespace {

// Within a 32-k chunk, word t serves the lane with t = lane % 4: the B fragments of two
// m16n8k16 steps, b[0] = k 2t, 2t+1 and b[1] = k 8+2t, 9+2t of each, in register order (nibbles
// 0-1, 2-3 for the first step, 4-5, 6-7 for the second), the lower k in the lower nibble.
TEST(PackCudaInt4, EachWordHoldsOneLanesFragmentsInRegisterOrder) {
  std::set<std::pair<std::int64_t, int>> seen;
  for (std::int64_t k = 0; k < 64; ++k) {
    const Int4Position at = cuda_int4_position(k, CudaInt4Order::m16n8k16);
    EXPECT_TRUE(seen.insert({at.byte, at.high}).second) << "k " << k << " shares a nibble";
    EXPECT_EQ(at.byte / 16, k / 32) << "k " << k << " leaves its 16-byte chunk";
    const std::int64_t t = (at.byte % 16) / 4;
    const std::int64_t nibble = 2 * (at.byte % 4) + at.high;  // j: bits 4j..4j+3 of the word
    const std::int64_t step = nibble / 4, reg = (nibble / 2) % 2, half = nibble % 2;
    EXPECT_EQ(k % 32, 16 * step + 8 * reg + 2 * t + half) << "k " << k;
  }
  EXPECT_EQ(seen.size(), 64u);
}

// The m16n8k32 order: word t holds b[0] = k 4t..4t+3 (nibbles 0-3) and b[1] = k 16+4t..19+4t
// (nibbles 4-7) of an s8 m16n8k32 step (PTX ISA 9.0 §9.7.14.5.10), the lower k lower.
TEST(PackCudaInt4, Int8OrderHoldsOneLanesM16n8k32Fragments) {
  std::set<std::pair<std::int64_t, int>> seen;
  for (std::int64_t k = 0; k < 64; ++k) {
    const Int4Position at = cuda_int4_position(k, CudaInt4Order::m16n8k32);
    EXPECT_TRUE(seen.insert({at.byte, at.high}).second) << "k " << k << " shares a nibble";
    EXPECT_EQ(at.byte / 16, k / 32) << "k " << k << " leaves its 16-byte chunk";
    const std::int64_t t = (at.byte % 16) / 4;
    const std::int64_t nibble = 2 * (at.byte % 4) + at.high;
    EXPECT_EQ(k % 32, 16 * (nibble / 4) + 4 * t + nibble % 4) << "k " << k;
  }
}

void check_round_trip(std::int64_t n, std::int64_t k, WeightGranularity granularity, int block,
                      bool symmetric) {
  SCOPED_TRACE(testing::Message() << n << "x" << k << " block " << block << " sym " << symmetric);
  const std::vector<float> w = test::random_matrix(n, k, static_cast<unsigned>(n * 7 + k));
  auto q = quantize_weights(w, n, k, {QuantType::int4, granularity, block, symmetric});
  ASSERT_TRUE(q) << q.error().str();
  auto p = pack_cuda_int4(*q, CudaInt4Order::m16n8k16);
  ASSERT_TRUE(p) << p.error().str();
  EXPECT_EQ(p->codes.size(), static_cast<std::size_t>(n * k / 2));
  EXPECT_EQ(unpack_cuda_int4(*p), q->codes);
  auto p8 = pack_cuda_int4(*q, CudaInt4Order::m16n8k32);
  ASSERT_TRUE(p8) << p8.error().str();
  EXPECT_EQ(unpack_cuda_int4(*p8), q->codes);
  EXPECT_EQ(p8->scales, p->scales);
  EXPECT_EQ(p->n_padded % 4, 0);
  EXPECT_GE(p->n_padded, n);
  EXPECT_LT(p->n_padded, n + 4);
  EXPECT_EQ(p->groups, q->groups());
  ASSERT_EQ(p->scales.size(), static_cast<std::size_t>(p->groups * p->n_padded));
  EXPECT_EQ(p->zero_points.size(), symmetric ? 0u : p->scales.size());
  for (std::int64_t g = 0; g < p->groups; ++g)
    for (std::int64_t r = 0; r < p->n_padded; ++r) {
      const std::size_t at = static_cast<std::size_t>(g * p->n_padded + r);
      const std::int64_t k0 = g * (k / p->groups);
      EXPECT_EQ(p->scales[at], r < n ? q->scale(r, k0) : 0.0f) << g << ", " << r;
      if (!symmetric) {
        const int code = r < n ? int4_code_at({q->codes.data() + r * q->row_bytes(),
                                               static_cast<std::size_t>(q->row_bytes())},
                                              k0)
                               : 0;
        // value = code - zero, so the zero point is what int_value subtracts.
        EXPECT_EQ(p->zero_points[at], r < n ? float(code - q->int_value(r, k0)) : 0.0f)
            << g << ", " << r;
      }
    }
}

TEST(PackCudaInt4, RoundTripsEveryGranularityAndAwkwardN) {
  check_round_trip(5, 64, WeightGranularity::per_group, 32, false);
  check_round_trip(8, 256, WeightGranularity::per_group, 128, true);
  check_round_trip(13, 96, WeightGranularity::per_group, 32, true);
  check_round_trip(3, 32, WeightGranularity::per_channel, 0, false);
  check_round_trip(6, 128, WeightGranularity::per_tensor, 0, true);
}

TEST(PackCudaInt4, RefusesWhatTheLayoutCannotHold) {
  const std::vector<float> w = test::random_matrix(4, 48, 1);
  auto q = quantize_weights(w, 4, 48, {QuantType::int4, WeightGranularity::per_channel, 0, true});
  ASSERT_TRUE(q);
  auto p = pack_cuda_int4(*q, CudaInt4Order::m16n8k16);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Errc::invalid_argument);
  EXPECT_EQ(p.error().where, "weights.k");
  EXPECT_NE(p.error().message.find("48"), std::string::npos) << p.error().message;
  auto q8 = quantize_weights(w, 4, 48, {QuantType::int8, WeightGranularity::per_channel, 0, true});
  ASSERT_TRUE(q8);
  EXPECT_EQ(pack_cuda_int4(*q8, CudaInt4Order::m16n8k32).error().code, Errc::unsupported);
}

}  // namespace
}  // namespace qk::quant
