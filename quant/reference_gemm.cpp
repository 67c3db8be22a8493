#include "quant/reference_gemm.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "quant/epilogue.hpp"
#include "quant/float_formats.hpp"
#include "quant/quantize.hpp"

namespace qk::quant {
namespace {

Error bad_input(std::string message) {
  return {Errc::invalid_argument, "reference_gemm", std::move(message)};
}

Expected<void> check_inputs(const LayerConfig& layer, const GemmInputs& in) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  if (in.weights == nullptr) return bad_input("no weights given");
  const QuantizedWeights& w = *in.weights;
  const WeightFormat expected = weight_format_of(layer);
  if (w.n != layer.n || w.k != layer.k || w.format.type != expected.type ||
      w.format.granularity != expected.granularity || w.format.symmetric != expected.symmetric ||
      (expected.granularity == WeightGranularity::per_group &&
       w.format.block_size != expected.block_size))
    return bad_input(fmt::format("weights [{}, {}] {} do not match the layer [{}, {}] {}", w.n, w.k,
                                 to_string(w.format.type), layer.n, layer.k,
                                 to_string(layer.weight_quant)));
  if (in.m <= 0 || static_cast<std::int64_t>(in.activations.size()) != in.m * layer.k)
    return bad_input(fmt::format("{} activations given for m = {} x k = {}", in.activations.size(),
                                 in.m, layer.k));
  if (layer.epilogue.bias && static_cast<std::int64_t>(in.bias.size()) != layer.n)
    return bad_input(
        fmt::format("bias has {} elements, the layer has n = {}", in.bias.size(), layer.n));
  if (layer.epilogue.output == QuantType::int8 &&
      !(std::isfinite(in.output_scale) && in.output_scale >= FLT_MIN))
    return bad_input(
        fmt::format("int8 output needs a finite output_scale >= FLT_MIN, got {}", in.output_scale));
  return {};
}

// Integer families (w8a8, w4a8): exact int32 accumulation per scale group, then
//   accumulated = (sum over groups, ascending, in fp32, of float(acc_g) * w_scale_g) * a_scale.
void integer_gemm(const LayerConfig& layer, const QuantizedActivations& qa,
                  const QuantizedWeights& w, GemmReference& out) {
  const std::int64_t groups = w.groups();
  const std::int64_t group_k = layer.k / groups;
  out.accumulator_groups = groups;
  out.int_accumulators.resize(static_cast<std::size_t>(out.m * out.n * groups));
  for (std::int64_t i = 0; i < out.m; ++i) {
    for (std::int64_t j = 0; j < out.n; ++j) {
      float sum = 0.0f;
      double magnitude = 0.0;
      for (std::int64_t g = 0; g < groups; ++g) {
        std::int64_t acc = 0, abs_acc = 0;
        for (std::int64_t kk = g * group_k; kk < (g + 1) * group_k; ++kk) {
          const std::int64_t product =
              static_cast<std::int64_t>(qa.unscaled_value(i, kk)) * w.int_value(j, kk);
          acc += product;
          abs_acc += std::llabs(product);
        }
        // validate_layer bounds K so that |acc| <= INT32_MAX: the cast is exact.
        out.int_accumulators[(i * out.n + j) * groups + g] = static_cast<std::int32_t>(acc);
        const float w_scale = w.scale(j, g * group_k);
        sum += static_cast<float>(static_cast<std::int32_t>(acc)) * w_scale;
        magnitude += static_cast<double>(abs_acc) * w_scale;
      }
      out.accumulated[i * out.n + j] = sum * qa.scale(i);
      out.magnitude[i * out.n + j] = magnitude * qa.scale(i);
    }
  }
}

// fp8 x fp8: products of decoded values are exact in double; the sum is taken in double and
// rounded once to fp32, then accumulated = (acc * w_scale) * a_scale.
void fp8_gemm(const QuantizedActivations& qa, const QuantizedWeights& w, GemmReference& out) {
  for (std::int64_t i = 0; i < out.m; ++i) {
    for (std::int64_t j = 0; j < out.n; ++j) {
      double acc = 0.0, magnitude = 0.0;
      for (std::int64_t kk = 0; kk < w.k; ++kk) {
        const double product = double{qa.unscaled_value(i, kk)} * w.unscaled_value(j, kk);
        acc += product;
        magnitude += std::fabs(product);
      }
      const float w_scale = w.scale(j, 0);
      out.accumulated[i * out.n + j] = (static_cast<float>(acc) * w_scale) * qa.scale(i);
      out.magnitude[i * out.n + j] = magnitude * w_scale * qa.scale(i);
    }
  }
}

// Float families: weights dequantized (one fp32 multiply) and rounded to the activation type,
// which is what the kernel multiplies; the dot product is taken in double and rounded once.
// The magnitude counts a quantized weight rounded to fp16 as at least fp16's smallest normal,
// 2^-14 (docs/numerics.md §8): below it the rounding's error is absolute, up to 2^-25, and §8's
// u_fp16 of that covers a target that skips the rounding or makes it in fp16 arithmetic.
void float_gemm(const LayerConfig& layer, std::span<const float> a, const QuantizedWeights& w,
                GemmReference& out) {
  const double smallest_counted =
      layer.activation_quant == QuantType::fp16 && !is_float(layer.weight_quant) ? 0x1p-14 : 0.0;
  std::vector<float> w_row(static_cast<std::size_t>(w.k));
  for (std::int64_t j = 0; j < out.n; ++j) {
    for (std::int64_t kk = 0; kk < w.k; ++kk)
      w_row[kk] = round_to(layer.activation_quant, w.value(j, kk));
    for (std::int64_t i = 0; i < out.m; ++i) {
      double acc = 0.0, magnitude = 0.0;
      for (std::int64_t kk = 0; kk < w.k; ++kk) {
        const double x = a[i * w.k + kk];
        acc += x * w_row[kk];
        magnitude += std::fabs(x) * std::max<double>(std::fabs(w_row[kk]), smallest_counted);
      }
      out.accumulated[i * out.n + j] = static_cast<float>(acc);
      out.magnitude[i * out.n + j] = magnitude;
    }
  }
}

}  // namespace

