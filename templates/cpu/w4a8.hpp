// The W4A8 CPU kernel (docs/numerics.md §6.2): int4 weights x int8 activations, exact int32 sums
// per scale group, folded into fp32 as (sum over groups of float(acc_g) * w_scale_g) * a_scale.
//
// The weights stay 4-bit in memory (decode reads half the bytes of int8) and are expanded in
// registers. vpdpbusd takes the int4 codes (0..15) as its unsigned operand and the s8
// activations as its signed one, so no offset is needed; the zero point enters once per group:
// sum_k a * (code - zero) = sum_k a * code - zero * sum_k a, with the row's code sum per group
// computed when the activations are quantized.
//
// Packed layout (quant/pack_cpu.hpp): 16-column panels of 8 k per 64 bytes; byte j * 4 + t of
// the block holds code(16p + j, 8q + t) in its low nibble and code(16p + j, 8q + 4 + t) in its
// high nibble, so a mask and a shift turn one load into two vpdpbusd operands.
//
// AVX2 (no VNNI): vpmaddubsw on the codes (u8, at most 15) and the s8 activations (|a| <= 127)
// cannot saturate: a pair sums to at most 2 * 15 * 127 = 3810, the low and high nibbles' pairs
// together to 7620, four 8-k steps to 30480 <= 32767, added in int16 exactly; vpmaddwd with ones
// then widens them to int32. Each 64-byte block is read as two 32-byte halves (columns 0..7 and
// 8..15 of the panel).
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "cpu/epilogue.hpp"
#include "cpu/isa.hpp"
#include "cpu/quantize_rows.hpp"
#include "cpu/vec.hpp"

namespace qk::cpu {

/// One group's int32 sums on AVX-512: acc[r][v] += sum over [k_begin, k_end) of a[r][k] * code
/// of column 16 v + lane, 8 k per step (two vpdpbusd). Inlined and unrolled as W8A8's.
template <int MR, int NV>
__attribute__((always_inline)) inline void w4a8_group(const uint8_t* panels, int64_t panel_stride,
                                                      const int8_t* const (&a)[MR], int64_t k_begin,
                                                      int64_t k_end, __m512i (&acc)[MR][NV]) {
  const __m512i low_nibbles = _mm512_set1_epi8(0x0F);
  for (int64_t k8 = k_begin; k8 < k_end; k8 += 8) {
    __m512i lo[NV], hi[NV];
    QK_UNROLL for (int v = 0; v < NV; ++v) {
      const __m512i packed = _mm512_loadu_si512(panels + v * panel_stride + k8 * 8);
      lo[v] = _mm512_and_si512(packed, low_nibbles);
      hi[v] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low_nibbles);
    }
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      int32_t first, second;  // activations k8..k8+3 and k8+4..k8+7 of row r
      __builtin_memcpy(&first, a[r] + k8, 4);
      __builtin_memcpy(&second, a[r] + k8 + 4, 4);
      const __m512i a_lo = _mm512_set1_epi32(first), a_hi = _mm512_set1_epi32(second);
      QK_UNROLL for (int v = 0; v < NV; ++v) {
        acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], lo[v], a_lo);
        acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], hi[v], a_hi);
      }
    }
  }
}

/// STEPS steps of 8 k from k8 into acc, chained in int16 per ymm and row (STEPS <=
/// kAvx2Int16Steps). Each ymm's weights are loaded and split into nibbles once per step for all
/// MR rows.
template <int MR, int NY, int STEPS>
__attribute__((always_inline)) inline void w4a8_steps_avx2(const uint8_t* panels,
                                                           int64_t panel_stride,
                                                           const int8_t* const (&a)[MR], int64_t k8,
                                                           __m256i (&acc)[MR][NY]) {
  static_assert(STEPS >= 1 && STEPS <= 4, "Four steps are what an int16 sum can hold.");
  const __m256i low_nibbles = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  QK_UNROLL for (int y = 0; y < NY; ++y) {
    const uint8_t* w = panels + (y / 2) * panel_stride + k8 * 8 + (y % 2) * 32;
    __m256i chain[MR];
    QK_UNROLL for (int s = 0; s < STEPS; ++s) {
      const __m256i packed = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + s * 64));
      const __m256i lo = _mm256_and_si256(packed, low_nibbles);
      const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_nibbles);
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        int32_t first, second;  // activations k..k+3 and k+4..k+7 of row r, k = k8 + 8 s
        __builtin_memcpy(&first, a[r] + k8 + 8 * s, 4);
        __builtin_memcpy(&second, a[r] + k8 + 8 * s + 4, 4);
        const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(lo, _mm256_set1_epi32(first)),
                                               _mm256_maddubs_epi16(hi, _mm256_set1_epi32(second)));
        chain[r] = s == 0 ? pairs : _mm256_add_epi16(chain[r], pairs);
      }
    }
    QK_UNROLL for (int r = 0; r < MR; ++r) acc[r][y] =
        _mm256_add_epi32(acc[r][y], _mm256_madd_epi16(chain[r], ones));
  }
}

