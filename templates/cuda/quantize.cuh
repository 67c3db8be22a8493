// The device side of the numerics contract (docs/numerics.md) the GEMM kernels share: float
// conversions of the 16-bit types, activation scales from an absmax (§2), activation codes (§3.1,
// §3.4) and the int4 dequantization of the w4a16 and w4a8 families (§4, §6.2, §6.3). Every
// operation is rounded on its own (__fmul_rn/__fsub_rn are never contracted into an FMA; no fast
// math).
#pragma once

#include "cuda/gemm_layout.cuh"
#include "cuda/ptx.cuh"

namespace qk::cuda::detail {

template <InputType T>
__device__ __forceinline__ float to_f32(unsigned short bits) {
  if constexpr (T == InputType::fp16)
    return ptx::f16_to_f32(bits);
  else
    return ptx::bf16_to_f32(bits);
}

/// The largest code of an activation type (numerics §2.2): int8 127, e4m3 448, e5m2 57344.
template <Code T>
__device__ __forceinline__ constexpr float qmax() {
  static_assert(T == Code::int8 || T == Code::fp8_e4m3 || T == Code::fp8_e5m2,
                "Only int8 and fp8 activations are quantized in the kernel.");
  return T == Code::int8 ? 127.0f : (T == Code::fp8_e4m3 ? 448.0f : 57344.0f);
}

/// numerics §2.2: max(amax / qmax, FLT_MIN) over the finite elements; amax of none is 0.
template <Code T>
__device__ __forceinline__ float scale_from_amax(float amax) {
  return fmaxf(__fdiv_rn(amax, qmax<T>()), 0x1p-126f);
}

/// |x| if finite, else 0 (NaN fails the compare; ±Inf exceed the largest finite fp32).
__device__ __forceinline__ float finite_abs(float x) {
  const float a = fabsf(x);
  return a <= 0x1.fffffep127f ? a : 0.0f;
}

/// numerics §3.1: clamp(rne(x · inv), −127, 127), NaN → 0, ±Inf → ±127. The multiply is one
/// IEEE fp32 multiply (__fmul_rn: never contracted into anything).
__device__ __forceinline__ unsigned quantize_s8(float x, float inv) {
  const float v = __fmul_rn(x, inv);
  if (v != v) return 0;  // cvt.rni would also give 0; the contract makes the case explicit
  const int q = __float2int_rn(v);
  return static_cast<unsigned>(q < -127 ? -127 : (q > 127 ? 127 : q)) & 0xff;
}

/// Two activation codes of type T (elements x0, x1 in that order) as the low 16 bits, x0 in the
/// low byte: the order an mma operand word holds consecutive k.
template <Code T>
__device__ __forceinline__ unsigned quantize_pair(float x0, float x1, float inv) {
  if constexpr (T == Code::int8) {
    return quantize_s8(x0, inv) | quantize_s8(x1, inv) << 8;
  } else {
    // numerics §3.4 / §10: round to nearest even, saturate to the largest finite value; NaN
    // becomes 0x7F (positive) explicitly rather than by what the instruction does with its sign.
    const float v0 = __fmul_rn(x0, inv), v1 = __fmul_rn(x1, inv);
    unsigned p = T == Code::fp8_e4m3 ? ptx::f32x2_to_e4m3x2(v0, v1) : ptx::f32x2_to_e5m2x2(v0, v1);
    if (v0 != v0) p = (p & 0xff00u) | 0x7fu;
    if (v1 != v1) p = (p & 0x00ffu) | 0x7f00u;
    return p;
  }
}

/// The running absmax (numerics §2.1) after 8 fp16/bf16 elements (16 bytes, as loaded).
template <InputType T>
__device__ __forceinline__ float amax8(float amax, const uint4& v) {
  const unsigned words[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    amax = fmaxf(amax, finite_abs(to_f32<T>(words[j] & 0xffff)));
    amax = fmaxf(amax, finite_abs(to_f32<T>(words[j] >> 16)));
  }
  return amax;
}

/// The codes of type A of 8 fp16/bf16 elements (16 bytes, as loaded), in order, the first in the
/// lowest byte: what the in-CTA path writes to its 8-bit tile and the producer to memory.
template <Code A, InputType T>
__device__ __forceinline__ uint2 quantize8(const uint4& v, float inv) {
  const unsigned words[4] = {v.x, v.y, v.z, v.w};
  unsigned q[4];
#pragma unroll
  for (int j = 0; j < 4; ++j)
    q[j] = quantize_pair<A>(to_f32<T>(words[j] & 0xffff), to_f32<T>(words[j] >> 16), inv);
  return make_uint2(q[0] | q[1] << 16, q[2] | q[3] << 16);
}

/// numerics §4 and §6.3: the 16-bit weights of two int4 codes, each `float(code − zero) · scale`
/// (one fp32 multiply, rounded once to T by cvt.rn): bit for bit the reference's w16.
/// `zero_biased` is 2^23 + zero: 2^23 + code is the fp32 whose low mantissa bits are the code,
/// so one subtraction gives code − zero exactly, with no integer-to-float conversion.
template <Code T>
__device__ __forceinline__ unsigned dequant_int4_pair(unsigned code0, unsigned code1,
                                                      float zero_biased, float scale) {
  const float v0 = __fmul_rn(__fsub_rn(__uint_as_float(0x4B000000u | code0), zero_biased), scale);
  const float v1 = __fmul_rn(__fsub_rn(__uint_as_float(0x4B000000u | code1), zero_biased), scale);
  if constexpr (T == Code::fp16)
    return ptx::f32x2_to_f16x2(v0, v1);
  else
    return ptx::f32x2_to_bf16x2(v0, v1);
}

/// numerics §6.2: four int4 codes (one per byte, 0..15) minus their zero point (`zero4`: the zero
/// point in each byte), as four int8 in −15..15. Biasing each byte by 0x80 first keeps the byte
/// subtractions from borrowing into their neighbours; the XOR removes the bias again.
__device__ __forceinline__ unsigned int4x4_minus_zero(unsigned codes, unsigned zero4) {
  return ((codes | 0x80808080u) - zero4) ^ 0x80808080u;
}

}  // namespace qk::cuda::detail
