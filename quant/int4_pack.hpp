// The canonical INT4 storage of docs/numerics.md §5: two codes per byte along K, the even k in
// the low nibble, each row of W ([N, K], K contiguous) starting on a byte boundary. Target
// kernels repack from this layout into their own (documented with each target).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace qk::quant {

/// Bytes of one packed row of `k` int4 codes (an odd k ends in a zero padding nibble).
inline std::int64_t int4_row_bytes(std::int64_t k) {
  return (k + 1) / 2;
}

/// Code (0..15) of element `k` of a packed row.
inline std::uint8_t int4_code_at(std::span<const std::uint8_t> row, std::int64_t k) {
  const std::uint8_t byte = row[static_cast<std::size_t>(k / 2)];
  return (k % 2 == 0) ? (byte & 0x0F) : (byte >> 4);
}

/// Packs `rows` x `k` codes (one code 0..15 per byte, row-major) into the canonical layout.
/// @pre every code <= 15 and codes.size() == rows * k
std::vector<std::uint8_t> pack_int4(std::span<const std::uint8_t> codes, std::int64_t rows,
                                    std::int64_t k);

/// The inverse of pack_int4: one code per byte, row-major, padding nibbles dropped.
std::vector<std::uint8_t> unpack_int4(std::span<const std::uint8_t> packed, std::int64_t rows,
                                      std::int64_t k);

}  // namespace qk::quant
