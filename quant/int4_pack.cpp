#include "quant/int4_pack.hpp"

namespace qk::quant {

std::vector<std::uint8_t> pack_int4(std::span<const std::uint8_t> codes, std::int64_t rows,
                                    std::int64_t k) {
  const std::int64_t row_bytes = int4_row_bytes(k);
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(rows * row_bytes), 0);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < k; ++i) {
      const auto code = static_cast<std::uint8_t>(codes[r * k + i] & 0x0F);
      packed[r * row_bytes + i / 2] |= (i % 2 == 0) ? code : static_cast<std::uint8_t>(code << 4);
    }
  }
  return packed;
}

std::vector<std::uint8_t> unpack_int4(std::span<const std::uint8_t> packed, std::int64_t rows,
                                      std::int64_t k) {
  const std::int64_t row_bytes = int4_row_bytes(k);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(rows * k));
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t i = 0; i < k; ++i)
      codes[r * k + i] = int4_code_at(packed.subspan(r * row_bytes, row_bytes), i);
  return codes;
}

}  // namespace qk::quant
