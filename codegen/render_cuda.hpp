// Renders a CUDA kernel spec into CUDA C++ for NVRTC: one config type handed to the generic
// kernel template (templates/cuda/gemm.cuh), and the name expression NVRTC lowers to the kernel's
// mangled name (jitify style: the kernel stays a template, no extern "C" wrapper). Only values
// codegen produced itself (enum names from its tables, integers) appear in the source.
#pragma once

#include <string>

#include "codegen/cuda_kernel_spec.hpp"

namespace qk::codegen {

struct RenderedCudaKernel {
  std::string name;             ///< canonical_name(spec)
  std::string source;           ///< the translation unit to compile
  std::string name_expression;  ///< "qk::cuda::gemm<qk_gen::<name>_config>"
  int threads = 0;              ///< block size
  int smem_bytes = 0;           ///< dynamic shared memory per block
  int min_blocks = 0;           ///< CTAs per SM the registers must allow (__launch_bounds__)
  /// The tile's a_quant is producer: the quantize kernel launched before the GEMM, compiled into
  /// the same cubin from the same config (templates/cuda/quantize_rows.cuh); else all empty/0.
  struct Producer {
    std::string name_expression;  ///< "qk::cuda::quantize_rows<qk_gen::<name>_config>"
    int threads = 0;              ///< block size (a CTA per row)
    int smem_bytes = 0;           ///< dynamic shared memory per block
  } producer;

  bool has_producer() const { return !producer.name_expression.empty(); }
};

/// Example: render_cuda(spec).name_expression == "qk::cuda::gemm<qk_gen::qk_w8a8_…_config>".
RenderedCudaKernel render_cuda(const CudaKernelSpec& spec);

/// The producer's block size and shared memory: templates/cuda/quantize_rows.cuh, QuantizeRows
/// (the rendered source static_asserts both).
inline constexpr int kQuantizeRowsThreads = 128;
inline constexpr int kQuantizeRowsSmemBytes = 4 * kQuantizeRowsThreads / 32;

}  // namespace qk::codegen
