// How a rendered CUDA kernel is launched on a problem: its grid, block and dynamic shared memory,
// and the preconditions of its arguments. Shared by the cuda target's launcher (cuLaunchKernel)
// and by cuda-emu, so that the part only a GPU can run is as small as possible.
#pragma once

#include <cstddef>
#include <cstdint>

#include "codegen/render_cuda.hpp"
#include "qk/error.hpp"
#include "templates/cuda/abi.h"

namespace qk::runtime {

struct CudaLaunchGeometry {
  // cuda::grid_dims (templates/cuda/gemm_grid.cuh): RASTER 1 (tiles along N, tiles along M up
  // to 65535, SPLIT_K times the folds of the tile rows past 65535); RASTER > 1 (every tile in
  // raster order, 1, SPLIT_K).
  unsigned grid_x = 0;
  unsigned grid_y = 1;
  unsigned grid_z = 1;
  unsigned block_x = 0;               ///< threads per block
  unsigned smem_bytes = 0;            ///< dynamic shared memory per block
  std::uint64_t workspace_bytes = 0;  ///< args.workspace needed: gemm_workspace_bytes()
};

/// Bytes of the workspace a launch of `spec`'s kernel on Y[m, n] needs (QkCudaGemmArgs::workspace:
/// split-K's partial sums and one arrival counter per output tile, templates/cuda/gemm_grid.cuh);
/// 0 without split-K. The counters are its last 4 · tiles bytes; they must be zero before the
/// first launch and every launch leaves them so. @pre m, n >= 1
std::uint64_t gemm_workspace_bytes(const codegen::CudaKernelSpec& spec, std::int64_t m,
                                   std::int64_t n);

/// The launch of `kernel` (rendered from `spec`) for Y[m, n] = A[m, k] · W[n, k]ᵀ.
/// Errors (Errc::invalid_argument) name the dimension, its value and the limit: m, n >= 1; k a
/// positive multiple of 16 (every row of A and W starts 16-byte aligned, which cp.async needs)
/// and of the weights' group size (int4);
/// m, n, k below 2^31 (the kernels index with int); the output tiles, ceil(m / BLOCK_M) ·
/// ceil(n / BLOCK_N), below 2^31 (the kernels number them with int; gridDim.y's 65535 does not
/// bound M: tile rows past it fold into z).
Expected<CudaLaunchGeometry> launch_geometry(const codegen::CudaKernelSpec& spec,
                                             const codegen::RenderedCudaKernel& kernel,
                                             std::int64_t m, std::int64_t n, std::int64_t k);

/// The alignment the kernels assume: A, W and Y on 16-byte boundaries (128-bit loads and
/// cp.async of 16 bytes). Error (Errc::invalid_argument) names the pointer and its address.
Expected<void> check_alignment(const QkCudaGemmArgs& args);

/// The launch of `kernel` (rendered from `spec`) on `args`: launch_geometry() of its m, n, k and
/// check_alignment(), plus the rules of the kernel's config (codegen::operands): w_scale is
/// required unless W is fp16/bf16, and for int4 W 16-byte aligned, as are w_zero, required with
/// zero points (their rows are copied with 16-byte cp.async); a_scale is required with static
/// per-tensor scaling of a quantized A, and with A from the producer (a_scale then holds its
/// [M] scales, 4-byte aligned); bias is required when the kernel adds one and must be
/// null when it does not (a mismatch would read garbage or silently drop the bias);
/// out_inv_scale must be finite and > 0 when the kernel requantizes Y to int8; workspace must be
/// non-null and 16-byte aligned when the geometry's workspace_bytes is not 0 (its size is the
/// caller's: gemm_workspace_bytes()).
/// Errors (Errc::invalid_argument) name the argument, its value and the rule.
Expected<CudaLaunchGeometry> prepare_launch(const codegen::CudaKernelSpec& spec,
                                            const codegen::RenderedCudaKernel& kernel,
                                            const QkCudaGemmArgs& args);

/// The bytes of the producer's workspace for M rows of K: the codes [M, K] (one byte each), then,
/// at the next 16-byte boundary, the scales [M] fp32. A buffer 16-byte aligned at its start.
std::size_t quantize_workspace_bytes(std::int64_t m, std::int64_t k);

/// Where the codes and the scales lie in a workspace of quantize_workspace_bytes(m, k) bytes.
struct QuantizeWorkspace {
  void* codes = nullptr;    ///< [m, k]
  float* scales = nullptr;  ///< [m]
};
QuantizeWorkspace quantize_workspace(void* base, std::int64_t m, std::int64_t k);

/// The producer's arguments for a GEMM call `gemm` (its a, m, k) writing into `workspace`, and
/// the GEMM's arguments that consume it: a = the codes, a_scale = the scales.
QkCudaQuantizeArgs quantize_args(const QkCudaGemmArgs& gemm, const QuantizeWorkspace& workspace);
QkCudaGemmArgs consume_quantized(QkCudaGemmArgs gemm, const QuantizeWorkspace& workspace);

/// The launch of the quantize producer of `kernel` (rendered with a producer) on `args`: grid
/// (m), the producer's block and shared memory. Errors (Errc::invalid_argument) name the argument,
/// its value and the rule: the kernel has no producer; m in [1, 2^31 - 1]; k a positive multiple
/// of 16 below 2^31 (whole 16-element pieces); a and codes non-null and 16-byte aligned (128-bit
/// loads and stores); scales non-null and 4-byte aligned.
Expected<CudaLaunchGeometry> prepare_quantize_launch(const codegen::RenderedCudaKernel& kernel,
                                                     const QkCudaQuantizeArgs& args);

}  // namespace qk::runtime
