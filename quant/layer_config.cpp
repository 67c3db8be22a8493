// Facts about number formats and layer configs that every component shares.
#include <limits>

#include "qk/layer_config.hpp"

namespace qk {

int bits_of(QuantType t) {
  switch (t) {
    case QuantType::fp32:
      return 32;
    case QuantType::fp16:
    case QuantType::bf16:
      return 16;
    case QuantType::int8:
    case QuantType::fp8_e4m3:
    case QuantType::fp8_e5m2:
      return 8;
    case QuantType::int4:
      return 4;
  }
  return 0;
}

bool is_integer(QuantType t) {
  return t == QuantType::int8 || t == QuantType::int4;
}
bool is_fp8(QuantType t) {
  return t == QuantType::fp8_e4m3 || t == QuantType::fp8_e5m2;
}
bool is_float(QuantType t) {
  return t == QuantType::fp32 || t == QuantType::fp16 || t == QuantType::bf16;
}

std::optional<GemmFamily> family_of(QuantType weight, QuantType activation) {
  const bool act_half = activation == QuantType::fp16 || activation == QuantType::bf16;
  if (weight == QuantType::int8 && activation == QuantType::int8) return GemmFamily::w8a8;
  if (weight == QuantType::int4 && activation == QuantType::int8) return GemmFamily::w4a8;
  if (weight == QuantType::int8 && act_half) return GemmFamily::w8a16;
  if (weight == QuantType::int4 && act_half) return GemmFamily::w4a16;
  if (is_fp8(weight) && act_half) return GemmFamily::wfp8a16;
  if (is_fp8(weight) && is_fp8(activation)) return GemmFamily::fp8;
  if (weight == activation) {
    if (weight == QuantType::fp16) return GemmFamily::fp16;
    if (weight == QuantType::bf16) return GemmFamily::bf16;
    if (weight == QuantType::fp32) return GemmFamily::fp32;
  }
  return std::nullopt;
}

bool accumulates_in_int32(GemmFamily f) {
  return f == GemmFamily::w8a8 || f == GemmFamily::w4a8;
}

int max_weight_magnitude(QuantType weight) {
  return weight == QuantType::int4 ? 15 : 127;
}

std::optional<std::int64_t> max_k_for_int32_accumulation(const LayerConfig& layer) {
  const auto family = family_of(layer.weight_quant, layer.activation_quant);
  if (!family || !accumulates_in_int32(*family)) return std::nullopt;
  // Largest |product|: an activation code (|a| <= 127) times the largest weight magnitude.
  const std::int64_t max_product = 127 * max_weight_magnitude(layer.weight_quant);
  return std::numeric_limits<std::int32_t>::max() / max_product;
}

std::int64_t weight_storage_bytes(const LayerConfig& layer) {
  // Each row of W starts on a byte boundary (an odd-K int4 row ends in a padding nibble).
  const std::int64_t codes = layer.n * ((layer.k * bits_of(layer.weight_quant) + 7) / 8);
  if (is_float(layer.weight_quant)) return codes;  // float weights carry no scales
  std::int64_t scales = 1;
  switch (layer.weight_granularity) {
    case WeightGranularity::per_tensor:
      scales = 1;
      break;
    case WeightGranularity::per_channel:
      scales = layer.n;
      break;
    case WeightGranularity::per_group:
      scales = layer.block_size > 0 ? layer.n * (layer.k / layer.block_size) : 0;
      break;
  }
  const std::int64_t zero_points = layer.weight_symmetric ? 0 : scales;
  return codes + scales * static_cast<std::int64_t>(sizeof(float)) + zero_points;
}

}  // namespace qk
