// The part of the epilogue every CPU kernel shares (docs/numerics.md §6, §7): the activation
// scale (applied last), bias, activation function, output conversion and a masked store.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/activation.hpp"
#include "cpu/config.hpp"
#include "cpu/isa.hpp"

namespace qk::cpu {

/// Row m, columns col..col+LANES-1 (masked): y = act(weight_dequantized * a_scale[m] + bias),
/// stored. ISA is the vector width (templates/cpu/isa.hpp).
template <bool BIAS, Act ACT, OutputType OUT, Isa ISA = Isa::avx512>
__attribute__((always_inline)) inline void finish_row(const QkCpuGemmArgs* args, int64_t m,
                                                      int64_t col,
                                                      typename Vec<ISA>::F weight_dequantized,
                                                      typename Vec<ISA>::F bias,
                                                      typename Vec<ISA>::Mask mask) {
  using V = Vec<ISA>;
  constexpr int64_t out_bytes = OUT == OutputType::fp32 ? 4 : OUT == OutputType::int8 ? 1 : 2;
  typename V::F y = V::mul(weight_dequantized, V::set1(args->a_scales[m]));
  if constexpr (BIAS) y = V::add(y, bias);
  y = apply_activation<ACT>(y);
  void* out_row = static_cast<char*>(args->out) + m * args->ldo * out_bytes;
  V::template store_output<OUT>(out_row, col, y, mask, args->out_inv_scale);
}

}  // namespace qk::cpu
