// The canonical INT4 layout: docs/numerics.md §5.
#include "quant/int4_pack.hpp"

#include <random>

#include <gtest/gtest.h>

namespace qk::quant {
namespace {

// §5: element 2i sits in the low nibble of byte i, element 2i+1 in its high nibble; an odd K
// ends in a zero padding nibble; every row starts on a byte boundary.
TEST(Int4Pack, NibbleOrderIsLowFirst) {
  const std::vector<std::uint8_t> codes{0x1, 0x2, 0x3,   // row 0, k = 3
                                        0xA, 0xB, 0xC};  // row 1
  const auto packed = pack_int4(codes, 2, 3);
  const std::vector<std::uint8_t> expected{0x21, 0x03, 0xBA, 0x0C};
  EXPECT_EQ(packed, expected);
  EXPECT_EQ(int4_code_at(packed, 0), 0x1);
  EXPECT_EQ(int4_code_at(packed, 1), 0x2);
  EXPECT_EQ(int4_code_at(std::span(packed).subspan(2), 2), 0xC);
}

TEST(Int4Pack, RowBytes) {
  EXPECT_EQ(int4_row_bytes(1), 1);
  EXPECT_EQ(int4_row_bytes(2), 1);
  EXPECT_EQ(int4_row_bytes(4095), 2048);
  EXPECT_EQ(int4_row_bytes(4096), 2048);
}

// Packing is a bijection on codes 0..15 for any shape, odd K included.
TEST(Int4Pack, PackUnpackRoundTrip) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> code(0, 15);
  for (std::int64_t rows : {1, 3, 17}) {
    for (std::int64_t k : {1, 2, 7, 64, 129}) {
      std::vector<std::uint8_t> codes(static_cast<std::size_t>(rows * k));
      for (auto& c : codes) c = static_cast<std::uint8_t>(code(rng));
      const auto packed = pack_int4(codes, rows, k);
      ASSERT_EQ(static_cast<std::int64_t>(packed.size()), rows * int4_row_bytes(k));
      EXPECT_EQ(unpack_int4(packed, rows, k), codes) << rows << "x" << k;
      if (k % 2 == 1) {
        for (std::int64_t r = 0; r < rows; ++r) {
          EXPECT_EQ(packed[r * int4_row_bytes(k) + k / 2] >> 4, 0) << "padding nibble";
        }
      }
    }
  }
}

}  // namespace
}  // namespace qk::quant
