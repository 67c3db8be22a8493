// The fp32 baseline: OpenBLAS's sgemm on the layer's shape, the work a float model does.
#pragma once

#include <string>

#include "bench/gemm_bench.hpp"

namespace qk::bench {

/// Y[m, n] = A[m, k] · W[n, k]ᵀ with cblas_sgemm (row-major A, transposed fp32 weights stored
/// [n, k] like a PyTorch Linear), on `context.threads` OpenBLAS threads. Rotation as for every
/// competitor; the output of rows 0 and m - 1 is checked against a double-precision reference
/// within the fp32 tolerance of numerics §8 ((k + 2) · 2^-24 · Σ|a·w|).
/// Errors: allocation failures; the check failing (Errc::unsupported).
Expected<PreparedRun> prepare_openblas_sgemm(const GemmShape& shape,
                                             const CompetitorContext& context);

/// OpenBLAS's version, configuration and the kernel set (core) it picked for this CPU.
std::string openblas_version();

}  // namespace qk::bench
