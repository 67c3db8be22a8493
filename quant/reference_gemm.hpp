// The reference fused GEMM of the numerics contract (docs/numerics.md §6–§8): plain loops that
// define what every target's kernel computes for a layer, family by family. Integer parts are
// exact; float parts use a fixed, documented order. Slow by design: it is the truth, not a kernel.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"
#include "quant/activations.hpp"
#include "quant/weights.hpp"

namespace qk::quant {

struct GemmInputs {
  std::span<const float> activations;  ///< [m, k] row-major; rounded to input_dtype on entry
  std::int64_t m = 0;
  const QuantizedWeights* weights = nullptr;  ///< [n, k] in the layer's weight format
  std::span<const float> bias;                ///< [n], when the layer's epilogue has a bias
  float activation_scale = 0.0f;              ///< static_per_tensor activation scaling only
  float output_scale = 0.0f;                  ///< int8 output (requantization) only
};

struct GemmReference {
  std::int64_t m = 0;
  std::int64_t n = 0;
  /// [m, n] the outputs after the epilogue, as floats holding the stored values (fp16/bf16
  /// outputs rounded; int8 outputs the integer codes).
  std::vector<float> y;
  /// [m, n] the dequantized accumulation the epilogue starts from (§6).
  std::vector<float> accumulated;
  /// [m, n, groups] int32 accumulators of the integer families (groups = 1 for w8a8 and
  /// per-channel w4a8, K / block_size for per-group w4a8); empty for float families.
  std::vector<std::int32_t> int_accumulators;
  std::int64_t accumulator_groups = 0;
  /// The quantized activations of the int8/fp8 families; targets match them bit for bit.
  std::optional<QuantizedActivations> activations;
  /// [m, n] sum over k of |a * w| with the same scales: what float tolerances scale with (§8).
  std::vector<double> magnitude;
};

/// Computes the layer on `in`. Errors (Errc::invalid_argument / invalid_plan): an invalid layer,
/// weights that do not match it, missing bias or scales, wrong sizes.
Expected<GemmReference> reference_gemm(const LayerConfig& layer, const GemmInputs& in);

}  // namespace qk::quant
