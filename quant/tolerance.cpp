#include "quant/tolerance.hpp"

#include <cmath>

#include <fmt/format.h>

namespace qk::quant {
namespace {

// Unit roundoff 2^-p of a float type with p significand bits (fp32 24, fp16 11, bf16 8).
double unit_roundoff(QuantType t) {
  switch (t) {
    case QuantType::fp16:
      return std::ldexp(1.0, -11);
    case QuantType::bf16:
      return std::ldexp(1.0, -8);
    default:
      return std::ldexp(1.0, -24);
  }
}

// GELU and SiLU have slopes of at most ~1.13, so they carry accumulated error through barely
// amplified; 1.25 bounds that, and 2^-20 covers a target's own erf/tanh/exp (a few fp32 ulp).
constexpr double kActivationSlope = 1.25;
constexpr double kTranscendentalRtol = 1.0 / (1 << 20);

}  // namespace

GemmTolerance gemm_tolerance(const LayerConfig& layer) {
  const double u32 = unit_roundoff(QuantType::fp32);
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  GemmTolerance t;

  if (accumulates_in_int32(family)) {
    // Exact integer sums; only the per-group fp32 sum and the two scale multiplies round.
    const std::int64_t groups =
        layer.weight_granularity == WeightGranularity::per_group ? layer.k / layer.block_size : 1;
    t.magnitude_rtol = static_cast<double>(groups + 2) * u32;
  } else {
    // Any summation order of k fp32 terms: |error| <= k * u * sum |terms| (Higham, 3.1). Weights
    // dequantized in half precision by the kernel (not in fp32 then rounded) add one rounding.
    t.magnitude_rtol = static_cast<double>(layer.k + 2) * u32;
    if (!is_float(layer.weight_quant) && !is_fp8(layer.activation_quant))
      t.magnitude_rtol += unit_roundoff(layer.activation_quant);
  }
  if (layer.epilogue.activation != Activation::none &&
      layer.epilogue.activation != Activation::relu)
    t.magnitude_rtol *= kActivationSlope;

  // The output conversion may round a value on the other side of a midpoint: one ulp, 2u.
  t.output_rtol = 2.0 * unit_roundoff(layer.epilogue.output) + 4.0 * u32;
  if (layer.epilogue.activation == Activation::gelu ||
      layer.epilogue.activation == Activation::gelu_tanh ||
      layer.epilogue.activation == Activation::silu)
    t.output_rtol += kTranscendentalRtol;
  t.int8_steps = 1;
  return t;
}

Expected<void> compare_to_reference(const LayerConfig& layer, const GemmReference& reference,
                                    std::span<const float> y) {
  if (y.size() != reference.y.size())
    return Error{
        Errc::invalid_argument, "compare_to_reference",
        fmt::format("{} outputs given, the reference has {}", y.size(), reference.y.size())};
  const GemmTolerance t = gemm_tolerance(layer);
  const bool int8_output = layer.epilogue.output == QuantType::int8;
  std::int64_t failures = 0;
  std::string first;
  for (std::size_t idx = 0; idx < y.size(); ++idx) {
    const double ref = reference.y[idx];
    const double got = y[idx];
    const double bound =
        int8_output ? t.int8_steps
                    : t.output_rtol * std::fabs(ref) + t.magnitude_rtol * reference.magnitude[idx];
    const bool same_special = (std::isnan(ref) && std::isnan(got)) || ref == got;
    if (same_special || std::fabs(got - ref) <= bound) continue;
    if (failures++ == 0)
      first = fmt::format("y[{}, {}] = {} but the reference is {} (allowed difference {:.3g})",
                          idx / reference.n, idx % reference.n, got, ref, bound);
  }
  if (failures == 0) return {};
  return Error{
      Errc::invalid_argument, "compare_to_reference",
      fmt::format("{} of {} outputs out of tolerance; first: {}", failures, y.size(), first)};
}

}  // namespace qk::quant
