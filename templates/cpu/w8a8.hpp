// The W8A8 CPU kernel (docs/numerics.md §6.2): int8 weights x int8 activations, exact int32
// accumulation with AVX-512 VNNI or AVX2, dequantized in the epilogue as
// (float(acc) * w_scale) * a_scale.
//
// AVX-512: vpdpbusd multiplies unsigned by signed bytes, so activations are stored as
// u8 = a + 128 and each column subtracts 128 * sum_k w[n, k] (precomputed at packing). The int32
// sums may wrap; the corrected result is exact whenever the true sum fits in int32, which
// validate_layer guarantees through its K bound.
//
// AVX2 has no vpdpbusd; vpmaddubsw (u8 x s8 -> pairs summed to s16, saturating) on the u8 codes
// would saturate: 2 * 255 * 127 = 64770 > 32767. It runs instead on |w| (u8, at most 128) and
// a * sign(w) (s8, |a| <= 127: codes never reach -128, docs/numerics.md §3.1), the vpsignb
// identity a * w = |w| * (a * sign(w)): a pair sums to at most 2 * 128 * 127 = 32512 <= 32767,
// exact. vpmaddwd with ones then adds the pairs to int32 exactly. The activations are stored as
// plain s8 codes, so a row's 4 codes per step are broadcast straight from memory (with u8 codes
// the top-bit flip went through a general register: two more vector operations per row and step,
// a sixth of the loop), and the sums are the true ones (no compensation term) that never wrap
// within the K bound. Same packed layout as AVX-512: 8 columns x 4 k per 32-byte half of each
// 64-byte group.
//
// AMX (W8A8Config::amx): the same codes and panels are the operands of tdpbusd tiles
// (templates/cpu/amx.hpp); each tile's sums go to the workspace, and on the last K block the
// remainder of K past whole 64-byte steps is added by vpdpbusd before the same epilogue.
//
// Weights are packed in 16-column panels (quant/pack_cpu.hpp): panel p holds columns
// 16p..16p+15, and its bytes [kq * 64 + j * 4 + t] are w[16p + j][4kq + t]. One 64-byte load is
// one vpdpbusd operand. The layout does not depend on the tile, so one packing serves every
// TileConfig the tuner tries.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/amx.hpp"
#include "cpu/config.hpp"
#include "cpu/epilogue.hpp"
#include "cpu/isa.hpp"
#include "cpu/quantize_rows.hpp"
#include "cpu/vec.hpp"

namespace qk::cpu {

/// Where one micro-tile reads.
template <int MR>
struct TileRefs {
  /// Each row's activation codes at the K block's start. The rows of a tile past the last row of
  /// the block repeat that row: a partial tile runs at full height (its extra rows are computed
  /// from valid memory and never stored), which costs less than running its rows one by one.
  const uint8_t* a[MR];
  const int8_t* b;       // panel 0 of the tile's weights, at the K block's start
  int64_t panel_stride;  // bytes between panels (16 * k_padded)
  int64_t kc;            // K of this block, a multiple of 4
};

/// acc[r][v] += sum over the block's K of a[r, k] * b[16v + lane, k], 4 k per vpdpbusd.
///
/// This function and the epilogue, the two that take the accumulator array by reference, are
/// always inlined into the tile, and every loop over the tile is fully unrolled (QK_UNROLL): if
/// the array's address escaped into a call, or an index stayed dynamic, LLVM would keep the array
/// in memory and store every accumulator on each k step (measured: 20-40% of the speed).
template <int MR, int NV>
__attribute__((always_inline)) inline void micro_kernel(const TileRefs<MR>& t,
                                                        __m512i (&acc)[MR][NV]) {
  for (int64_t kq = 0; kq < t.kc / 4; ++kq) {
    __m512i b[NV];
    QK_UNROLL for (int v = 0; v < NV; ++v) b[v] =
        _mm512_loadu_si512(t.b + v * t.panel_stride + kq * 64);
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      int32_t four;  // the 4 activation bytes of row r, broadcast to every lane
      __builtin_memcpy(&four, t.a[r] + kq * 4, 4);
      const __m512i a = _mm512_set1_epi32(four);
      QK_UNROLL for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], a, b[v]);
    }
  }
}