/// int16 sums of one k8 step (a column's low and high nibble pairs) are at most
/// 2 * 2 * 15 * 127 = 7620, so four steps add up to at most 30480 <= 32767: the AVX2 kernel
/// chains four steps in int16 before one vpmaddwd widens them to int32.
inline constexpr int kAvx2Int16Steps = 4;

/// One group's int32 sums on AVX2 for NY ymm vectors (two per panel); see the file comment for
/// the bound. Per ymm and row, up to kAvx2Int16Steps steps of 8 k are chained in int16 and
/// widened once (vpmaddwd with ones), so a step costs a load, three nibble operations, two
/// vpmaddubsw and two int16 adds, and a quarter of the widening.
template <int MR, int NY>
__attribute__((always_inline)) inline void w4a8_group_avx2(const uint8_t* panels,
                                                           int64_t panel_stride,
                                                           const int8_t* const (&a)[MR],
                                                           int64_t k_begin, int64_t k_end,
                                                           __m256i (&acc)[MR][NY]) {
  constexpr int64_t CHUNK = 8 * kAvx2Int16Steps;  // k per int16 chain
  int64_t k8 = k_begin;
  for (; k8 + CHUNK <= k_end; k8 += CHUNK)
    w4a8_steps_avx2<MR, NY, kAvx2Int16Steps>(panels, panel_stride, a, k8, acc);
  for (; k8 < k_end; k8 += 8) w4a8_steps_avx2<MR, NY, 1>(panels, panel_stride, a, k8, acc);
}

/// Groups ahead of the one being summed whose scales and zero points a tile prefetches. A
/// group's parameters are one row of [groups][n_padded] (16 KiB apart at n = 4096), so each
/// group's few bytes per tile lie on another page, which the hardware prefetchers do not follow:
/// without this, decode waited for DRAM's latency at every group (12 against 15 GB/s on one
/// AVX2 core, docs/cpu.md). Two groups are 2-4 k of weights per panel ahead, several hundred ns.
inline constexpr int64_t kPrefetchGroups = 2;

/// Prefetches group g's scales and zero points of COLS columns from n (if g is a group); the
/// rows need not be 64-byte aligned, so the last byte's line is fetched too.
template <int COLS>
__attribute__((always_inline)) inline void prefetch_group_params(const QkCpuGemmArgs* args,
                                                                 int64_t g, int64_t scale_stride,
                                                                 int64_t n) {
  if (g >= args->groups) return;
  const char* scales = reinterpret_cast<const char*>(args->w_scales + g * scale_stride + n);
  QK_UNROLL for (int b = 0; b < COLS * 4; b += 64) _mm_prefetch(scales + b, _MM_HINT_T0);
  _mm_prefetch(scales + COLS * 4 - 1, _MM_HINT_T0);
  if (args->w_zero_points == nullptr) return;  // symmetric: every zero point is 8
  const char* zeros = reinterpret_cast<const char*>(args->w_zero_points + g * scale_stride + n);
  QK_UNROLL for (int b = 0; b < COLS * 4; b += 64) _mm_prefetch(zeros + b, _MM_HINT_T0);
  _mm_prefetch(zeros + COLS * 4 - 1, _MM_HINT_T0);
}

template <W4A8Config C>
struct W4A8Kernel {
  using V = Vec<C.isa>;
  /// Accumulator vectors per 16-column panel.
  static constexpr int PER_PANEL = 16 / V::LANES;

  static_assert(C.isa != Isa::avx2 || avx2_w4a8_tile_registers(C.mr, C.nv) <= 16,
                "The AVX2 W4A8 inner loop needs 2 * mr * nv int32 accumulators, mr int16 chains "
                "and 7 more registers; AVX2 has 16.");
  static_assert(C.isa != Isa::avx512 || w4a8_tile_registers(C.mr, C.nv) <= 32,
                "The W4A8 micro-tile needs 2 * mr * nv accumulators (int32 and fp32), the two "
                "nibble halves of nv weight vectors, 2 broadcasts and a mask; AVX-512 has 32 "
                "registers.");
  static_assert(C.mc % C.mr == 0, "mc must be a multiple of mr.");
  static_assert(C.nc % (16 * C.nv) == 0, "nc must be a multiple of 16 * nv.");

  static void quantize(const QkCpuGemmArgs* args, int64_t r0, int64_t r1) {
    quantize_rows<C.input, C.scaling, CodeFormat::s8_group_sums, C.isa>(args, r0, r1);
  }

