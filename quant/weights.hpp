// Quantized weights in the canonical storage of docs/numerics.md §5, and the reference rule that
// produces them from float weights. W is [N, K] with K contiguous (a PyTorch Linear's layout).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::quant {

/// The part of a LayerConfig that defines how weights are stored.
struct WeightFormat {
  QuantType type = QuantType::int8;
  WeightGranularity granularity = WeightGranularity::per_channel;
  int block_size = 0;  ///< k per group when per_group
  bool symmetric = true;
};

WeightFormat weight_format_of(const LayerConfig& layer);

struct QuantizedWeights {
  WeightFormat format;
  std::int64_t n = 0;
  std::int64_t k = 0;
  /// Row n occupies row_bytes() bytes from n * row_bytes(): int8 codes (two's complement), int4
  /// nibbles (int4_pack.hpp), fp8 codes, or fp16/bf16/fp32 bit patterns (little endian).
  std::vector<std::uint8_t> codes;
  /// [N, groups()] row-major; a single element for per_tensor. Empty for float types.
  std::vector<float> scales;
  /// [N, groups()] int4 zero points (0..15) of asymmetric weights; empty otherwise.
  std::vector<std::uint8_t> zero_points;

  std::int64_t row_bytes() const;
  /// Scale groups along K of one output channel: K / block_size for per_group, else 1.
  std::int64_t groups() const;
  std::int64_t group_of(std::int64_t k_index) const;
  /// Index into scales / zero_points of the group holding element (row, k_index).
  std::int64_t param_index(std::int64_t row, std::int64_t k_index) const;
  float scale(std::int64_t row, std::int64_t k_index) const;
  /// Integer value of an int8/int4 element: its code minus its zero point (§3).
  int int_value(std::int64_t row, std::int64_t k_index) const;
  /// The element's value before scaling: int_value, or the decoded fp8/fp16/bf16/fp32 value.
  float unscaled_value(std::int64_t row, std::int64_t k_index) const;
  /// Dequantized element: unscaled_value * scale, one fp32 multiply (§4); float types as stored.
  float value(std::int64_t row, std::int64_t k_index) const;
};

/// Quantizes float weights w ([n, k], row-major) into `format` with the absmax rule of §3:
/// one scale per tensor, channel or group from the finite absmax (symmetric) or the finite
/// min/max (asymmetric int4). Float formats are rounded to nearest even.
/// Errors (Errc::invalid_argument): sizes that do not match, an invalid format.
Expected<QuantizedWeights> quantize_weights(std::span<const float> w, std::int64_t n,
                                            std::int64_t k, const WeightFormat& format);

/// All elements dequantized, [n, k] row-major.
std::vector<float> dequantize_weights(const QuantizedWeights& weights);

}  // namespace qk::quant
