// Weight packing for the CUDA target's int4 kernels (docs/numerics.md §5.2, docs/cuda.md "W4A16"):
// from the canonical storage of quant/weights.hpp into the k32-interleaved layout, in which one
// ldmatrix.x4 hands each lane one 32-bit word holding exactly the 8 codes its mma B fragments need
// for 32 k, and the group scales and zero points transposed to [groups][n_padded] fp32 rows, which
// the kernel copies with 16-byte cp.async along N.
//
// Weights: row n keeps K/2 bytes (K a multiple of 32); within row n, the 16 bytes of k-chunk c
// (k 32c..32c+31) are 4 little-endian words, and nibble j (bits 4j..4j+3) of word t holds the code
// of k = 32c + 2t + (j & 1) + 8 (j >> 1), i.e. k 2t, 2t+1, 8+2t, 9+2t, 16+2t, 17+2t, 24+2t,
// 25+2t: the B fragments of two m16n8k16 steps (PTX ISA 9.0 §9.7.14.5.8) of the lane with
// t = lane % 4, in register order.
#pragma once

#include <cstdint>
#include <vector>

#include "qk/error.hpp"
#include "quant/weights.hpp"

namespace qk::quant {

/// K per interleaved chunk (16 bytes of a row) and the N alignment of the scale rows (4 fp32,
/// one 16-byte cp.async).
inline constexpr std::int64_t kCudaInt4ChunkK = 32;
inline constexpr std::int64_t kCudaScaleAlignN = 4;

struct CudaInt4Weights {
  std::int64_t n = 0, k = 0;
  std::int64_t groups = 1;          ///< scale groups along K (1 unless per_group)
  std::int64_t n_padded = 0;        ///< the scale rows' length: N rounded up to kCudaScaleAlignN
  std::vector<std::uint8_t> codes;  ///< [n][k / 2], interleaved as in the header comment
  std::vector<float> scales;        ///< [groups][n_padded], padding 0 (per-tensor: repeated)
  /// Asymmetric: [groups][n_padded] zero points as fp32 (0..15, exact), padding 0; empty when
  /// symmetric (the kernel's zero point is then 8).
  std::vector<float> zero_points;
};

/// The interleaved position of canonical element k of a row: its byte within the row and the
/// nibble (0 low, 1 high) of that byte.
struct Int4Position {
  std::int64_t byte;
  int high;
};
Int4Position cuda_int4_position(std::int64_t k);

/// Packs int4 weights (any granularity, symmetric or not). Errors (Errc::unsupported) for other
/// types; (Errc::invalid_argument) when K is not a multiple of 32, naming K.
Expected<CudaInt4Weights> pack_cuda_int4(const QuantizedWeights& weights);

/// The canonical int4 rows (quant/int4_pack.hpp) of packed weights: the inverse of the weights'
/// part of pack_cuda_int4.
std::vector<std::uint8_t> unpack_cuda_int4(const CudaInt4Weights& packed);

}  // namespace qk::quant
