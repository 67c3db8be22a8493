// Weight packing for the CUDA target's int4 kernels (docs/numerics.md §5.2, docs/cuda.md "W4A16"):
// from the canonical storage of quant/weights.hpp into the k32-interleaved layout, in which one
// ldmatrix.x4 hands each lane one 32-bit word holding exactly the 8 codes its mma B fragments need
// for 32 k, and the group scales and zero points transposed to [groups][n_padded] fp32 rows, which
// the kernel copies with 16-byte cp.async along N.
//
// Weights: row n keeps K/2 bytes (K a multiple of 32); within row n, the 16 bytes of k-chunk c
// (k 32c..32c+31) are 4 little-endian words, and nibble j (bits 4j..4j+3) of word t holds the
// codes the lane with t = lane % 4 needs for its B fragments, in register order:
// - for mma.m16n8k16 (w4a16, 16-bit activations; PTX ISA 9.0 §9.7.14.5.8): the two steps' b[0],
//   b[1], i.e. k = 32c + 2t + (j & 1) + 8 (j >> 1): 2t, 2t+1, 8+2t, 9+2t, 16+2t, ..., 25+2t;
// - for mma.m16n8k32 (w4a8, int8 activations; §9.7.14.5.10): b[0], b[1], i.e.
//   k = 32c + 4t + (j & 3) + 16 (j >> 2): 4t..4t+3, 16+4t..19+4t.
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

/// The mma whose B fragments the words hold (see the header comment).
enum class CudaInt4Order : std::uint8_t {
  m16n8k16,  ///< w4a16: dequantized to fp16/bf16
  m16n8k32,  ///< w4a8: widened to int8
};

struct CudaInt4Weights {
  std::int64_t n = 0, k = 0;
  CudaInt4Order order = CudaInt4Order::m16n8k16;
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
Int4Position cuda_int4_position(std::int64_t k, CudaInt4Order order);

/// Packs int4 weights (any granularity, symmetric or not). Errors (Errc::unsupported) for other
/// types; (Errc::invalid_argument) when K is not a multiple of 32, naming K.
Expected<CudaInt4Weights> pack_cuda_int4(const QuantizedWeights& weights, CudaInt4Order order);

/// The canonical int4 rows (quant/int4_pack.hpp) of packed weights: the inverse of the weights'
/// part of pack_cuda_int4.
std::vector<std::uint8_t> unpack_cuda_int4(const CudaInt4Weights& packed);

}  // namespace qk::quant
