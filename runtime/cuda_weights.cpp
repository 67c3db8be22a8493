#include "runtime/cuda_weights.hpp"

#include <fmt/format.h>

#include "quant/pack_cuda.hpp"

namespace qk::runtime {

Expected<CudaHostWeights> pack_cuda_weights(const quant::QuantizedWeights& weights,
                                            const codegen::CudaOperands& ops) {
  CudaHostWeights packed{weights.n, weights.k, {}, {}, {}};
  if (ops.w_code == QuantType::int4) {
    // The order of the mma the codes feed: int8 activations take m16n8k32, 16-bit ones m16n8k16.
    auto int4 = quant::pack_cuda_int4(weights, ops.a_code == QuantType::int8
                                                   ? quant::CudaInt4Order::m16n8k32
                                                   : quant::CudaInt4Order::m16n8k16);
    if (!int4) return int4.error();
    packed.codes = std::move(int4->codes);
    packed.scales = std::move(int4->scales);
    packed.zero_points = std::move(int4->zero_points);
    return packed;
  }
  packed.codes = weights.codes;
  if (ops.w_code == QuantType::fp16 || ops.w_code == QuantType::bf16) return packed;
  packed.scales.resize(static_cast<std::size_t>(weights.n));
  for (std::int64_t n = 0; n < weights.n; ++n) packed.scales[n] = weights.scale(n, 0);
  return packed;
}

QkCudaGemmArgs gemm_args(const LayerConfig& layer, ConstMatrix a, MutableMatrix out,
                         const CudaWeightPointers& weights, const float* bias,
                         const float* activation_scale, float output_scale) {
  QkCudaGemmArgs args{};
  args.a = a.data;
  args.w = weights.codes;
  args.w_scale = weights.scales;
  args.w_zero = weights.zero_points;
  args.a_scale = activation_scale;
  args.bias = layer.epilogue.bias ? bias : nullptr;
  args.y = out.data;
  args.m = static_cast<int>(a.rows);
  args.n = static_cast<int>(layer.n);
  args.k = static_cast<int>(layer.k);
  args.out_inv_scale = layer.epilogue.output == QuantType::int8 ? 1.0f / output_scale : 0.0f;
  return args;
}

Expected<void> check_contiguous(ConstMatrix a, MutableMatrix out) {
  if (a.stride != a.cols)
    return Error{Errc::invalid_argument, "a.stride",
                 fmt::format("{}: the cuda kernels need contiguous rows (stride = k = {})",
                             a.stride, a.cols)};
  if (out.stride != out.cols)
    return Error{Errc::invalid_argument, "out.stride",
                 fmt::format("{}: the cuda kernels write contiguous rows (stride = n = {})",
                             out.stride, out.cols)};
  return {};
}

}  // namespace qk::runtime
