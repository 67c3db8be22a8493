// The part of the epilogue every CPU kernel shares (docs/numerics.md §6, §7): the activation
// scale (applied last), bias, activation function, output conversion and a masked store.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/activation.hpp"
#include "cpu/config.hpp"
#include "cpu/vec.hpp"

namespace qk::cpu {

/// Row m, columns col..col+15 (masked): y = act(weight_dequantized * a_scale[m] + bias), stored.
template <bool BIAS, Act ACT, OutputType OUT>
__attribute__((always_inline)) inline void finish_row(const QkCpuGemmArgs* args, int64_t m,
                                                      int64_t col, __m512 weight_dequantized,
                                                      __m512 bias, __mmask16 mask) {
  constexpr int64_t out_bytes = OUT == OutputType::fp32 ? 4 : OUT == OutputType::int8 ? 1 : 2;
  __m512 y = _mm512_mul_ps(weight_dequantized, _mm512_set1_ps(args->a_scales[m]));
  if constexpr (BIAS) y = _mm512_add_ps(y, bias);
  y = apply_activation<ACT>(y);
  void* out_row = static_cast<char*>(args->out) + m * args->ldo * out_bytes;
  store_output<OUT>(out_row, col, y, mask, args->out_inv_scale);
}

}  // namespace qk::cpu
