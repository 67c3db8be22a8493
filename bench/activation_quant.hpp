// The quantize and dequantize steps that a baseline built from library GEMMs must add around its
// int8 matmul to do the same work as qk's fused W8A8 kernel: dynamic per-token int8
// quantization of fp32 activations (docs/numerics.md §3.1, §6) and the per-token part of the
// dequantization. Vectorized with AVX-512 when the CPU has it (checked at run time), else the
// scalar reference of quant/.
#pragma once

#include <cstdint>

namespace qk::bench {

/// How int8 activation codes are stored for the library GEMM.
enum class Int8Storage {
  u8_offset128,  ///< code + 128 as u8: the u8 x s8 operand order of vpdpbusd; the GEMM removes
                 ///< the offset with a source zero point of 128
  s8,            ///< the code itself
};

/// Quantizes rows [row_begin, row_end) of `a` ([m, k] fp32, row-major) per token, exactly as
/// quant::quantize_activations(int8, dynamic_per_token): scale = max(absmax / 127, FLT_MIN),
/// code = clamp(rne(x * (1 / scale)), -127, 127). Writes codes[r * k + j] and scales[r].
/// @pre every value of the rows is finite (benchmark data; NaN/Inf handling is the reference's)
void quantize_rows_per_token(const float* a, std::int64_t k, std::int64_t row_begin,
                             std::int64_t row_end, Int8Storage storage, std::uint8_t* codes,
                             float* scales);

/// y[r, :] *= scales[r] for rows [row_begin, row_end) of y ([m, n] fp32, row-major): the
/// activation scale, multiplied last as §6.2 orders it.
void scale_rows(float* y, std::int64_t n, const float* scales, std::int64_t row_begin,
                std::int64_t row_end);

}  // namespace qk::bench
