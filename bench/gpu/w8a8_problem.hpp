// The W8A8 problems qk-gpu-check runs on a device: every variant the cuda target implements, host
// data with its reference (docs/numerics.md), and the operands on the device.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/weights.hpp"
#include "runtime/cuda_launcher.hpp"

namespace qk::bench::gpu {

/// Every W8A8 layer config the cuda target implements (docs/cuda.md): input fp16/bf16 x static
/// per-tensor / dynamic per-token scaling x bias or not x output fp16/bf16, 16 in all. Each is a
/// valid layer of a nominal 4096 x 4096 shape (kernels do not depend on it; problems set their
/// own).
std::vector<LayerConfig> w8a8_cuda_variants();

/// "fp16 tok +bias ->bf16": a variant in tables.
std::string variant_label(const LayerConfig& layer);

/// One problem on the host: Y[m, n] of `layer` (its n and k set).
struct HostProblem {
  LayerConfig layer;
  std::int64_t m = 0;
  std::vector<float> a;  ///< [m, k], each value representable in the layer's input dtype
  quant::QuantizedWeights weights;
  std::vector<float> bias;  ///< [n], zeros when the layer has none
  float static_scale = 0;   ///< the activation scale of static per-tensor scaling
};

/// Random activations (with outlier channels, as in the CPU kernels' tests), weights and bias.
Expected<HostProblem> random_problem(const LayerConfig& variant, std::int64_t m, std::int64_t n,
                                     std::int64_t k, unsigned seed);

/// `base` as a problem of `variant` (the same data; its scaling, bias and output), without
/// generating the data again: the timing grid's large shapes take seconds to generate.
/// @pre variant.input_dtype == base.layer.input_dtype and base has a bias when variant does
HostProblem as_variant(const HostProblem& base, const LayerConfig& variant);

/// Small integers whose products and sums are exact in every float type on the way (|y| <= 256,
/// within bf16's integer range), with every scale exactly 1: the output then equals the int32
/// accumulator (plus the integer bias), so comparing it for equality checks the integer part of
/// the kernel exactly. @pre k >= 32
Expected<HostProblem> exact_problem(const LayerConfig& variant, std::int64_t m, std::int64_t n,
                                    std::int64_t k);

/// The reference of `rows` of the problem (docs/numerics.md): y rows in that order.
Expected<quant::GemmReference> reference_rows(const HostProblem& p,
                                              const std::vector<std::int64_t>& rows);

/// One problem's operands on a device, in the layouts of templates/cuda/abi.h.
struct DeviceOperands {
  runtime::DeviceBuffer a, w, w_scale, a_scale, bias, y;
};

Expected<DeviceOperands> upload(const runtime::CudaDevice& device, const HostProblem& p);

/// The kernel arguments of `ops` (bias null when the layer has none).
QkCudaGemmArgs w8a8_args(const DeviceOperands& ops, const HostProblem& p);

/// Rows `rows` of Y, as floats holding the stored fp16/bf16 values (as GemmReference::y).
Expected<std::vector<float>> download_rows(const DeviceOperands& ops, const HostProblem& p,
                                           const std::vector<std::int64_t>& rows);

}  // namespace qk::bench::gpu
