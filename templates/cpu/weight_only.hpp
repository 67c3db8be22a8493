// The weight-only CPU kernels (docs/numerics.md §6.3) and the float baselines (§6.5): W8A16,
// W4A16 and WFP8A16 (int8, int4 or fp8 weights x fp16 or bf16 activations, multiplied as given),
// and fp16, bf16, fp32 (weights and activations in one float type). One template serves all six;
// the config's `weight` picks the decoder (weight_decode.hpp), which knows the packed layout and
// turns 16 stored weights into the values the kernel multiplies.
//
// The contract dequantizes each weight as
//   w16 = round_to(activation type, value * scale)      (one fp32 multiply; value = code - zero,
//                                                        or the fp8 code's decoded value)
// and fp8 weights are multiplied as exactly that: both factors of the FMA have at most 11
// significant bits, so the product is exact (short of fp32 underflow) and only the fp32 sum
// rounds. Integer weights are not rounded to the activation type (§6.3 allows it): the
// in-register tile multiplies value * activation, exact too, and scales each group's sum
// (tile()); a buffered block holds value * scale in fp32 (dequantize_block()). A float baseline's
// weights are already in the activation type and are only widened (fp32 x fp32 rounds once more,
// in the FMA, within §8's bound). This needs AVX-512F/BW only (no avx512bf16, no F16C
// beyond AVX-512F's vcvtph2ps), or on AVX2 (C.isa, templates/cpu/isa.hpp) x86-64-v3's FMA and
// F16C: one template, written against the ISA's vector policy, 16 or 8 fp32 lanes per vector, the
// same values lane for lane. vdpbf16ps would double the multiply rate for bf16 but flushes
// subnormals.
//
// The weights stay in their stored width in memory (int8 and fp8 1 byte, int4 1/2, fp16 and bf16
// 2, fp32 4), so decode (M = 1) reads that many bytes per weight; on AVX2 the int4 decode's
// vector operations (four per 8 symmetric weights) cap it below the DRAM bandwidth (docs/cpu.md).
//
// Two paths per column tile (column()): a cache block of rows that fits one register tile
// (decode) decodes each weight in registers where it is used; a taller block dequantizes one K
// block of weights at a time into the per-thread workspace and runs FMA-only register tiles on
// it, so the dequantization is paid once per cache block of rows, not once per register tile.
// Both are within §8 of the reference; they may differ from each other in the last bits.
//
// The `quantize` entry converts the activations to fp32 rows of k_padded elements in the
// workspace (a_codes, 4 bytes per element), zero-padded so that the padded K of the panels (whose
// int4 codes dequantize to -zero * scale, finite; every other type pads with zeros) multiplies
// zeros, and sets every a_scale to 1 so that the shared epilogue applies.
#pragma once

#include <immintrin.h>
#include <stdint.h>

#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "cpu/epilogue.hpp"
#include "cpu/isa.hpp"
#include "cpu/quantize_rows.hpp"
#include "cpu/vec.hpp"
#include "cpu/weight_decode.hpp"

namespace qk::cpu {

template <auto C>
struct WeightOnlyKernel {
  using V = Vec<C.isa>;
  using F = typename V::F;
  using Decoder = WeightDecoder<C.weight, C.input, C.isa>;
  /// Vectors per 16-column panel: 1 zmm, or 2 ymm (columns 0..7 and 8..15).
  static constexpr int PER_PANEL = 16 / V::LANES;
  static constexpr int K_STEP = Decoder::K_STEP;  ///< k per 64-byte block of a panel
  static constexpr int64_t PANEL_BYTES_PER_K = Decoder::PANEL_BYTES_PER_K;
  /// K of one block of dequantized weights (see column()): what fits in the workspace after the
  /// partial sums (mc x 16 nv floats), a multiple of 8 (so of every decoder's K step). 0: the
  /// tile is too small to buffer, and every row tile dequantizes its own weights.
  static constexpr int64_t BUFFER_K =
      (int64_t{C.mc} * C.nc - int64_t{C.mc} * 16 * C.nv) / (16 * C.nv) / 8 * 8;

