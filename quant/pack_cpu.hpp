// Weight packing for the CPU target's kernels (docs/numerics.md §5.2): from the canonical
// storage of quant/weights.hpp into 16-column panels, so that one 64-byte load feeds 16 columns
// (for int8, one vpdpbusd operand), plus the per-column data the epilogue reads.
//
// int8 and fp8: panel p holds columns 16p..16p+15; byte [p * 16 * k_padded + kq * 64 + j * 4 + t]
// is weight (16p + j, 4kq + t). int4 and the float types: see pack_cpu_int4 and pack_cpu_float.
// Columns past N and K past the end are zero. The layout is the same for every tile
// configuration, so a layer is packed once.
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
  /// K rounded up to the K step: 4 (int8, fp8), 8 (int4), 2 (fp16, bf16), 1 (fp32)
  std::int64_t k_padded = 0;
  std::int64_t groups = 1;   ///< scale groups along K (per-group weights; else 1)
  std::int64_t group_k = 0;  ///< K of one group (k_padded when there is one group)
  /// The panels: n_padded * k_padded weights of bits_of(type) bits each (int4: half a byte).
  std::vector<std::int8_t> panels;
  std::vector<float> scales;  ///< [groups][n_padded] (per-tensor scales repeated); float: empty
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

/// Packs fp8 weights (E4M3 or E5M2, per-tensor or per-channel) for the WFP8A16 kernel: the codes
/// in the int8 layout (4 k per 64 bytes), scales [1][n_padded]. Errors (Errc::unsupported) for
/// other formats.
Expected<CpuPackedWeights> pack_cpu_fp8(const QuantizedWeights& weights);

/// Packs fp16, bf16 or fp32 weights for the float baselines: 16-column panels, K-major, the 16
/// columns' weights at one k contiguous: element [p * 16 * k_padded + k * 16 + j] (of 2 or 4
/// bytes, the canonical bits) is w(16p + j, k), so a 64-byte block holds 2 k (fp16, bf16) or 1
/// (fp32). No scales. Errors (Errc::unsupported) for other formats.
Expected<CpuPackedWeights> pack_cpu_float(const QuantizedWeights& weights);

/// The packing of the cpu target for the weights' format: one of the functions above.
Expected<CpuPackedWeights> pack_cpu(const QuantizedWeights& weights);

/// Weight (row, k) read back from the panels (int4: its code), to test that packing is a
/// bijection. int8 and int4 only.
std::int8_t cpu_packed_weight(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k);

/// The stored bits of weight (row, k) read back from the panels, for every type: the int8 or fp8
/// byte, the int4 code, the fp16/bf16/fp32 bit pattern; a bijection with the canonical storage.
std::uint32_t cpu_packed_bits(const CpuPackedWeights& packed, std::int64_t row, std::int64_t k);

}  // namespace qk::quant
