#include "quant/epilogue.hpp"

#include <cmath>
#include <numbers>

#include "quant/float_formats.hpp"
#include "quant/quantize.hpp"

namespace qk::quant {

float apply_activation(Activation function, float x) {
  const double v = x;
  switch (function) {
    case Activation::none:
      return x;
    case Activation::relu:
      return x > 0.0f ? x : 0.0f;  // NaN -> 0, like fmaxf(x, 0)
    case Activation::gelu:
      return static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::numbers::sqrt2)));
    case Activation::gelu_tanh: {
      const double inner = std::sqrt(2.0 / std::numbers::pi) * (v + 0.044715 * v * v * v);
      return static_cast<float>(0.5 * v * (1.0 + std::tanh(inner)));
    }
    case Activation::silu:
      return static_cast<float>(v / (1.0 + std::exp(-v)));
  }
  return x;
}

float convert_output(QuantType output, float x, float inv_output_scale) {
  if (output == QuantType::int8) return static_cast<float>(quantize_int8(x, inv_output_scale));
  return round_to(output, x);
}

float apply_epilogue(const Epilogue& epilogue, float acc, float bias, float inv_output_scale) {
  const float biased = epilogue.bias ? acc + bias : acc;
  return convert_output(epilogue.output, apply_activation(epilogue.activation, biased),
                        inv_output_scale);
}

}  // namespace qk::quant