  static_assert(8 % K_STEP == 0, "A K block (a multiple of 8) must hold whole K steps.");
  static_assert(C.scaling == Scaling::none, "Weight-only activations are not quantized.");
  static_assert(C.isa != Isa::avx512 || weight_only_tile_registers(C.mr, C.nv) <= 32,
                "The weight-only micro-tile needs mr * nv fp32 accumulators, four registers per "
                "weight vector (packed, dequantized, scale, zero point) and three more; AVX-512 "
                "has 32.");
  static_assert(C.isa != Isa::avx2 || avx2_weight_only_tile_registers(C.mr, C.nv) <= 16,
                "The AVX2 weight-only micro-tile needs 2 * mr * nv fp32 accumulators, two "
                "registers per weight ymm (packed, dequantized; two ymm per 16 columns) and two "
                "more; AVX2 has 16.");
  static_assert(C.mc % C.mr == 0, "mc must be a multiple of mr.");
  static_assert(C.nc % (16 * C.nv) == 0, "nc must be a multiple of 16 * nv.");

  /// Rows [r0, r1) of the activations as fp32 into the workspace, zero-padded to k_padded.
  static void quantize(const QkCpuGemmArgs* args, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const void* row = input_row<C.input>(args, r);
      float* dst = reinterpret_cast<float*>(args->a_codes) + r * args->k_padded;
      for (int64_t i = 0; i < args->k_padded; i += V::LANES) {
        // Lanes past k load 0. k_padded is k rounded up to a step dividing 8, so k - i > 0 here.
        const F x = V::template load_input<C.input>(row, i, V::first(args->k - i));
        V::store(dst + i, x, V::first(args->k_padded - i));
      }
      args->a_scales[r] = 1.0f;
    }
  }

  /// The output block [m0, m1) x [n0, n1), n0 a multiple of 16. `workspace` holds mc x nc
  /// 32-bit values per thread: used as fp32 partial sums and a block of dequantized weights when a
  /// cache block has more rows than one register tile (see column()).
  static void gemm(const QkCpuGemmArgs* args, int64_t n0, int64_t n1, int64_t m0, int64_t m1,
                   int32_t* workspace) {
    for (int64_t nc0 = n0; nc0 < n1; nc0 += C.nc) {
      const int64_t nc1 = nc0 + C.nc < n1 ? nc0 + C.nc : n1;
      for (int64_t mc0 = m0; mc0 < m1; mc0 += C.mc) {
        const int64_t mc1 = mc0 + C.mc < m1 ? mc0 + C.mc : m1;
        for (int64_t nr0 = nc0; nr0 < nc1; nr0 += 16 * C.nv) {
          const int64_t nv = (nc1 - nr0 + 15) / 16 < C.nv ? (nc1 - nr0 + 15) / 16 : C.nv;
          dispatch_nv(args, mc0, mc1, nr0, nv, nc1, reinterpret_cast<float*>(workspace));
        }
      }
    }
  }

 private:
  template <int NV = C.nv>
  static void dispatch_nv(const QkCpuGemmArgs* args, int64_t m0, int64_t m1, int64_t n, int64_t nv,
                          int64_t n_end, float* workspace) {
    if constexpr (NV > 1) {
      if (nv < NV) return dispatch_nv<NV - 1>(args, m0, m1, n, nv, n_end, workspace);
    }
    column<NV>(args, m0, m1, n, n_end, workspace);
  }