  static void gemm(const QkCpuGemmArgs* args, int64_t n0, int64_t n1, int64_t m0, int64_t m1,
                   int32_t* /*workspace: K is not blocked*/) {
    for (int64_t nc0 = n0; nc0 < n1; nc0 += C.nc) {
      const int64_t nc1 = nc0 + C.nc < n1 ? nc0 + C.nc : n1;
      for (int64_t mc0 = m0; mc0 < m1; mc0 += C.mc) {
        const int64_t mc1 = mc0 + C.mc < m1 ? mc0 + C.mc : m1;
        for (int64_t nr0 = nc0; nr0 < nc1; nr0 += 16 * C.nv) {
          const int64_t nv = (nc1 - nr0 + 15) / 16 < C.nv ? (nc1 - nr0 + 15) / 16 : C.nv;
          for (int64_t mr0 = mc0; mr0 < mc1; mr0 += C.mr)
            dispatch_nv(args, mr0, mc1 - mr0 < C.mr ? mc1 - mr0 : C.mr, nr0, nv, nc1);
        }
      }
    }
  }

 private:
  template <int NV = C.nv>
  static void dispatch_nv(const QkCpuGemmArgs* args, int64_t m, int64_t rows, int64_t n, int64_t nv,
                          int64_t n_end) {
    if constexpr (NV > 1) {
      if (nv < NV) return dispatch_nv<NV - 1>(args, m, rows, n, nv, n_end);
    }
    tile<C.mr, NV * PER_PANEL>(args, m, rows, n, n_end);
  }

  /// The tile of `rows` (1..MR) rows from m and NY vectors of V::LANES columns from n, over all
  /// of K. As in W8A8, every loop over the tile is fully unrolled and nothing takes the
  /// accumulators' address, so they stay in registers; a partial tile repeats its last row and
  /// stores only the valid ones.
  template <int MR, int NY>
  static void tile(const QkCpuGemmArgs* args, int64_t m, int64_t rows, int64_t n, int64_t n_end) {
    const int64_t panel_stride = 8 * args->k_padded;        // bytes of one 16-column panel
    const int64_t scale_stride = (args->n + 15) / 16 * 16;  // n_padded: one group's columns
    const uint8_t* panels = static_cast<const uint8_t*>(args->packed_w) + (n / 16) * panel_stride;
    const int8_t* a[MR];
    int64_t row_of[MR];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      row_of[r] = m + (r < rows ? r : rows - 1);
      a[r] = reinterpret_cast<const int8_t*>(args->a_codes) + row_of[r] * args->k_padded;
    }

    typename V::F sum[MR][NY];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      QK_UNROLL for (int y = 0; y < NY; ++y) sum[r][y] = V::zero();
    }
    for (int64_t g = 0; g < args->groups; ++g) {
      typename V::I acc[MR][NY];
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        QK_UNROLL for (int y = 0; y < NY; ++y) acc[r][y] = V::zero_i();
      }
      const int64_t k_begin = g * args->group_k;
      prefetch_group_params<NY * V::LANES>(args, g + kPrefetchGroups, scale_stride, n);
      if constexpr (C.isa == Isa::avx512) {
        w4a8_group<MR, NY>(panels, panel_stride, a, k_begin, k_begin + args->group_k, acc);
      } else {
        w4a8_group_avx2<MR, NY>(panels, panel_stride, a, k_begin, k_begin + args->group_k, acc);
      }
      // Fold the group: acc - zero * sum(a), then + float(.) * w_scale, in increasing g.
      // Symmetric weights come without zero points (abi.h): 4 bytes per column and group that
      // decode does not read, beside group_k / 2 bytes of codes and 4 of scale (6% of its
      // bytes at groups of 128, 11% at 32).
      QK_UNROLL for (int y = 0; y < NY; ++y) {
        const int64_t col = n + V::LANES * y;
        const typename V::I zero = args->w_zero_points == nullptr
                                       ? V::set1_i(8)
                                       : V::load_i(args->w_zero_points + g * scale_stride + col);
        const typename V::F scale = V::load(args->w_scales + g * scale_stride + col);
        QK_UNROLL for (int r = 0; r < MR; ++r) {
          const typename V::I a_sum = V::set1_i(args->a_group_sums[row_of[r] * args->groups + g]);
          const typename V::I exact = V::sub_i(acc[r][y], V::mullo_i(zero, a_sum));
          sum[r][y] = V::add(sum[r][y], V::mul(V::to_float(exact), scale));
        }
      }
    }

    QK_UNROLL for (int y = 0; y < NY; ++y) {
      const int64_t col = n + V::LANES * y;
      if (col >= n_end) break;  // AVX2: the second half of the last 16-column panel
      const typename V::Mask mask = V::first(n_end - col);
      typename V::F bias = V::zero();
      if constexpr (C.bias) bias = V::load(args->bias + col, mask);
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        if (r >= rows) break;  // the repeated rows of a partial tile
        finish_row<C.bias, C.act, C.output, C.isa>(args, m + r, col, sum[r][y], bias, mask);
      }
    }
  }
};

}  // namespace qk::cpu
