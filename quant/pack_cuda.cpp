#include "quant/pack_cuda.hpp"

#include <fmt/format.h>

#include "quant/int4_pack.hpp"

namespace qk::quant {

Int4Position cuda_int4_position(std::int64_t k, CudaInt4Order order) {
  const std::int64_t chunk = k / kCudaInt4ChunkK, r = k % kCudaInt4ChunkK;
  std::int64_t t = 0, j = 0;
  if (order == CudaInt4Order::m16n8k16) {
    // r = 2t + (j & 1) + 8 (j >> 1): t from bits 1-2 of r, j from bit 0 and bits 3-4.
    t = (r % 8) / 2;
    j = (r % 2) + 2 * (r / 8);
  } else {
    // r = 4t + (j & 3) + 16 (j >> 2): t from bits 2-3 of r, j from bits 0-1 and bit 4.
    t = (r % 16) / 4;
    j = (r % 4) + 4 * (r / 16);
  }
  return {16 * chunk + 4 * t + j / 2, static_cast<int>(j % 2)};
}

Expected<CudaInt4Weights> pack_cuda_int4(const QuantizedWeights& w, CudaInt4Order order) {
  if (w.format.type != QuantType::int4)
    return Error{
        Errc::unsupported, "weights.format.type",
        fmt::format("the cuda int4 layout packs int4 weights, not {}", to_string(w.format.type))};
  if (w.k % kCudaInt4ChunkK != 0)
    return Error{Errc::invalid_argument, "weights.k",
                 fmt::format("k {} must be a multiple of {} (whole 16-byte chunks per row)", w.k,
                             kCudaInt4ChunkK)};
  CudaInt4Weights p;
  p.n = w.n;
  p.k = w.k;
  p.groups = w.groups();
  p.order = order;
  p.n_padded = (w.n + kCudaScaleAlignN - 1) / kCudaScaleAlignN * kCudaScaleAlignN;
  p.codes.assign(static_cast<std::size_t>(w.n * w.k / 2), 0);
  for (std::int64_t n = 0; n < w.n; ++n) {
    const std::span<const std::uint8_t> row(w.codes.data() + n * w.row_bytes(),
                                            static_cast<std::size_t>(w.row_bytes()));
    for (std::int64_t k = 0; k < w.k; ++k) {
      const Int4Position at = cuda_int4_position(k, order);
      p.codes[static_cast<std::size_t>(n * w.k / 2 + at.byte)] |=
          static_cast<std::uint8_t>(int4_code_at(row, k) << (4 * at.high));
    }
  }
  p.scales.assign(static_cast<std::size_t>(p.groups * p.n_padded), 0.0f);
  if (!w.format.symmetric)
    p.zero_points.assign(static_cast<std::size_t>(p.groups * p.n_padded), 0.0f);
  for (std::int64_t g = 0; g < p.groups; ++g)
    for (std::int64_t n = 0; n < w.n; ++n) {
      const std::int64_t k0 = g * (w.k / p.groups);  // the group's first k
      const auto at = static_cast<std::size_t>(g * p.n_padded + n);
      p.scales[at] = w.scale(n, k0);
      if (!w.format.symmetric)
        p.zero_points[at] =
            static_cast<float>(w.zero_points[static_cast<std::size_t>(w.param_index(n, k0))]);
    }
  return p;
}

std::vector<std::uint8_t> unpack_cuda_int4(const CudaInt4Weights& p) {
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(p.n * p.k));
  for (std::int64_t n = 0; n < p.n; ++n)
    for (std::int64_t k = 0; k < p.k; ++k) {
      const Int4Position at = cuda_int4_position(k, p.order);
      codes[static_cast<std::size_t>(n * p.k + k)] =
          (p.codes[static_cast<std::size_t>(n * p.k / 2 + at.byte)] >> (4 * at.high)) & 0x0F;
    }
  return pack_int4(codes, p.n, p.k);
}

}  // namespace qk::quant