  /// Rows [m0, m1) (at most mc) of the NV panels from n. With one register tile of rows, each
  /// weight is dequantized in registers where it is used (decode: nothing to share). With more,
  /// the weights are dequantized once per K block into the workspace and every row tile runs
  /// pure FMAs on them: the dequantization (about ten vector operations per 16 weights) is then
  /// paid once per cache block of rows instead of once per register tile.
  template <int NV>
  static void column(const QkCpuGemmArgs* args, int64_t m0, int64_t m1, int64_t n, int64_t n_end,
                     float* workspace) {
    if (BUFFER_K == 0 || m1 - m0 <= C.mr) {
      for (int64_t mr0 = m0; mr0 < m1; mr0 += C.mr) {
        const int64_t rows = m1 - mr0 < C.mr ? m1 - mr0 : C.mr;
        if constexpr (Decoder::ZERO_POINTS) {
          if (args->w_zero_points == nullptr) {  // symmetric (abi.h)
            tile<C.mr, NV, true>(args, mr0, rows, n, n_end);
            continue;
          }
        }
        tile<C.mr, NV, false>(args, mr0, rows, n, n_end);
      }
      return;
    }
    float* partial = workspace;                   // [mc][16 * C.nv] sums between K blocks
    float* block = workspace + C.mc * 16 * C.nv;  // [BUFFER_K][16 * NV] dequantized weights
    const int64_t kp = args->k_padded;
    for (int64_t kb0 = 0; kb0 < kp; kb0 += BUFFER_K) {
      const int64_t kb1 = kb0 + BUFFER_K < kp ? kb0 + BUFFER_K : kp;
      dequantize_block<NV>(args, n, kb0, kb1, block);
      const BlockRefs refs{block, kb0, kb1, kb0 == 0, kb1 == kp};
      for (int64_t mr0 = m0; mr0 < m1; mr0 += C.mr)
        buffered_tile<C.mr, NV>(args, mr0, m1 - mr0 < C.mr ? m1 - mr0 : C.mr, n, n_end, refs,
                                partial + (mr0 - m0) * 16 * C.nv);
    }
  }

  /// A block of dequantized weights: k in [kb0, kb1), 16 * NV floats per k.
  struct BlockRefs {
    const float* weights;
    int64_t kb0, kb1;
    bool first_k, last_k;
  };

  /// The tile of `rows` (1..MR) rows from m and NV panels from n, over all of K. As in the other
  /// kernels, every loop over the tile is fully unrolled and nothing takes the accumulators'
  /// address, so they stay in registers; a partial tile repeats its last row and stores only the
  /// valid ones. SYMMETRIC: int4 weights without zero points.
  ///
  /// Integer weights are not dequantized here: the tile multiplies each weight's exact value
  /// (code - zero) by the activation, exactly in fp32 (at most 8 by 11 significant bits), sums a
  /// group's products and multiplies the sum by the group's scale (docs/numerics.md §6.3 allows
  /// it; §8 bounds it). That skips a multiply and the rounding to the activation type per weight,
  /// half of the vector operations decode (M = 1) spends per weight.
  template <int MR, int NV, bool SYMMETRIC>
  static void tile(const QkCpuGemmArgs* args, int64_t m, int64_t rows, int64_t n, int64_t n_end) {
    const int64_t panel_stride = PANEL_BYTES_PER_K * args->k_padded;  // bytes of one panel
    const uint8_t* panels = static_cast<const uint8_t*>(args->packed_w) + (n / 16) * panel_stride;
    const float* a[MR];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      const int64_t row = m + (r < rows ? r : rows - 1);
      a[r] = reinterpret_cast<const float*>(args->a_codes) + row * args->k_padded;
    }