/// The AVX2 micro-kernel: acc[r][y] += sum over the block's K of a[r, k] * b[8y + lane, k], for
/// the NY = 2 * (16-column panels) ymm vectors of the tile, 4 k per step (see the file comment
/// for the exactness bound). Inlined and unrolled as micro_kernel.
template <int MR, int NY>
__attribute__((always_inline)) inline void micro_kernel_avx2(const TileRefs<MR>& t,
                                                             __m256i (&acc)[MR][NY]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t kq = 0; kq < t.kc / 4; ++kq) {
    __m256i w[NY], w_abs[NY];
    QK_UNROLL for (int y = 0; y < NY; ++y) {
      // Panel y / 2, its columns 8 (y % 2) .. 8 (y % 2) + 7: the half of the 64-byte group.
      w[y] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.b + (y / 2) * t.panel_stride +
                                                                 kq * 64 + (y % 2) * 32));
      w_abs[y] = _mm256_sign_epi8(w[y], w[y]);  // |w| as u8 (-128 gives 128)
    }
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      int32_t four;  // row r's 4 s8 codes, broadcast to every lane
      __builtin_memcpy(&four, t.a[r] + kq * 4, 4);
      const __m256i a = _mm256_set1_epi32(four);
      QK_UNROLL for (int y = 0; y < NY; ++y) {
        const __m256i pairs = _mm256_maddubs_epi16(w_abs[y], _mm256_sign_epi8(a, w[y]));
        acc[r][y] = _mm256_add_epi32(acc[r][y], _mm256_madd_epi16(pairs, ones));
      }
    }
  }
}

template <W8A8Config C>
struct W8A8Kernel {
  using V = Vec<C.isa>;
  /// Accumulator vectors per row of the tile: 16-column panels x vectors per panel.
  static constexpr int PER_PANEL = 16 / V::LANES;

  static_assert(C.amx || C.isa != Isa::avx512 || micro_tile_registers(C.mr, C.nv) <= 32,
                "The micro-tile needs mr * nv accumulators, nv weight vectors and a broadcast "
                "register; AVX-512 has 32.");
  static_assert(C.isa != Isa::avx2 || avx2_micro_tile_registers(C.mr, C.nv) <= 16,
                "The AVX2 micro-tile needs 2 * mr * nv accumulators, 4 * nv weight registers and "
                "3 more; AVX2 has 16.");
  static_assert(C.kc % 4 == 0, "kc must be a multiple of 4, the K step of the int8 dot product.");
  static_assert(!C.amx || C.isa == Isa::avx512, "AMX tiles are finished by the AVX-512 epilogue.");
  static_assert(!C.amx || (C.mr % amx::TILE_ROWS == 0 &&
                           amx::tile_registers(C.mr / amx::TILE_ROWS, C.nv) <= amx::TILE_REGISTERS),
                "An AMX tile has mr / 16 A tiles, nv B tiles and their products as C tiles, in 8 "
                "tile registers; mr must be a multiple of 16.");
  static_assert(!C.amx || C.kc % amx::TILE_K == 0,
                "An AMX kc must be a multiple of 64, the K of one tdpbusd.");
  static_assert(C.mc % C.mr == 0, "mc must be a multiple of mr.");
  static_assert(C.nc % (16 * C.nv) == 0, "nc must be a multiple of 16 * nv.");

  /// Where the codes are: AMX A tiles want 16 rows of a 64-k block contiguous.
  static constexpr CodeLayout LAYOUT = C.amx ? CodeLayout::amx_tiles : CodeLayout::rows;
  /// vpdpbusd's unsigned operand on AVX-512, vpsignb's signed one on AVX2 (file comment).
  static constexpr CodeFormat FORMAT = C.isa == Isa::avx2 ? CodeFormat::s8 : CodeFormat::u8_offset;

  static void quantize(const QkCpuGemmArgs* args, int64_t r0, int64_t r1) {
    quantize_rows<C.input, C.scaling, FORMAT, C.isa, LAYOUT>(args, r0, r1);
  }

