// What the cuda targets (cuda, cuda-emu) share about a call besides the launch: the weights as
// the kernels read them, and the kernel arguments of a call.
#pragma once

#include <cstdint>
#include <vector>

#include "codegen/cuda_tile.hpp"
#include "qk/error.hpp"
#include "qk/jit.hpp"
#include "quant/weights.hpp"
#include "templates/cuda/abi.h"

namespace qk::runtime {

/// Weights as the CUDA kernels read them (templates/cuda/abi.h), in host memory: int8, fp8 and
/// fp16/bf16 in the canonical [N, K] rows (numerics §5.1) with one fp32 scale per output channel
/// (a per-tensor scale repeated; none for fp16/bf16); int4 in the k32-interleaved layout of the
/// mma it feeds, with [groups][N padded] scales and zero points (quant/pack_cuda.hpp).
struct CudaHostWeights {
  std::int64_t n = 0, k = 0;
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;       ///< empty for fp16/bf16 weights
  std::vector<float> zero_points;  ///< int4 with zero points; else empty
};

/// Packs `weights` for kernels with operands `ops`. Errors: quant::pack_cuda_int4's.
Expected<CudaHostWeights> pack_cuda_weights(const quant::QuantizedWeights& weights,
                                            const codegen::CudaOperands& ops);

/// The weights' part of the kernel arguments, wherever the weights live.
struct CudaWeightPointers {
  const void* codes;
  const float* scales;       ///< null when there are none
  const float* zero_points;  ///< null when there are none
};

template <class T>
const T* nullptr_if_empty(const std::vector<T>& v) {
  return v.empty() ? nullptr : v.data();
}

/// The arguments of a call of `layer`'s kernel (what Kernel::operator() checked, with the
/// pointers of the memory the kernel runs on). int8 outputs get out_inv_scale =
/// 1 / output_scale (numerics §2.3: one IEEE division, once per call); others 0.
QkCudaGemmArgs gemm_args(const LayerConfig& layer, ConstMatrix a, MutableMatrix out,
                         const CudaWeightPointers& weights, const float* bias,
                         const float* activation_scale, float output_scale);

/// The kernels read and write rows back to back. Error (Errc::invalid_argument) names the matrix
/// whose stride is not its row length.
Expected<void> check_contiguous(ConstMatrix a, MutableMatrix out);

}  // namespace qk::runtime