    // Vectors per row of the tile: vector y is part y % PER_PANEL of panel y / PER_PANEL, the
    // LANES columns from n + LANES * y.
    constexpr int NY = NV * PER_PANEL;
    F acc[MR][NY];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      QK_UNROLL for (int y = 0; y < NY; ++y) acc[r][y] = V::zero();
    }
    for (int64_t g = 0; g < args->groups; ++g) {
      typename Decoder::Params params[NY];  // the group's scales (and zero points), if any
      QK_UNROLL for (int y = 0; y < NY; ++y) params[y] = Decoder::load(args, g, n + V::LANES * y);
      // Quantized weights: the group's sums of activation x unscaled value, scaled once at the
      // group's end. Float weights: the sums themselves.
      F group_acc[MR][NY];
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        QK_UNROLL for (int y = 0; y < NY; ++y) group_acc[r][y] =
            Decoder::SCALE_AFTER_SUM ? V::zero() : acc[r][y];
      }
      const int64_t k_begin = g * args->group_k;
      for (int64_t k0 = k_begin; k0 < k_begin + args->group_k; k0 += K_STEP) {
        typename V::I packed[NY];
        QK_UNROLL for (int y = 0; y < NY; ++y) packed[y] = tile_packed<SYMMETRIC>(
            panels + (y / PER_PANEL) * panel_stride + k0 * PANEL_BYTES_PER_K, y % PER_PANEL);
        // K_STEP values of k per block, each decoded once and multiplied into every row.
        QK_UNROLL for (int t = 0; t < K_STEP; ++t) {
          F w[NY];
          QK_UNROLL for (int y = 0; y < NY; ++y) w[y] =
              tile_weight<SYMMETRIC>(packed[y], params[y], t);
          QK_UNROLL for (int r = 0; r < MR; ++r) {
            const F x = V::set1(a[r][k0 + t]);
            QK_UNROLL for (int y = 0; y < NY; ++y) group_acc[r][y] =
                V::fmadd(x, w[y], group_acc[r][y]);
          }
        }
      }
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        QK_UNROLL for (int y = 0; y < NY; ++y) {
          if constexpr (Decoder::SCALE_AFTER_SUM)
            acc[r][y] = V::fmadd(group_acc[r][y], params[y].scale, acc[r][y]);
          else
            acc[r][y] = group_acc[r][y];
        }
      }
    }

    epilogue<MR, NY>(args, m, rows, n, n_end, acc);
  }

  /// The packed weights of one vector as the in-register tile reads them.
  template <bool SYMMETRIC>
  __attribute__((always_inline)) static typename V::I tile_packed(const uint8_t* block, int part) {
    if constexpr (SYMMETRIC)
      return Decoder::template load_packed<true>(block, part);
    else
      return Decoder::load_packed(block, part);
  }

  /// What the in-register tile multiplies: an integer weight's exact unscaled value (its group's
  /// scale multiplies the group's sums), else the weight as the contract dequantizes it.
  template <bool SYMMETRIC>
  __attribute__((always_inline)) static F tile_weight(typename V::I packed,
                                                      const typename Decoder::Params& params,
                                                      int t) {
    if constexpr (Decoder::SCALE_AFTER_SUM)
      return Decoder::template value<SYMMETRIC>(packed, params, t);
    else
      return Decoder::decode(packed, params, t);
  }

  /// Dequantizes k in [kb0, kb1) (multiples of 8, hence of K_STEP) of the NV panels from n into
  /// `block`, 16 * NV floats per k. Integer weights: value * scale in fp32, not rounded to the
  /// activation type (as tile() does not round; half the operations of the rounding dequantize
  /// takes); the others: the weights tile() multiplies.
  template <int NV>
  static void dequantize_block(const QkCpuGemmArgs* args, int64_t n, int64_t kb0, int64_t kb1,
                               float* block) {
    const int64_t panel_stride = PANEL_BYTES_PER_K * args->k_padded;
    const uint8_t* panels = static_cast<const uint8_t*>(args->packed_w) + (n / 16) * panel_stride;
    for (int64_t k0 = kb0; k0 < kb1; k0 += K_STEP) {
      const int64_t g = k0 / args->group_k;  // a group holds whole K steps
      QK_UNROLL for (int y = 0; y < NV * PER_PANEL; ++y) {
        const typename Decoder::Params params = Decoder::load(args, g, n + V::LANES * y);
        const typename V::I packed = Decoder::load_packed(
            panels + (y / PER_PANEL) * panel_stride + k0 * PANEL_BYTES_PER_K, y % PER_PANEL);
        QK_UNROLL for (int t = 0; t < K_STEP; ++t) {
          float* to = block + (k0 - kb0 + t) * 16 * NV + V::LANES * y;
          if constexpr (Decoder::SCALE_AFTER_SUM)
            V::store(to, V::mul(Decoder::value(packed, params, t), params.scale));
          else
            V::store(to, Decoder::decode(packed, params, t));
        }
      }
    }
  }

  /// The tile of `rows` (1..MR) rows from m over one block of dequantized weights: fp32 FMAs
  /// only. Its sums start at zero on the first K block, else from `partial` ([MR][16 * C.nv]),
  /// and go back there unless this is the last K block, which runs the epilogue.
  template <int MR, int NV>
  static void buffered_tile(const QkCpuGemmArgs* args, int64_t m, int64_t rows, int64_t n,
                            int64_t n_end, const BlockRefs& b, float* partial) {
    const float* a[MR];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      const int64_t row = m + (r < rows ? r : rows - 1);
      a[r] = reinterpret_cast<const float*>(args->a_codes) + row * args->k_padded;
    }
    constexpr int NY = NV * PER_PANEL;  // vectors of LANES columns per row
    F acc[MR][NY];
    QK_UNROLL for (int r = 0; r < MR; ++r) {
      QK_UNROLL for (int y = 0; y < NY; ++y) acc[r][y] =
          b.first_k ? V::zero() : V::load(partial + r * 16 * C.nv + V::LANES * y);
    }
    const float* w = b.weights;
    for (int64_t k = b.kb0; k < b.kb1; ++k, w += 16 * NV) {
      F wv[NY];
      QK_UNROLL for (int y = 0; y < NY; ++y) wv[y] = V::load(w + V::LANES * y);
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        const F x = V::set1(a[r][k]);
        QK_UNROLL for (int y = 0; y < NY; ++y) acc[r][y] = V::fmadd(x, wv[y], acc[r][y]);
      }
    }
    if (!b.last_k) {
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        QK_UNROLL for (int y = 0; y < NY; ++y)
            V::store(partial + r * 16 * C.nv + V::LANES * y, acc[r][y]);
      }
      return;
    }
    epilogue<MR, NY>(args, m, rows, n, n_end, acc);
  }

  /// docs/numerics.md §7: y = act(acc + bias), converted and stored (a_scale is 1). NY vectors
  /// of LANES columns per row.
  template <int MR, int NY>
  __attribute__((always_inline)) static void epilogue(const QkCpuGemmArgs* args, int64_t m,
                                                      int64_t rows, int64_t n, int64_t n_end,
                                                      F (&acc)[MR][NY]) {
    QK_UNROLL for (int y = 0; y < NY; ++y) {
      const int64_t col = n + V::LANES * y;
      if (col >= n_end) break;  // AVX2: the second half of the last 16-column panel
      const typename V::Mask mask = V::first(n_end - col);
      F bias = V::zero();
      if constexpr (C.bias) bias = V::load(args->bias + col, mask);
      QK_UNROLL for (int r = 0; r < MR; ++r) {
        if (r >= rows) break;  // the repeated rows of a partial tile
        finish_row<C.bias, C.act, C.output, C.isa>(args, m + r, col, acc[r][y], bias, mask);
      }
    }
  }
};

/// Each family's name for the kernel over its config (codegen names these).
template <W8A16Config C>
using W8A16Kernel = WeightOnlyKernel<C>;
template <W4A16Config C>
using W4A16Kernel = WeightOnlyKernel<C>;
template <WFp8A16Config C>
using WFp8A16Kernel = WeightOnlyKernel<C>;
template <FloatConfig C>
using FloatKernel = WeightOnlyKernel<C>;

}  // namespace qk::cpu
