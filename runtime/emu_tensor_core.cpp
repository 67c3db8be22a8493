#include "runtime/emu_tensor_core.hpp"

#include <cstring>

#include <fmt/format.h>

namespace qk::runtime::emu {

namespace {

constexpr int kRowBytes = 16;  // one row of an 8x8 b16 matrix

std::int8_t byte_of(std::uint32_t word, int i) {
  return static_cast<std::int8_t>(static_cast<std::uint8_t>(word >> (8 * i)));
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

}  // namespace qk::runtime::emu
