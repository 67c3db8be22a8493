// Scalar quantization rules of the numerics contract (docs/numerics.md §2–§4): how a scale is
// derived from an absmax, how one value is quantized and dequantized, for int8, int4 and fp8.
// These are the definitions every target is tested against; kernels vectorize them.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>

#include "qk/layer_config.hpp"
#include "quant/float_formats.hpp"

namespace qk::quant {

/// Round half to even (IEEE roundTiesToEven). Relies on the default rounding mode, which qk
/// never changes. NaN stays NaN.
inline float round_half_even(float x) {
  return std::nearbyint(x);
}

/// Largest |x| over the finite elements: NaN and ±Inf are ignored (§2.1), 0 when none is finite.
float finite_absmax(std::span<const float> x);

/// The largest magnitude a symmetric code of `t` represents: int8 127, int4 7, fp8_e4m3 448,
/// fp8_e5m2 57344. @pre t is int8, int4 or an fp8 type.
float symmetric_qmax(QuantType t);

/// The scale of symmetric quantization into `t` for values whose finite absmax is `amax`:
/// max(amax / symmetric_qmax(t), FLT_MIN). Never zero, so its reciprocal is finite (§2.2).
float symmetric_scale(float amax, QuantType t);

/// The multiplier used to quantize: 1.0f / scale, one IEEE division. Every target computes it
/// exactly this way, so that x * inverse_scale rounds identically everywhere (§2.3).
/// @pre scale >= FLT_MIN and finite
inline float inverse_scale(float scale) {
  return 1.0f / scale;
}

/// int8 code of x: clamp(rne(x * inv_scale), -127, 127); NaN -> 0; ±Inf saturate (§3.1).
std::int8_t quantize_int8(float x, float inv_scale);

/// Zero point of symmetric int4: codes 0..15 stand for values code - 8, i.e. -8..7 (§3.2).
inline constexpr int kInt4SymmetricZero = 8;

/// int4 code (0..15) of x: clamp(rne(x * inv_scale) + zero_point, 0, 15); NaN -> zero_point.
/// Symmetric int4 uses zero_point = kInt4SymmetricZero (§3.2).
std::uint8_t quantize_int4(float x, float inv_scale, int zero_point);

/// Scale and zero point of asymmetric int4 for finite values in [lo, hi] (§3.3): the range is
/// widened to contain 0, scale = max((hi - lo) / 15, FLT_MIN), zero = clamp(rne(-lo * inv), 0, 15).
struct AsymmetricInt4 {
  float scale;
  int zero_point;
};
AsymmetricInt4 asymmetric_int4_params(float lo, float hi);

/// fp8 code of x: float_to_fp8(x * inv_scale), saturating to the format's max finite (§3.4).
std::uint8_t quantize_fp8(float x, float inv_scale, Fp8Format format);

/// Dequantization is one fp32 multiply of the integer value (code - zero point) or the decoded
/// fp8 value by the scale (§4).
inline float dequantize_int(int value, float scale) {
  return static_cast<float>(value) * scale;
}

}  // namespace qk::quant
