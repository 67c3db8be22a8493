// cuda-emu's ldmatrix and mma.sync against the PTX ISA's fragment tables, written out here
// independently of runtime/emu_tensor_core.cpp: which lane holds which element.
#include "runtime/emu_tensor_core.hpp"

#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "quant/float_formats.hpp"

namespace qk::runtime::emu {
namespace {

// PTX ISA, ldmatrix: "each thread receives 32 bits: the b16 elements (row l/4, columns
// 2(l%4) and 2(l%4)+1)" of each matrix; .trans delivers the transpose.
TEST(EmuLdmatrix, LanesReceiveTheirRowPairsOfEachMatrix) {
  std::vector<std::uint8_t> shared(4096);
  for (std::size_t i = 0; i < shared.size(); ++i) shared[i] = static_cast<std::uint8_t>(i * 7 + 3);
  // Matrix j's row r lives at a scattered, 16-byte aligned place.
  auto row_address = [](int j, int r) { return static_cast<std::uint32_t>(1024 * j + 48 * r + 16); };
  Lanes<std::uint32_t> addresses{};
  for (int lane = 0; lane < 32; ++lane) addresses[lane] = row_address(lane / 8, lane % 8);
  auto element = [&](int j, int r, int c) {
    const std::uint32_t a = row_address(j, r) + 2 * c;
    return std::uint32_t(shared[a] | shared[a + 1] << 8);
  };
  for (bool trans : {false, true}) {
    for (int count : {1, 2, 4}) {
      Lanes<Words4> regs{};
      ASSERT_TRUE(ldmatrix(shared, addresses, count, trans, regs));
      for (int lane = 0; lane < 32; ++lane)
        for (int j = 0; j < count; ++j) {
          const int row = lane / 4, col = 2 * (lane % 4);
          const std::uint32_t expected =
              trans ? element(j, col, row) | element(j, col + 1, row) << 16
                    : element(j, row, col) | element(j, row, col + 1) << 16;
          EXPECT_EQ(regs[lane][j], expected) << "lane " << lane << " matrix " << j;
        }
    }
  }
}

TEST(EmuLdmatrix, RefusesMisalignedOrOutOfBoundsRows) {
  std::vector<std::uint8_t> shared(256);
  Lanes<std::uint32_t> addresses{};
  Lanes<Words4> regs{};
  addresses[9] = 8;
  EXPECT_TRUE(ldmatrix(shared, addresses, 1, false, regs));  // lane 9 gives no row for .x1
  auto misaligned = ldmatrix(shared, addresses, 2, false, regs);
  ASSERT_FALSE(misaligned);
  EXPECT_EQ(misaligned.error().where, "ldmatrix lane 9");
  addresses[9] = 0;
  addresses[31] = 256 - 8;
  EXPECT_FALSE(ldmatrix(shared, addresses, 4, false, regs));
  EXPECT_FALSE(ldmatrix(shared, addresses, 3, false, regs));
}

// PTX ISA, "Matrix Fragments for mma.m16n8k32" (.s8), with groupID g = lane >> 2 and
// threadID_in_group t = lane % 4, elements a0 … a15 four to a register:
//   a_i: row g for i < 4 or 8 <= i < 12, else g + 8; column 4t + (i & 3), + 16 for i >= 8
//   b_i: row 4t + (i & 3), + 16 for i >= 4; column g
//   c_i: row g for i < 2, else g + 8; column 2t + (i & 1)
TEST(EmuMma, M16N8K32S8MatchesAPlainProductThroughTheIsaFragments) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> code(-128, 127), acc(-100000, 100000);
  std::int8_t A[16][32], B[32][8];
  std::int32_t C[16][8];
  for (auto& r : A)
    for (auto& v : r) v = static_cast<std::int8_t>(code(rng));
  for (auto& r : B)
    for (auto& v : r) v = static_cast<std::int8_t>(code(rng));
  for (auto& r : C)
    for (auto& v : r) v = acc(rng);
  auto pack = [](auto get) {
    std::uint32_t w = 0;
    for (int i = 0; i < 4; ++i) w |= std::uint32_t(std::uint8_t(get(i))) << (8 * i);
    return w;
  };
  Lanes<Words4> a{};
  Lanes<Words2> b{};
  Lanes<Ints4> c{}, d{};
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r % 2), k0 = 16 * (r / 2) + 4 * t;
      a[lane][r] = pack([&](int i) { return A[row][k0 + i]; });
    }
    for (int r = 0; r < 2; ++r) b[lane][r] = pack([&](int i) { return B[16 * r + 4 * t + i][g]; });
    for (int r = 0; r < 4; ++r) c[lane][r] = C[g + 8 * (r / 2)][2 * t + r % 2];
  }
  mma_m16n8k32_s8(a, b, c, d);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r / 2), col = 2 * t + r % 2;
      std::int64_t sum = C[row][col];
      for (int k = 0; k < 32; ++k) sum += A[row][k] * B[k][col];
      EXPECT_EQ(d[lane][r], sum) << "lane " << lane << " register " << r;
    }
  }
}

}  // namespace
}  // namespace qk::runtime::emu