Expected<GemmReference> reference_gemm(const LayerConfig& layer, const GemmInputs& in) {
  if (auto ok = check_inputs(layer, in); !ok) return ok.error();
  const QuantizedWeights& w = *in.weights;
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);

  GemmReference out;
  out.m = in.m;
  out.n = layer.n;
  const auto mn = static_cast<std::size_t>(out.m * out.n);
  out.accumulated.resize(mn);
  out.magnitude.resize(mn);

  // Activations arrive in the layer's input dtype (§6.1).
  std::vector<float> a(in.activations.begin(), in.activations.end());
  for (float& v : a) v = round_to(layer.input_dtype, v);

  if (layer.activation_scaling != ActivationScaling::none) {
    auto qa = quantize_activations(a, in.m, layer.k, layer.activation_quant,
                                   layer.activation_scaling, in.activation_scale);
    if (!qa) return qa.error();
    out.activations = std::move(*qa);
  }

  if (accumulates_in_int32(family)) {
    integer_gemm(layer, *out.activations, w, out);
  } else if (family == GemmFamily::fp8) {
    fp8_gemm(*out.activations, w, out);
  } else {
    float_gemm(layer, a, w, out);
  }

  out.y.resize(mn);
  const float inv_output_scale =
      layer.epilogue.output == QuantType::int8 ? inverse_scale(in.output_scale) : 0.0f;
  for (std::int64_t i = 0; i < out.m; ++i)
    for (std::int64_t j = 0; j < out.n; ++j)
      out.y[i * out.n + j] =
          apply_epilogue(layer.epilogue, out.accumulated[i * out.n + j],
                         layer.epilogue.bias ? in.bias[j] : 0.0f, inv_output_scale);
  return out;
}

}  // namespace qk::quant