  /// The output block [m0, m1) x [n0, n1), n0 a multiple of 16. `workspace` holds mc x nc int32
  /// partial sums between K blocks (unused when K fits one block).
  static void gemm(const QkCpuGemmArgs* args, int64_t n0, int64_t n1, int64_t m0, int64_t m1,
                   int32_t* workspace) {
    const int64_t kp = args->k_padded;
    if constexpr (C.amx) amx::configure_tiles();  // per thread and call: tile state is per thread
    for (int64_t nc0 = n0; nc0 < n1; nc0 += C.nc) {
      const int64_t nc1 = nc0 + C.nc < n1 ? nc0 + C.nc : n1;
      for (int64_t mc0 = m0; mc0 < m1; mc0 += C.mc) {
        const int64_t mc1 = mc0 + C.mc < m1 ? mc0 + C.mc : m1;
        for (int64_t kc0 = 0; kc0 < kp; kc0 += C.kc) {
          const int64_t kc = kc0 + C.kc < kp ? C.kc : kp - kc0;
          const Block block{args, nc0, mc0, kc0, kc, kc0 == 0, kc0 + kc == kp, workspace};
          for (int64_t nr0 = nc0; nr0 < nc1; nr0 += 16 * C.nv) {
            const int64_t nv = (nc1 - nr0 + 15) / 16 < C.nv ? (nc1 - nr0 + 15) / 16 : C.nv;
            for (int64_t mr0 = mc0; mr0 < mc1; mr0 += C.mr)
              dispatch_nv(block, mr0, mc1 - mr0 < C.mr ? mc1 - mr0 : C.mr, nr0, nv, nc1);
          }
        }
      }
    }
    if constexpr (C.amx) amx::release_tiles();
  }

 private:
  struct Block {
    const QkCpuGemmArgs* args;
    int64_t nc0, mc0, kc0, kc;
    bool first_k, last_k;
    int32_t* workspace;  // [mc][nc], indexed relative to (mc0, nc0)
  };

  // The edge tile in N has fewer panels: instantiate every panel count up to C.nv.
  template <int NV = C.nv>
  static void dispatch_nv(const Block& b, int64_t m, int64_t rows, int64_t n, int64_t nv,
                          int64_t n_end) {
    if constexpr (NV > 1) {
      if (nv < NV) return dispatch_nv<NV - 1>(b, m, rows, n, nv, n_end);
    }
    if constexpr (C.amx) {
      amx_tile<NV>(b, m, rows, n, n_end);
    } else {
      tile<C.mr, NV * PER_PANEL>(b, m, rows, n, n_end);
    }
  }

  /// Rows the AMX tile's remainder and epilogue take at once: 4 x nv (at most 3) accumulators.
  static constexpr int AMX_EPILOGUE_ROWS = 4;

  /// The AMX tile of `rows` (1..mr) rows from m and NT panels from n: as many 16-row A tiles as
  /// the rows need (a partial one reads the layout's rows past the last, whose sums are never
  /// stored), up to C.mr / 16.
  template <int NT, int MT = C.mr / amx::TILE_ROWS>
  static void amx_tile(const Block& b, int64_t m, int64_t rows, int64_t n, int64_t n_end) {
    if constexpr (MT > 1) {
      if (rows <= (MT - 1) * amx::TILE_ROWS) return amx_tile<NT, MT - 1>(b, m, rows, n, n_end);
    }
    const QkCpuGemmArgs* args = b.args;
    const int64_t kp = args->k_padded;
    int32_t* sums = b.workspace + (m - b.mc0) * C.nc + (n - b.nc0);
    const int8_t* w = static_cast<const int8_t*>(args->packed_w) + n * kp + b.kc0 * 16;
    const int64_t steps = b.kc / amx::TILE_K;
    amx::tile_block<MT, NT>({code_address<LAYOUT>(args, m, b.kc0), amx_row_tile_bytes(args), w,
                             16 * kp, steps, sums, C.nc * static_cast<int64_t>(sizeof(int32_t)),
                             b.first_k});
    if (!b.last_k) return;

    // K past the whole steps (k_padded % 64, only in the last block) with vpdpbusd, then the
    // epilogue, a few rows at a time from the sums just stored (still in L1).
    const int64_t k_done = steps * amx::TILE_K;
    for (int64_t r0 = 0; r0 < rows; r0 += AMX_EPILOGUE_ROWS) {
      constexpr int R = AMX_EPILOGUE_ROWS;
      const int64_t r_rows = rows - r0 < R ? rows - r0 : R;
      __m512i acc[R][NT];
      QK_UNROLL for (int r = 0; r < R; ++r) {
        QK_UNROLL for (int v = 0; v < NT; ++v) acc[r][v] =
            _mm512_loadu_si512(sums + (r0 + r) * C.nc + 16 * v);
      }
      if (k_done < b.kc) {
        TileRefs<R> refs{{}, w + k_done * 16, 16 * kp, b.kc - k_done};
        QK_UNROLL for (int r = 0; r < R; ++r) {
          const int64_t row = m + r0 + (r < r_rows ? r : r_rows - 1);
          refs.a[r] = code_address<LAYOUT>(args, row, b.kc0 + k_done);  // within one 64-k block
        }
        micro_kernel<R, NT>(refs, acc);
      }
      epilogue<R, NT>(args, m + r0, r_rows, n, n_end, acc);
    }
  }

