// validate_layer: every semantic rule of docs/plan.md ("Layer rules"), for a LayerConfig read from
// plan.json or built in C++. Each broken rule becomes one Error at `path.field`, with the
// offending value and the rule in its message. The JSON reader (plan_json.cpp) only checks
// syntax, types, presence and the rules that exist only in JSON (key spellings, bits).
#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "qk/layer_config.hpp"

namespace qk {
namespace {

/// Largest n, k and M (tokens) of a layer: 2^20. Larger shapes are not a linear layer of any
/// current model and would overflow the 32-bit index arithmetic of the kernels.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 20;
/// Longest layer name, in characters (Unicode code points), so that tables and logs stay usable.
constexpr std::size_t kMaxNameLength = 256;
/// Weight group sizes along K that the per_group kernels implement.
constexpr std::array<int, 4> kBlockSizes{32, 64, 128, 256};
/// Families whose kernels dequantize weights per group of K.
constexpr std::array<GemmFamily, 3> kPerGroupFamilies{GemmFamily::w8a16, GemmFamily::w4a16,
                                                      GemmFamily::w4a8};
/// Largest magnitude of an int8 activation code (symmetric quantization uses [-127, 127]).
constexpr std::int64_t kMaxActivationCode = 127;

template <class E>
bool is_known(E value) {
  return std::any_of(EnumNames<E>::table.begin(), EnumNames<E>::table.end(),
                     [value](const auto& entry) { return entry.first == value; });
}

/// "a, b, c": the names of the table entries that satisfy `keep`.
template <class E, class Pred>
std::string names_where(Pred keep) {
  std::string out;
  for (const auto& [value, name] : EnumNames<E>::table) {
    if (!keep(value)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

/// "w8a8 (int8/int8); w8a16 (int8/fp16, int8/bf16); ...": every (weight_quant/activation_quant)
/// pair that family_of accepts, grouped by family.
std::string supported_pairs() {
  std::string out;
  for (const auto& [family, family_name] : EnumNames<GemmFamily>::table) {
    std::string pairs;
    for (const auto& [weight, weight_name] : EnumNames<QuantType>::table) {
      for (const auto& [activation, activation_name] : EnumNames<QuantType>::table) {
        if (family_of(weight, activation) != family) continue;
        if (!pairs.empty()) pairs += ", ";
        pairs += fmt::format("{}/{}", weight_name, activation_name);
      }
    }
    if (pairs.empty()) continue;
    if (!out.empty()) out += "; ";
    out += fmt::format("{} ({})", family_name, pairs);
  }
  return out;
}

std::string block_sizes() {
  return fmt::format("{}", fmt::join(kBlockSizes, ", "));
}

std::string per_group_families() {
  std::string out;
  for (const GemmFamily f : kPerGroupFamilies) {
    if (!out.empty()) out += ", ";
    out += to_string(f);
  }
  return out;
}

/// Characters of a UTF-8 string: every byte that does not continue a multi-byte sequence.
std::size_t code_points(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(
      s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

bool is_quantized_activation(QuantType t) {
  return !is_float(t);
}

class Checker {
 public:
  Checker(const std::string& path, std::vector<Error>& errors) : path_(path), errors_(errors) {}

  /// An error at `path.field` (at `path` itself when field is empty).
  void fail(std::string_view field, std::string message) {
    std::string where = path_;
    if (!field.empty())
      where = path_.empty() ? std::string(field) : path_ + "." + std::string(field);
    errors_.push_back(Error{Errc::invalid_plan, std::move(where), std::move(message)});
  }

  void check_range(std::string_view field, std::int64_t value) {
    if (value < 1 || value > kMaxDim)
      fail(field, fmt::format("{} {} is out of range [1, {}]", field, value, kMaxDim));
  }

  template <class E>
  bool check_enum(std::string_view field, E value) {
    if (is_known(value)) return true;
    fail(field, fmt::format("{} holds the invalid value {} (expected one of {})", field,
                            static_cast<int>(value), allowed_names<E>()));
    return false;
  }

 private:
  const std::string& path_;
  std::vector<Error>& errors_;
};

void check_name(const LayerConfig& layer, Checker& c) {
  const std::size_t length = code_points(layer.name);
  if (length > kMaxNameLength)
    c.fail("name", fmt::format("name is {} characters long; at most {} are allowed", length,
                               kMaxNameLength));
}

void check_shape(const LayerConfig& layer, Checker& c) {
  c.check_range("n", layer.n);
  c.check_range("k", layer.k);
  // m_min and m_max are written as plan.json's m_range: [m_min, m_max].
  const auto m_range = fmt::format("m_range [{}, {}]", layer.m_min, layer.m_max);
  if (layer.m_min < 1 || layer.m_min > kMaxDim)
    c.fail("m_range",
           fmt::format("{}: min {} is out of range [1, {}]", m_range, layer.m_min, kMaxDim));
  if (layer.m_max < 1 || layer.m_max > kMaxDim)
    c.fail("m_range",
           fmt::format("{}: max {} is out of range [1, {}]", m_range, layer.m_max, kMaxDim));
  if (layer.m_min > layer.m_max)
    c.fail("m_range",
           fmt::format("{}: min {} must not exceed max {}", m_range, layer.m_min, layer.m_max));
}

bool check_enums(const LayerConfig& layer, Checker& c) {
  bool ok = c.check_enum("weight_quant", layer.weight_quant);
  ok &= c.check_enum("activation_quant", layer.activation_quant);
  ok &= c.check_enum("input_dtype", layer.input_dtype);
  ok &= c.check_enum("weight_granularity", layer.weight_granularity);
  ok &= c.check_enum("activation_scaling", layer.activation_scaling);
  ok &= c.check_enum("scale_method", layer.scale_method);
  ok &= c.check_enum("epilogue.activation", layer.epilogue.activation);
  ok &= c.check_enum("epilogue.output_dtype", layer.epilogue.output);
  return ok;
}

void check_input_dtype(const LayerConfig& layer, Checker& c) {
  if (!is_float(layer.input_dtype)) {
    c.fail("input_dtype",
           fmt::format("input_dtype {} is not allowed: activations reach the kernel as one of {}",
                       to_string(layer.input_dtype), names_where<QuantType>(is_float)));
  } else if (is_float(layer.activation_quant) && layer.input_dtype != layer.activation_quant) {
    c.fail("input_dtype",
           fmt::format("input_dtype {} must equal activation_quant {}: float activations are "
                       "consumed as they arrive, not converted",
                       to_string(layer.input_dtype), to_string(layer.activation_quant)));
  }
}

/// Why a family cannot take per_group weights, as a sentence tail (may be empty).
std::string per_group_reason(GemmFamily family, const LayerConfig& layer) {
  switch (family) {
    case GemmFamily::w8a8:
      return ": scales along K would sit on the reduction dimension of the int8 x int8 -> int32 "
             "accumulation, which must run over all of K before the one dequantization in the "
             "epilogue; use per_channel or per_tensor";
    case GemmFamily::fp8:
      return ": scales along K would sit on the reduction dimension of the fp8 x fp8 -> fp32 "
             "tensor-core accumulation, which must run over all of K before the one "
             "dequantization in the epilogue; use per_channel or per_tensor";
    case GemmFamily::fp16:
    case GemmFamily::bf16:
    case GemmFamily::fp32:
      return fmt::format(": {} weights are not quantized and carry no scales",
                         to_string(layer.weight_quant));
    default:
      return "";
  }
}

void check_weight_granularity(const LayerConfig& layer, GemmFamily family, Checker& c) {
  const std::string granularity(to_string(layer.weight_granularity));
  if (layer.weight_granularity != WeightGranularity::per_group) {
    if (layer.block_size != 0)
      c.fail("block_size", fmt::format("block_size {} applies only to weight_granularity "
                                       "per_group (this layer is {})",
                                       layer.block_size, granularity));
    return;
  }
  if (std::find(kPerGroupFamilies.begin(), kPerGroupFamilies.end(), family) ==
      kPerGroupFamilies.end()) {
    c.fail("weight_granularity",
           fmt::format("weight_granularity per_group is not supported for family {} (weight_quant "
                       "{}, activation_quant {}); per_group is supported only for {}{}",
                       to_string(family), to_string(layer.weight_quant),
                       to_string(layer.activation_quant), per_group_families(),
                       per_group_reason(family, layer)));
  }
  if (layer.block_size == 0) {
    c.fail("block_size", fmt::format("weight_granularity per_group needs a block_size (one of {}); "
                                     "found none",
                                     block_sizes()));
  } else if (std::find(kBlockSizes.begin(), kBlockSizes.end(), layer.block_size) ==
             kBlockSizes.end()) {
    c.fail("block_size",
           fmt::format("block_size {} is not one of {}", layer.block_size, block_sizes()));
  } else if (layer.k > 0 && layer.k % layer.block_size != 0) {
    c.fail("block_size", fmt::format("k {} is not a multiple of block_size {}: every group must "
                                     "hold block_size values of K",
                                     layer.k, layer.block_size));
  }
}

void check_symmetry(const LayerConfig& layer, Checker& c) {
  if (!layer.weight_symmetric && layer.weight_quant != QuantType::int4)
    c.fail("weight_symmetric",
           fmt::format("weight_symmetric false (zero points) is supported only for int4 weights; "
                       "weight_quant is {}",
                       to_string(layer.weight_quant)));
}

void check_activation_scaling(const LayerConfig& layer, Checker& c) {
  const auto scaling = to_string(layer.activation_scaling);
  const auto activation = to_string(layer.activation_quant);
  if (is_quantized_activation(layer.activation_quant) &&
      layer.activation_scaling == ActivationScaling::none) {
    c.fail("activation_scaling",
           fmt::format("activation_scaling none is not allowed for quantized activations "
                       "(activation_quant {} needs a scale): use one of {}",
                       activation, names_where<ActivationScaling>([](ActivationScaling s) {
                         return s != ActivationScaling::none;
                       })));
  }
  if (!is_quantized_activation(layer.activation_quant) &&
      layer.activation_scaling != ActivationScaling::none) {
    c.fail("activation_scaling",
           fmt::format("activation_scaling {} is not allowed for float activations "
                       "(activation_quant {} is not quantized): use none",
                       scaling, activation));
  }
  if (layer.scale_method != ScaleMethod::max &&
      layer.activation_scaling != ActivationScaling::static_per_tensor) {
    c.fail("scale_method",
           fmt::format("scale_method {} needs activation_scaling static_per_tensor (this layer "
                       "uses {}): only a static scale is calibrated, dynamic scales are always "
                       "the absmax of the live values",
                       to_string(layer.scale_method), scaling));
  }
  // Written so that NaN fails too.
  if (!(layer.percentile > 0.0 && layer.percentile <= 100.0))
    c.fail("percentile", fmt::format("percentile {} is out of range (0, 100]", layer.percentile));
  if (layer.smoothquant_alpha) {
    const double alpha = *layer.smoothquant_alpha;
    if (!(alpha >= 0.0 && alpha <= 1.0))
      c.fail("smoothquant_alpha",
             fmt::format("smoothquant_alpha {} is out of range [0, 1]", alpha));
    if (!is_quantized_activation(layer.activation_quant))
      c.fail("smoothquant_alpha",
             fmt::format("smoothquant_alpha {} applies only to quantized activations; "
                         "activation_quant {} is not quantized, so there is nothing to smooth",
                         alpha, activation));
  }
}

void check_epilogue(const LayerConfig& layer, Checker& c) {
  const auto allowed = [](QuantType t) { return is_float(t) || t == QuantType::int8; };
  if (!allowed(layer.epilogue.output))
    c.fail("epilogue.output_dtype",
           fmt::format("epilogue.output_dtype {} is not one of {}",
                       to_string(layer.epilogue.output), names_where<QuantType>(allowed)));
}

void check_int32_bound(const LayerConfig& layer, GemmFamily family, Checker& c) {
  if (!accumulates_in_int32(family)) return;
  const auto bound = max_k_for_int32_accumulation(layer);
  if (!bound) return;
  // w4a8 converts each group's int32 sum to fp32, so only one group accumulates in int32.
  const bool grouped = family == GemmFamily::w4a8 &&
                       layer.weight_granularity == WeightGranularity::per_group &&
                       layer.block_size > 0;
  const std::string_view field = grouped ? "block_size" : "k";
  const std::int64_t length = grouped ? layer.block_size : layer.k;
  if (length <= *bound) return;
  const std::int64_t weight_max = max_weight_magnitude(layer.weight_quant);
  const std::int64_t product_max = kMaxActivationCode * weight_max;
  c.fail(field,
         fmt::format("{} {} exceeds {}, the longest reduction whose int32 accumulation cannot "
                     "overflow for family {}: each product is at most |a| <= {} times the "
                     "largest weight magnitude {} = {}, and {} x {} > INT32_MAX = {}",
                     field, length, *bound, to_string(family), kMaxActivationCode, weight_max,
                     product_max, length, product_max, std::numeric_limits<std::int32_t>::max()));
}

}  // namespace

std::vector<Error> validate_layer(const LayerConfig& layer, const std::string& path) {
  std::vector<Error> errors;
  Checker c(path, errors);
  check_name(layer, c);
  check_shape(layer, c);
  // The remaining rules compare enum values; garbage from a cast would only produce noise.
  if (!check_enums(layer, c)) return errors;

  const auto family = family_of(layer.weight_quant, layer.activation_quant);
  if (!family) {
    c.fail("", fmt::format("weight_quant {} with activation_quant {} is not a supported "
                           "combination; supported (weight_quant/activation_quant): {}",
                           to_string(layer.weight_quant), to_string(layer.activation_quant),
                           supported_pairs()));
  }
  check_input_dtype(layer, c);
  if (family) check_weight_granularity(layer, *family, c);
  check_symmetry(layer, c);
  check_activation_scaling(layer, c);
  check_epilogue(layer, c);
  const bool k_in_range = layer.k >= 1 && layer.k <= kMaxDim;
  if (family && k_in_range) check_int32_bound(layer, *family, c);
  return errors;
}

}  // namespace qk
