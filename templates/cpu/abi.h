// The call interface between qk's runtime and a JIT-compiled CPU GEMM kernel. Plain C layout:
// both sides include this header, the runtime compiled by g++, the kernel by the in-process clang.
//
// A kernel module exports two extern "C" functions, named by codegen (<kernel>_quantize and
// <kernel>_gemm), each working on a slice so that the runtime can spread them over threads:
//   void <kernel>_quantize(const QkCpuGemmArgs* args, int64_t row_begin, int64_t row_end);
//   void <kernel>_gemm(const QkCpuGemmArgs* args, int64_t n_begin, int64_t n_end,
//                      int64_t m_begin, int64_t m_end, int32_t* workspace);
// _quantize runs first over all rows (activation quantization, docs/numerics.md §6.1), then _gemm
// over disjoint output blocks. n_begin is a multiple of 16 (the panel width of the packed weights).
#ifndef QK_TEMPLATES_CPU_ABI_H
#define QK_TEMPLATES_CPU_ABI_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct QkCpuGemmArgs {
  int64_t m, n, k;
  const void* a;  // [m, k] activations in the layer's input dtype, row stride lda elements
  int64_t lda;
  void* out;  // [m, n] in the layer's output dtype, row stride ldo elements
  int64_t ldo;

  // Packed weights (quant/pack_cpu.hpp): 16-column panels; 4 k per 64 bytes for int8 and fp8, 8 k
  // per 64 bytes for int4 (low nibbles k0..3, high nibbles k4..7), 2 for fp16/bf16, 1 for fp32.
  const void* packed_w;
  int64_t k_padded;               // K rounded up to the packing's K step (see the line above)
  int64_t group_k;                // K of one scale group (k_padded when there is one group)
  int64_t groups;                 // scale groups along K (1 unless per-group: w4a8, w8a16, w4a16)
  const float* w_scales;          // [groups][n_padded] (per-tensor broadcast); float: none
  const int32_t* w_compensation;  // int8: [n_padded] 128 * sum_k w[n, k], for the u8 offset
  const int32_t* w_zero_points;   // int4: [groups][n_padded] zero points, or null when every
                                  // zero point is 8 (symmetric weights), so that decode reads
                                  // none of them
  const float* bias;              // [n] or null

  float a_static_scale;  // static_per_tensor activation scaling
  float out_inv_scale;   // 1 / output scale, for int8 outputs

  // Workspace written by _quantize and read by _gemm.
  uint8_t* a_codes;  // [m, k_padded] quantized activations: u8 = s8 + 128 (w8a8), s8 (w4a8);
                     // weight-only and float families: the activations as fp32 (4 bytes
                     // each), zero-padded
  float* a_scales;   // [m] activation scales (one per row even when per-tensor); 1 if weight-only
  int32_t* a_group_sums;  // w4a8: [m][groups] sums of each row's s8 codes per scale group
} QkCpuGemmArgs;

typedef void (*QkCpuQuantizeFn)(const QkCpuGemmArgs*, int64_t, int64_t);
typedef void (*QkCpuGemmFn)(const QkCpuGemmArgs*, int64_t, int64_t, int64_t, int64_t, int32_t*);

#ifdef __cplusplus
}
#endif

#endif  // QK_TEMPLATES_CPU_ABI_H