  /// The tile of `rows` (1..MR) rows from m and NY vectors of V::LANES columns from n.
  template <int MR, int NY>
  static void tile(const Block& b, int64_t m, int64_t rows, int64_t n, int64_t n_end) {
    const QkCpuGemmArgs* args = b.args;
    typename V::I acc[MR][NY];
    int32_t* ws = b.workspace + (m - b.mc0) * C.nc + (n - b.nc0);
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      QK_UNROLL for (int y = 0; y < NY; ++y) {
        acc[r][y] = b.first_k ? V::zero_i() : V::load_i(ws + r * C.nc + V::LANES * y);
      }
    }

    TileRefs<MR> refs{{},
                      static_cast<const int8_t*>(args->packed_w) + n * args->k_padded + b.kc0 * 16,
                      16 * args->k_padded,
                      b.kc};
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      const int64_t row = m + (r < rows ? r : rows - 1);
      refs.a[r] = args->a_codes + row * args->k_padded + b.kc0;
    }
    if constexpr (C.isa == Isa::avx512) {
      micro_kernel<MR, NY>(refs, acc);
    } else {
      micro_kernel_avx2<MR, NY>(refs, acc);
    }

    if (!b.last_k) {
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        QK_UNROLL for (int y = 0; y < NY; ++y) V::store_i(ws + r * C.nc + V::LANES * y, acc[r][y]);
      }
      return;
    }
    epilogue<MR, NY>(args, m, rows, n, n_end, acc);
  }

  /// docs/numerics.md §6.2 and §7: y = act((float(acc - comp) * w_scale) * a_scale + bias); the
  /// AVX2 sums are already the true ones (no u8 offset, no compensation).
  template <int MR, int NY>
  __attribute__((always_inline)) static void epilogue(const QkCpuGemmArgs* args, int64_t m,
                                                      int64_t rows, int64_t n, int64_t n_end,
                                                      typename V::I (&acc)[MR][NY]) {
    QK_UNROLL for (int y = 0; y < NY; ++y) {
      const int64_t col = n + V::LANES * y;
      if (col >= n_end) break;  // AVX2: the second half of the last 16-column panel
      const typename V::Mask mask = V::first(n_end - col);
      const typename V::F w_scale = V::load(args->w_scales + col);
      typename V::I comp = V::zero_i();
      if constexpr (C.isa == Isa::avx512) comp = V::load_i(args->w_compensation + col);
      typename V::F bias = V::zero();
      if constexpr (C.bias) bias = V::load(args->bias + col, mask);
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        if (r >= rows) break;  // the repeated rows of a partial tile
        const typename V::I exact = C.isa == Isa::avx512 ? V::sub_i(acc[r][y], comp) : acc[r][y];
        finish_row<C.bias, C.act, C.output, C.isa>(args, m + r, col,
                                                   V::mul(V::to_float(exact), w_scale), bias, mask);
      }
    }
  }
};

}  // namespace qk::cpu
