#include "runtime/emu_tensor_core.hpp"

#include <cstring>

#include <fmt/format.h>

#include "quant/float_formats.hpp"

namespace qk::runtime::emu {

namespace {

constexpr int kRowBytes = 16;  // one row of an 8x8 b16 matrix

std::int8_t byte_of(std::uint32_t word, int i) {
  return static_cast<std::int8_t>(static_cast<std::uint8_t>(word >> (8 * i)));
}

double decode(MmaFloat type, std::uint32_t bits) {
  switch (type) {
    case MmaFloat::f16:
      return quant::fp16_to_float(static_cast<std::uint16_t>(bits));
    case MmaFloat::bf16:
      return quant::bf16_to_float(static_cast<std::uint16_t>(bits));
    case MmaFloat::e4m3:
      return quant::fp8_to_float(static_cast<std::uint8_t>(bits), quant::Fp8Format::e4m3);
    case MmaFloat::e5m2:
      return quant::fp8_to_float(static_cast<std::uint8_t>(bits), quant::Fp8Format::e5m2);
  }
  return 0;
}

/// D = A · B + C over 16 x 8 with K = `Depth`, from matrices already in row/column form. Products
/// of fp16/bf16/fp8 values are exact in double; the sum, C included, is taken in double in k
/// order and rounded once to fp32.
template <int Depth>
void float_product(const double (&A)[16][Depth], const double (&B)[Depth][8],
                   const float (&C)[16][8], Lanes<Floats4>& d) {
  auto result = [&](int row, int column) {
    double sum = C[row][column];
    for (int k = 0; k < Depth; ++k) sum += A[row][k] * B[k][column];
    return static_cast<float>(sum);
  };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    d[lane] = {result(g, 2 * t), result(g, 2 * t + 1), result(g + 8, 2 * t),
               result(g + 8, 2 * t + 1)};
  }
}

void gather_c(const Lanes<Floats4>& c, float (&C)[16][8]) {
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    C[g][2 * t] = c[lane][0];
    C[g][2 * t + 1] = c[lane][1];
    C[g + 8][2 * t] = c[lane][2];
    C[g + 8][2 * t + 1] = c[lane][3];
  }
}

}  // namespace

Expected<void> ldmatrix(std::span<const std::uint8_t> shared, const Lanes<std::uint32_t>& addresses,
                        int count, bool transpose, Lanes<Words4>& registers) {
  if (count != 1 && count != 2 && count != 4)
    return Error{Errc::invalid_argument, "ldmatrix",
                 fmt::format(".x{} is not an ldmatrix shape (.x1, .x2, .x4)", count)};
  // rows[j][r]: the 16 bytes of row r of matrix j.
  std::array<std::array<const std::uint8_t*, 8>, 4> rows{};
  for (int lane = 0; lane < 8 * count; ++lane) {
    const std::uint32_t address = addresses[lane];
    if (address % kRowBytes != 0 || std::size_t{address} + kRowBytes > shared.size())
      return Error{Errc::invalid_argument, fmt::format("ldmatrix lane {}", lane),
                   fmt::format("row address {} must be 16-byte aligned with its 16 bytes inside "
                               "the {} bytes of shared memory",
                               address, shared.size())};
    rows[lane / 8][lane % 8] = shared.data() + address;
  }
  auto element = [&](int matrix, int row, int column) {
    std::uint16_t e;
    std::memcpy(&e, rows[matrix][row] + 2 * column, 2);
    return std::uint32_t{e};
  };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int j = 0; j < count; ++j) {
      const std::uint32_t lo = transpose ? element(j, 2 * t, g) : element(j, g, 2 * t);
      const std::uint32_t hi = transpose ? element(j, 2 * t + 1, g) : element(j, g, 2 * t + 1);
      registers[lane][j] = lo | hi << 16;
    }
  }
  return {};
}

void mma_m16n8k32_s8(const Lanes<Words4>& a, const Lanes<Words2>& b, const Lanes<Ints4>& c,
                     Lanes<Ints4>& d) {
  std::int8_t A[16][32], B[32][8];
  std::int32_t C[16][8];
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      A[g][4 * t + i] = byte_of(a[lane][0], i);
      A[g + 8][4 * t + i] = byte_of(a[lane][1], i);
      A[g][16 + 4 * t + i] = byte_of(a[lane][2], i);
      A[g + 8][16 + 4 * t + i] = byte_of(a[lane][3], i);
      B[4 * t + i][g] = byte_of(b[lane][0], i);
      B[16 + 4 * t + i][g] = byte_of(b[lane][1], i);
    }
    C[g][2 * t] = c[lane][0];
    C[g][2 * t + 1] = c[lane][1];
    C[g + 8][2 * t] = c[lane][2];
    C[g + 8][2 * t + 1] = c[lane][3];
  }
  auto result = [&](int row, int column) {
    std::uint32_t sum = static_cast<std::uint32_t>(C[row][column]);  // wraps, like the hardware
    for (int k = 0; k < 32; ++k)
      sum += static_cast<std::uint32_t>(std::int32_t{A[row][k]} * std::int32_t{B[k][column]});
    return static_cast<std::int32_t>(sum);
  };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    d[lane] = {result(g, 2 * t), result(g, 2 * t + 1), result(g + 8, 2 * t),
               result(g + 8, 2 * t + 1)};
  }
}

void mma_m16n8k16_float(MmaFloat type, const Lanes<Words4>& a, const Lanes<Words2>& b,
                        const Lanes<Floats4>& c, Lanes<Floats4>& d) {
  double A[16][16], B[16][8];
  float C[16][8];
  auto half = [&](std::uint32_t word, int i) { return decode(type, word >> (16 * i) & 0xffffu); };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 2; ++i) {
      A[g][2 * t + i] = half(a[lane][0], i);
      A[g + 8][2 * t + i] = half(a[lane][1], i);
      A[g][2 * t + 8 + i] = half(a[lane][2], i);
      A[g + 8][2 * t + 8 + i] = half(a[lane][3], i);
      B[2 * t + i][g] = half(b[lane][0], i);
      B[2 * t + 8 + i][g] = half(b[lane][1], i);
    }
  }
  gather_c(c, C);
  float_product(A, B, C, d);
}

void mma_m16n8k32_fp8(MmaFloat a_type, MmaFloat b_type, const Lanes<Words4>& a,
                      const Lanes<Words2>& b, const Lanes<Floats4>& c, Lanes<Floats4>& d) {
  double A[16][32], B[32][8];
  float C[16][8];
  auto code = [](std::uint32_t word, int i) { return word >> (8 * i) & 0xffu; };
  for (int lane = 0; lane < kWarpSize; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i) {
      A[g][4 * t + i] = decode(a_type, code(a[lane][0], i));
      A[g + 8][4 * t + i] = decode(a_type, code(a[lane][1], i));
      A[g][16 + 4 * t + i] = decode(a_type, code(a[lane][2], i));
      A[g + 8][16 + 4 * t + i] = decode(a_type, code(a[lane][3], i));
      B[4 * t + i][g] = decode(b_type, code(b[lane][0], i));
      B[16 + 4 * t + i][g] = decode(b_type, code(b[lane][1], i));
    }
  }
  gather_c(c, C);
  float_product(A, B, C, d);
}

}  // namespace qk::runtime::emu
