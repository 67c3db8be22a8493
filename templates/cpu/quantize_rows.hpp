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
  s8,             ///< the s8 codes themselves (w8a8 on AVX2: vpsignb's signed operand)
  s8_group_sums,  ///< s8, plus each row's code sum per scale group (w4a8: the zero-point term)
};

/// What a format adds to an s8 code: 128 for u8_offset, else 0 (also the code of value 0).
constexpr int32_t code_offset(CodeFormat f) { return f == CodeFormat::u8_offset ? 128 : 0; }

/// Where a kernel wants its activation codes.
enum class CodeLayout : uint8_t {
  rows,       ///< row-major, k_padded bytes per row
  amx_tiles,  ///< AMX A tiles: per 16-row tile, its 16 x 64-k blocks in K order (code_address)
};

/// Bytes of one 16-row tile's codes in the amx_tiles layout: 16 rows of K rounded up to 64.
inline int64_t amx_row_tile_bytes(const QkCpuGemmArgs* args) {
  return 16 * ((args->k_padded + 63) / 64 * 64);
}

/// The address of code (r, k). amx_tiles: code (r, k) at byte (r / 16) * amx_row_tile_bytes +
/// (k / 64) * 1024 + (r % 16) * 64 + k % 64. An A tile (16 rows x 64 k) is 1024 contiguous bytes
/// and a row tile's K steps follow each other, so its A tiles stream like a weight panel: rows
/// k_padded apart would put a tile's 16 lines into one L1 set whenever k_padded is a multiple of
/// 4096, and K blocks of all rows (tiles m * 64 bytes apart) into a few L2 sets when m is a large
/// power of two.
template <CodeLayout L>
inline uint8_t* code_address(const QkCpuGemmArgs* args, int64_t r, int64_t k) {
  if constexpr (L == CodeLayout::rows) {
    return args->a_codes + r * args->k_padded + k;
  } else {
    return args->a_codes + (r / 16) * amx_row_tile_bytes(args) + (k / 64) * 1024 + (r % 16) * 64 +
           k % 64;
  }
}

/// Quantizes rows [r0, r1) into args->a_codes (in `F`, laid out as `L`) and their scales into
/// a_scales. The padding up to k_padded is the code of value 0 (128 for u8_offset, 0 for s8).
template <InputType T, Scaling S, CodeFormat F, Isa ISA = Isa::avx512,
          CodeLayout L = CodeLayout::rows>
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
    uint8_t* codes = code_address<L>(args, r, 0);
    constexpr int32_t offset = code_offset(F);
    for (int64_t i = 0; i < k; i += V::LANES) {
      const typename V::Mask mask = V::first(k - i);
      // A vector of codes never crosses a 64-k block: LANES divides 64.
      V::store_codes(code_address<L>(args, r, i),
                     V::mul(V::template load_input<T>(row, i, mask), inv), offset, mask);
    }
    for (int64_t i = k; i < args->k_padded; ++i)
      *code_address<L>(args, r, i) = static_cast<uint8_t>(offset);
    if constexpr (F == CodeFormat::s8_group_sums) {
      static_assert(L == CodeLayout::rows, "Group sums read the codes as rows.");
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
