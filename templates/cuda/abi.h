// The arguments of the CUDA kernels: plain C, shared by the device templates and the host code
// that will launch them (runtime/cuda_launcher.*; docs/cuda.md).
#pragma once

/// The arguments of every GEMM family (templates/cuda/gemm.cuh): one plain struct, so that the
/// launcher and cuda-emu handle each family alike. Y[M, N] = epilogue(op(A) · op(W)ᵀ).
/// Preconditions the launcher checks: K a positive multiple of 16 (every row of A and W starts
/// on a 16-byte boundary, which cp.async needs) and of GROUP_SIZE for int4 W; A, W, Y and the
/// int4 scales and zero points 16-byte aligned; M, N >= 1; the workspace of split-K kernels.
typedef struct QkCudaGemmArgs {
  const void* a;         ///< [M, K] row-major, fp16 or bf16 bits (the config's INPUT); with
                         ///< A_QUANT = producer the codes quantize_rows wrote (1 byte each)
  const void* w;         ///< [N, K] row-major (K contiguous): int8 or fp16/bf16 bits; int4:
                         ///< [N, K / 2] bytes in the k32-interleaved layout (quant/pack_cuda.hpp)
  const float* w_scale;  ///< int8 W: [N] per channel (a per-tensor scale broadcast by the
                         ///< packing); int4: [K / GROUP_SIZE, N rounded up to 4] per group;
                         ///< null for fp16/bf16 W
  const float* w_zero;   ///< int4 with zero points: [K / GROUP_SIZE, N rounded up to 4] fp32
                         ///< (0..15); null otherwise
  const float* a_scale;  ///< static per-tensor scaling: [1], the scale; dynamic per-token with
                         ///< A_QUANT = producer: [M], the producer's scales (with a = its
                         ///< codes); unused otherwise (the in-CTA pre-pass computes its own)
  const float* bias;     ///< [N] fp32, or null when the config has no bias
  void* y;               ///< [M, N] row-major, fp16 or bf16 bits or int8 (the config's OUTPUT)
  int m;                 ///< rows of A and Y (tokens)
  int n;                 ///< rows of W, columns of Y (out-features)
  int k;                 ///< the reduction dimension (in-features)
  float out_inv_scale;   ///< int8 Y: 1 / the static output scale (one IEEE division, numerics
                         ///< §2.3), finite and > 0; unused for fp16/bf16 Y
  void* workspace;       ///< SPLIT_K > 1: scratch of split_workspace_bytes(tiles, SPLIT_K,
                         ///< BLOCK_M, BLOCK_N) bytes (cuda/gemm_grid.cuh: the slices' partial
                         ///< sums, then one uint32 arrival counter per output tile), 16-byte
                         ///< aligned, counters zero before the first launch (the kernel leaves
                         ///< them zero); one launch at a time may use it. Null otherwise
} QkCudaGemmArgs;

/// The arguments of the per-token quantize producer (templates/cuda/quantize_rows.cuh), which
/// makes the A of a GEMM built with A_QUANT = producer. Preconditions the launcher checks: M >= 1;
/// K a positive multiple of 16; a and codes 16-byte aligned (128-bit loads and stores).
typedef struct QkCudaQuantizeArgs {
  const void* a;  ///< [M, K] row-major, fp16 or bf16 bits (the config's INPUT)
  void* codes;    ///< [M, K] row-major out: int8 or fp8 codes (the config's A_CODE)
  float* scales;  ///< [M] out: each row's scale, numerics §2.2
  int m;          ///< rows (tokens)
  int k;          ///< elements per row
} QkCudaQuantizeArgs;