namespace qk::runtime::emu {
namespace {

// The same fragments as the s8 shape, elements spelled out per register for the float shapes:
// PTX ISA "Matrix Fragments for mma.m16n8k16 with floating point type" (a_i: row g for i < 2 or
// 4 <= i < 6, else g + 8; column 2t + (i & 1), + 8 for i >= 4; b_i: row 2t + (i & 1), + 8 for
// i >= 2; column g) and "for mma.m16n8k32" with .e4m3/.e5m2 (as .s8).
template <int K, int PerWord, class Encode>
void check_float_mma(Encode encode, auto run) {
  // Multiples of 1/4 in [-2, 2]: exact in fp16, bf16 and e4m3, so every product and every sum
  // below is exact and the expected results are known bit for bit.
  std::mt19937 rng(11);
  auto value = [&] { return static_cast<float>(static_cast<int>(rng() % 17) - 8) * 0.25f; };
  float A[16][K], B[K][8], C[16][8];
  for (auto& r : A)
    for (auto& v : r) v = value();
  for (auto& r : B)
    for (auto& v : r) v = value();
  for (auto& r : C)
    for (auto& v : r) v = value();
  constexpr int kBits = 32 / PerWord;
  auto pack = [&](auto get) {
    std::uint32_t w = 0;
    for (int i = 0; i < PerWord; ++i) w |= std::uint32_t(encode(get(i))) << (kBits * i);
    return w;
  };
  Lanes<Words4> a{};
  Lanes<Words2> b{};
  Lanes<Floats4> c{}, d{};
  constexpr int kHalf = K / 2;  // the k offset of registers 2 and 3 of A and 1 of B
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r % 2), k0 = kHalf * (r / 2) + PerWord * t;
      a[lane][r] = pack([&](int i) { return A[row][k0 + i]; });
    }
    for (int r = 0; r < 2; ++r)
      b[lane][r] = pack([&](int i) { return B[kHalf * r + PerWord * t + i][g]; });
    for (int r = 0; r < 4; ++r) c[lane][r] = C[g + 8 * (r / 2)][2 * t + r % 2];
  }
  run(a, b, c, d);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r / 2), col = 2 * t + r % 2;
      double sum = C[row][col];
      for (int k = 0; k < K; ++k) sum += double{A[row][k]} * B[k][col];
      EXPECT_EQ(d[lane][r], static_cast<float>(sum)) << "lane " << lane << " register " << r;
    }
  }
}

TEST(EmuMma, FloatShapesFollowTheIsaFragments) {
  // Exactness first: values every format holds exactly, so the product is known bit for bit.
  for (MmaFloat type : {MmaFloat::f16, MmaFloat::bf16}) {
    Lanes<Words4> a{};
    Lanes<Words2> b{};
    Lanes<Floats4> c{}, d{};
    // A = identity-like: A[row][k] = 1 where k == row (k < 16); B[k][col] = k * 8 + col.
    const std::uint16_t one = type == MmaFloat::f16 ? 0x3c00 : 0x3f80;
    auto enc = [&](float v) {
      return type == MmaFloat::f16 ? quant::float_to_fp16(v) : quant::float_to_bf16(v);
    };
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane % 4;
      for (int r = 0; r < 4; ++r) {
        const int row = g + 8 * (r % 2), k0 = 8 * (r / 2) + 2 * t;
        a[lane][r] = (k0 == row ? one : 0u) | (k0 + 1 == row ? std::uint32_t(one) << 16 : 0u);
      }
      for (int r = 0; r < 2; ++r) {
        const int k0 = 8 * r + 2 * t;
        b[lane][r] = enc(float(k0 * 8 + g)) | std::uint32_t(enc(float((k0 + 1) * 8 + g))) << 16;
      }
      c[lane] = {0.5f, 0.5f, 0.5f, 0.5f};
    }
    mma_m16n8k16_float(type, a, b, c, d);
    for (int lane = 0; lane < 32; ++lane) {
      const int g = lane >> 2, t = lane % 4;
      for (int r = 0; r < 4; ++r) {
        const int row = g + 8 * (r / 2), col = 2 * t + r % 2;
        EXPECT_EQ(d[lane][r], float(row * 8 + col) + 0.5f) << "lane " << lane << " reg " << r;
      }
    }
  }
  // Then random values through the whole fragment maps, for each element type.
  check_float_mma<16, 2>([](float v) { return quant::float_to_fp16(v); },
                         [](auto& a, auto& b, auto& c, auto& d) {
                           mma_m16n8k16_float(MmaFloat::f16, a, b, c, d);
                         });
  check_float_mma<16, 2>([](float v) { return quant::float_to_bf16(v); },
                         [](auto& a, auto& b, auto& c, auto& d) {
                           mma_m16n8k16_float(MmaFloat::bf16, a, b, c, d);
                         });
  check_float_mma<32, 4>(
      [](float v) { return quant::float_to_fp8(v, quant::Fp8Format::e5m2); },
      [](auto& a, auto& b, auto& c, auto& d) {
        mma_m16n8k32_fp8(MmaFloat::e5m2, MmaFloat::e5m2, a, b, c, d);
      });
  check_float_mma<32, 4>(
      [](float v) { return quant::float_to_fp8(v, quant::Fp8Format::e4m3); },
      [](auto& a, auto& b, auto& c, auto& d) {
        mma_m16n8k32_fp8(MmaFloat::e4m3, MmaFloat::e4m3, a, b, c, d);
      });
}

}  // namespace
}  // namespace qk::runtime::emu
