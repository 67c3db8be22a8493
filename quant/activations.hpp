// Activation quantization of the numerics contract (docs/numerics.md §3, §6): what a fused kernel
// computes from the float activations it receives before its GEMM. Scales live on M only.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::quant {

struct QuantizedActivations {
  QuantType type = QuantType::int8;  ///< int8, fp8_e4m3 or fp8_e5m2
  std::int64_t m = 0;
  std::int64_t k = 0;
  std::vector<std::uint8_t> codes;  ///< [M, K] row-major: int8 two's complement or fp8 codes
  std::vector<float> scales;        ///< [M] for dynamic_per_token, [1] for per-tensor scaling

  float scale(std::int64_t row) const { return scales.size() == 1 ? scales[0] : scales[row]; }
  /// The element's value before scaling: the int8 code, or the decoded fp8 value.
  float unscaled_value(std::int64_t row, std::int64_t k_index) const;
};

/// Quantizes activations a ([m, k] row-major, values already in the layer's input dtype) into
/// `type` with `scaling`: dynamic_per_token takes each row's finite absmax, dynamic_per_tensor
/// the whole input's, static_per_tensor uses `static_scale` (§6).
/// Errors (Errc::invalid_argument): sizes, a type that is not int8/fp8, scaling none, a static
/// scale that is not finite or below FLT_MIN.
Expected<QuantizedActivations> quantize_activations(std::span<const float> a, std::int64_t m,
                                                    std::int64_t k, QuantType type,
                                                    ActivationScaling scaling,
                                                    float static_scale = 0.0f);

}  // namespace qk::quant
