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
};

/// Example: render_cuda(spec).name_expression == "qk::cuda::gemm<qk_gen::qk_w8a8_…_config>".
RenderedCudaKernel render_cuda(const CudaKernelSpec& spec);

}  // namespace qk::codegen
