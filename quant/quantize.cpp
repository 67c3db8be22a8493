#include "quant/quantize.hpp"

#include <algorithm>
#include <cfloat>

namespace qk::quant {

float finite_absmax(std::span<const float> x) {
  float amax = 0.0f;
  for (float v : x)
    if (std::isfinite(v)) amax = std::max(amax, std::fabs(v));
  return amax;
}

float symmetric_qmax(QuantType t) {
  switch (t) {
    case QuantType::int8:
      return 127.0f;
    case QuantType::int4:
      return 7.0f;
    case QuantType::fp8_e4m3:
      return fp8_max_finite(Fp8Format::e4m3);
    case QuantType::fp8_e5m2:
      return fp8_max_finite(Fp8Format::e5m2);
    default:
      return 1.0f;  // float types are not quantized; callers check the type first
  }
}

float symmetric_scale(float amax, QuantType t) {
  return std::max(amax / symmetric_qmax(t), FLT_MIN);
}

namespace {
// Rounds and clamps to [lo, hi] in float before converting: converting an out-of-range float to
// int is undefined behaviour in C++, and clamping first makes ±Inf saturate. NaN is handled by
// the callers because every comparison with NaN is false.
int round_clamped(float x, int lo, int hi) {
  const float r = round_half_even(x);
  return static_cast<int>(std::clamp(r, static_cast<float>(lo), static_cast<float>(hi)));
}
}  // namespace

std::int8_t quantize_int8(float x, float inv_scale) {
  const float scaled = x * inv_scale;
  if (std::isnan(scaled)) return 0;
  return static_cast<std::int8_t>(round_clamped(scaled, -127, 127));
}

std::uint8_t quantize_int4(float x, float inv_scale, int zero_point) {
  const float scaled = x * inv_scale;
  if (std::isnan(scaled)) return static_cast<std::uint8_t>(zero_point);
  // Clamp before adding the zero point so that huge values cannot overflow the int.
  const int value = round_clamped(scaled, -15, 15);
  return static_cast<std::uint8_t>(std::clamp(value + zero_point, 0, 15));
}

AsymmetricInt4 asymmetric_int4_params(float lo, float hi) {
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float range = hi - lo;
  // Only a range wider than FLT_MAX overflows; dividing each end first keeps the scale finite.
  const float step = std::isfinite(range) ? range / 15.0f : hi / 15.0f - lo / 15.0f;
  const float scale = std::max(step, FLT_MIN);
  const int zero = round_clamped(-lo * inverse_scale(scale), 0, 15);
  return {scale, zero};
}

std::uint8_t quantize_fp8(float x, float inv_scale, Fp8Format format) {
  return float_to_fp8(x * inv_scale, format);
}

}  // namespace qk::quant
