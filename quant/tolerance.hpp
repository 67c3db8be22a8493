// How close a target's output must be to the reference (docs/numerics.md §8). The integer parts
// (activation codes, scales, int32 accumulators) must match exactly; these tolerances cover only
// the float parts, whose order of operations a target may choose.
#pragma once

#include <cstdint>
#include <span>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"
#include "quant/reference_gemm.hpp"

namespace qk::quant {

/// An output element passes when |y - ref| <= output_rtol * |ref| + magnitude_rtol * magnitude,
/// where magnitude is the reference's sum of |a * w| for that element (int8 outputs instead
/// allow int8_steps codes of difference).
struct GemmTolerance {
  double output_rtol = 0.0;     ///< rounding of the output conversion and the epilogue's math
  double magnitude_rtol = 0.0;  ///< float accumulation in any order (and half-precision dequant)
  int int8_steps = 0;           ///< int8 outputs: codes may differ by this much
};

GemmTolerance gemm_tolerance(const LayerConfig& layer);

/// Checks a target's outputs y ([m, n], as floats holding the stored values, like
/// GemmReference::y) against the reference. The error names the first element out of tolerance
/// with both values and the bound, and how many elements failed.
Expected<void> compare_to_reference(const LayerConfig& layer, const GemmReference& reference,
                                    std::span<const float> y);

}  // namespace qk::quant
