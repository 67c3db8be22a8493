// Activation quantization inside the fused kernel (docs/numerics.md §2, §3.1, §6.1): per row,
// the finite absmax, scale = max(amax / 127, FLT_MIN), codes = clamp(rne(x * (1 / scale))).
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "cpu/isa.hpp"

namespace qk::cpu {

/// Largest |x| over the finite elements of a row of k values (NaN and ±Inf ignored).
template <InputType T, Isa ISA = Isa::avx512>
inline float row_finite_absmax(const void* row, int64_t k) {
  using V = Vec<ISA>;
  typename V::F best = V::zero();
  for (int64_t i = 0; i < k; i += V::LANES)
    best = V::max_finite_abs(best, V::template load_input<T>(row, i, V::first(k - i)));
  return V::reduce_max(best);
}

template <InputType T>
inline const void* input_row(const QkCpuGemmArgs* args, int64_t r) {
  constexpr int64_t bytes = T == InputType::fp32 ? 4 : 2;
  return static_cast<const char*>(args->a) + r * args->lda * bytes;
}

/// How a kernel wants its activation codes.
enum class CodeFormat : uint8_t {
  u8_offset,      ///< u8 = s8 + 128: the unsigned operand of vpdpbusd against s8 weights (w8a8)
  s8_group_sums,  ///< s8, plus each row's code sum per scale group (w4a8: the zero-point term)
};

/// Quantizes rows [r0, r1) into args->a_codes (in `F`) and their scales into a_scales. The
/// padding up to k_padded is the code of value 0 (128 for u8_offset, 0 for s8).
template <InputType T, Scaling S, CodeFormat F, Isa ISA = Isa::avx512>
void quantize_rows(const QkCpuGemmArgs* args, int64_t r0, int64_t r1) {
  using V = Vec<ISA>;
  const int64_t k = args->k;
  float tensor_amax = 0.0f;
  if constexpr (S == Scaling::dynamic_per_tensor) {
    // Every caller computes the whole input's absmax itself, so rows can be split over threads
    // without a reduction step; it costs one extra read of the input per thread.
    for (int64_t r = 0; r < args->m; ++r) {
      const float a = row_finite_absmax<T, ISA>(input_row<T>(args, r), k);
      tensor_amax = a > tensor_amax ? a : tensor_amax;
    }
  }
  for (int64_t r = r0; r < r1; ++r) {
    const void* row = input_row<T>(args, r);
    float scale = args->a_static_scale;
    if constexpr (S != Scaling::static_per_tensor) {
      const float amax =
          S == Scaling::dynamic_per_token ? row_finite_absmax<T, ISA>(row, k) : tensor_amax;
      scale = amax / 127.0f;
      if (scale < __FLT_MIN__) scale = __FLT_MIN__;
    }
    args->a_scales[r] = scale;
    const typename V::F inv = V::set1(1.0f / scale);
    uint8_t* codes = args->a_codes + r * args->k_padded;
    const int32_t offset = F == CodeFormat::u8_offset ? 128 : 0;
    for (int64_t i = 0; i < k; i += V::LANES) {
      const typename V::Mask mask = V::first(k - i);
      V::store_codes(codes + i, V::mul(V::template load_input<T>(row, i, mask), inv), offset, mask);
    }
    for (int64_t i = k; i < args->k_padded; ++i) codes[i] = F == CodeFormat::u8_offset ? 128 : 0;
    if constexpr (F == CodeFormat::s8_group_sums) {
      for (int64_t g = 0; g < args->groups; ++g) {
        int32_t sum = 0;
        const int8_t* group = reinterpret_cast<const int8_t*>(codes) + g * args->group_k;
        for (int64_t i = 0; i < args->group_k; ++i) sum += group[i];
        args->a_group_sums[r * args->groups + g] = sum;
      }
    }
  }
}

}  // namespace qk::cpu
