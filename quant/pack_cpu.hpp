// Weight packing for the CPU target's VNNI kernels (docs/numerics.md §5.2): from the canonical
// storage of quant/weights.hpp into 16-column panels with K in steps of 4, so that one 64-byte
// load is one vpdpbusd operand, plus the per-column data the epilogue reads.
//
// Panel p holds columns 16p..16p+15; byte [p * 16 * k_padded + kq * 64 + j * 4 + t] is weight
// (16p + j, 4kq + t). Columns past N and K past the end are zero. The layout is the same for
// every tile configuration, so a layer is packed once.
#pragma once

#include <cstdint>
#include <vector>

#include "qk/error.hpp"
#include "quant/weights.hpp"

namespace qk::quant {

/// K step of the VNNI layout and N width of a panel.
inline constexpr std::int64_t kCpuPackK = 4;
inline constexpr std::int64_t kCpuPanelN = 16;

struct CpuPackedWeights {
  QuantType type = QuantType::int8;
  std::int64_t n = 0, k = 0;
  std::int64_t n_padded = 0;  ///< N rounded up to a whole panel
  std::int64_t k_padded = 0;  ///< K rounded up to the K step (4 for int8, 8 for int4)
  std::int64_t groups = 1;    ///< scale groups along K (per-group weights; else 1)
  std::int64_t group_k = 0;   ///< K of one group (k_padded when there is one group)
  /// The panels: int8, n_padded * k_padded bytes; int4, half that (see pack_cpu_int4).
  std::vector<std::int8_t> panels;
  std::vector<float> scales;  ///< [groups][n_padded] (per-tensor scales repeated)
  /// int8: [n_padded] 128 * sum_k w[n, k]: vpdpbusd takes activations as u8 = a + 128, and this
  /// is what the +128 adds to each column's sum.
  std::vector<std::int32_t> compensation;
  std::vector<std::int32_t> zero_points;  ///< int4: [groups][n_padded] (8 when symmetric)
};

/// Packs int8 weights: per-tensor or per-channel (W8A8, W8A16), or per group of K (W8A16, whose
/// scales are then [groups][n_padded]). Errors (Errc::unsupported) for other types.
///
/// The weight-only kernels (templates/cpu/weight_only.hpp) read the same panels as the integer
/// ones: int8 as 4 k per 64 bytes, int4 as 8 k per 64 bytes, one byte lane per column; they
/// extract one k of 16 columns with shifts (and a mask for int4) and ignore `compensation`.
Expected<CpuPackedWeights> pack_cpu_int8(const QuantizedWeights& weights);

/// Packs int4 weights (any granularity, symmetric or not) for the W4A8 and W4A16 kernels: 16-column
/// panels of 8 k per 64 bytes, byte j * 4 + t holding code(16p + j, 8q + t) in its low nibble and
/// code(16p + j, 8q + 4 + t) in its high nibble. Errors (Errc::unsupported) for other formats.
Expected<CpuPackedWeights> pack_cpu_int4(const QuantizedWeights& weights);

/// Weight (row, k) read back from the panels (int4: its code), to test that packing is a
/// bijection.
std::int8_t cpu_packed_weight(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k);

}  // namespace qk::quant
