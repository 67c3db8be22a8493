// The arguments of the CUDA kernels: plain C, shared by the device templates and the host code
// that will launch them (the launch itself is not written yet; docs/cuda.md).
#pragma once

#ifdef __CUDACC_RTC__
typedef signed char int8_t;
#else
#include <stdint.h>
#endif

/// W8A8 GEMM: Y[M, N] = epilogue((float(Σ_k qa[m, k] · W[n, k]) · w_scale[n]) · a_scale[m]).
/// Preconditions the launcher checks: K a positive multiple of 16 (every row of A and W starts
/// on a 16-byte boundary, which cp.async needs); A, W, Y 16-byte aligned; M, N >= 1.
typedef struct QkCudaW8A8Args {
  const void* a;         ///< [M, K] row-major, fp16 or bf16 bits (the config's INPUT)
  const int8_t* w;       ///< [N, K] row-major int8 (K contiguous): the canonical layout
  const float* w_scale;  ///< [N] per channel (a per-tensor scale broadcast by the packing)
  const float* a_scale;  ///< [1] static per-tensor scale; unused with dynamic per-token
  const float* bias;     ///< [N] fp32, or null when the config has no bias
  void* y;               ///< [M, N] row-major, fp16 or bf16 bits (the config's OUTPUT)
  int m;                 ///< rows of A and Y (tokens)
  int n;                 ///< rows of W, columns of Y (out-features)
  int k;                 ///< the reduction dimension (in-features)
} QkCudaW8A8Args;
