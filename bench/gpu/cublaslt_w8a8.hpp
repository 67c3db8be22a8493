// The baseline qk-gpu-check times qk's fused W8A8 kernel against: the same work from cuBLASLt's
// int8 GEMM and two helper kernels, all three timed, as docs/bench.md does for oneDNN:
//   1. quantize: fp16/bf16 activations -> int8 codes and scales (per token or static), one block
//      per row, with the rules of docs/numerics.md §2-§3 (qk's own kernel's rules);
//   2. cublasLtMatmul: int8 x int8 -> int32 (CUBLAS_COMPUTE_32I, the "TN" layout of its IMMA
//      kernels), the algorithm cuBLASLt's heuristic ranks first;
//   3. dequantize: y = convert((float(acc) * w_scale[n]) * a_scale[m] + bias[n]) (§6.2, §7).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "bench/gpu/w8a8_problem.hpp"
#include "codegen/cuda_tile.hpp"
#include "runtime/cuda_launcher.hpp"
#include "runtime/nvrtc_compiler.hpp"

namespace qk::bench::gpu {

/// The helper kernels' CUDA source (extern "C" qk_bench_quantize and qk_bench_dequantize), for
/// NVRTC with cuda_template_config() (it includes "cuda/ptx.cuh" for the conversions).
std::string helper_kernels_source();

/// Compiles the helper kernels for `arch`: what `qk-gpu-check --compile-only` checks without a GPU.
Expected<runtime::CompiledCubin> compile_helper_kernels(const runtime::NvrtcCompiler& nvrtc,
                                                        codegen::CudaArch arch);

class CublasLtW8A8 {
 public:
  /// Loads the helper kernels on `device` and creates a cuBLASLt handle.
  static Expected<std::unique_ptr<CublasLtW8A8>> create(const runtime::CudaDevice& device,
                                                        const runtime::NvrtcCompiler& nvrtc);
  ~CublasLtW8A8();

  /// Scratch buffers and the matmul algorithm for `p`'s shape. Errors: cuBLASLt has no int8
  /// algorithm for it (it needs n and k multiples of 4), or the driver's.
  Expected<void> prepare(const HostProblem& p);

  /// Enqueues the three steps on `ops` (which hold `p`, as prepared).
  Expected<void> run(const DeviceOperands& ops, const HostProblem& p) const;

 private:
  struct Impl;
  explicit CublasLtW8A8(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qk::bench::gpu
