#include "quant/activations.hpp"

#include <cfloat>
#include <cmath>

#include <fmt/format.h>

#include "quant/float_formats.hpp"
#include "quant/quantize.hpp"

namespace qk::quant {

float QuantizedActivations::unscaled_value(std::int64_t row, std::int64_t k_index) const {
  const std::uint8_t code = codes[row * k + k_index];
  if (type == QuantType::int8) return static_cast<float>(static_cast<std::int8_t>(code));
  return fp8_to_float(code, fp8_format_of(type));
}

namespace {

Error bad_argument(std::string message) {
  return {Errc::invalid_argument, "quantize_activations", std::move(message)};
}

std::uint8_t quantize_code(float x, float inv_scale, QuantType type) {
  if (type == QuantType::int8) return static_cast<std::uint8_t>(quantize_int8(x, inv_scale));
  return quantize_fp8(x, inv_scale, fp8_format_of(type));
}

}  // namespace

Expected<QuantizedActivations> quantize_activations(std::span<const float> a, std::int64_t m,
                                                    std::int64_t k, QuantType type,
                                                    ActivationScaling scaling, float static_scale) {
  if (m <= 0 || k <= 0 || static_cast<std::int64_t>(a.size()) != m * k)
    return bad_argument(fmt::format("{} values given for m = {} x k = {}", a.size(), m, k));
  if (type != QuantType::int8 && !is_fp8(type))
    return bad_argument(
        fmt::format("activations quantize to int8 or fp8, not {}", to_string(type)));

  QuantizedActivations q{type, m, k, std::vector<std::uint8_t>(a.size()), {}};
  switch (scaling) {
    case ActivationScaling::none:
      return bad_argument("activation_scaling none does not quantize activations");
    case ActivationScaling::static_per_tensor:
      if (!std::isfinite(static_scale) || static_scale < FLT_MIN)
        return bad_argument(
            fmt::format("static activation scale {} must be finite and at least FLT_MIN ({})",
                        static_scale, FLT_MIN));
      q.scales = {static_scale};
      break;
    case ActivationScaling::dynamic_per_tensor:
      q.scales = {symmetric_scale(finite_absmax(a), type)};
      break;
    case ActivationScaling::dynamic_per_token:
      q.scales.resize(static_cast<std::size_t>(m));
      for (std::int64_t i = 0; i < m; ++i)
        q.scales[i] = symmetric_scale(finite_absmax(a.subspan(i * k, k)), type);
      break;
  }
  for (std::int64_t i = 0; i < m; ++i) {
    const float inv = inverse_scale(q.scale(i));
    for (std::int64_t j = 0; j < k; ++j)
      q.codes[i * k + j] = quantize_code(a[i * k + j], inv, type);
  }
  return q;
}

}  // namespace qk::quant
