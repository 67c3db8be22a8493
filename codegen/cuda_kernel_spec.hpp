// A CUDA kernel instance as a typed value (LayerConfig x CudaTile x CudaArch -> CudaKernelSpec)
// with one canonical name, used in logs, cache keys and as the name of its config type. Like the
// CPU spec it holds only what changes generated code: the shape and the layer's name are
// run-time arguments.
#pragma once

#include <string>

#include "codegen/cuda_tile.hpp"
#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::codegen {

struct CudaKernelSpec {
  GemmFamily family = GemmFamily::w8a8;
  CudaArch arch = CudaArch::sm_80;
  QuantType input = QuantType::fp16;  ///< activations as received: fp16 or bf16
  ActivationScaling scaling = ActivationScaling::static_per_tensor;  ///< none for 16-bit A
  bool bias = false;
  Activation activation = Activation::none;
  QuantType output = QuantType::fp16;            ///< fp16, bf16 or int8 (requantized)
  int group_size = 0;                            ///< w4a16: k per weight scale group; else 0
  bool zero_points = false;                      ///< w4a16: asymmetric weights
  QuantType activation_quant = QuantType::int8;  ///< the layer's (fp8: e4m3 or e5m2 codes of A)
  CudaTile tile;

  bool operator==(const CudaKernelSpec&) const = default;
};

/// The spec of `layer` with `tile` on `arch`. Errors: the layer is invalid (validate_layer's first
/// error); the cuda target does not implement it yet (Errc::unsupported, naming the field, its
/// value and what is implemented: families w8a8, fp16, bf16, w4a16 and w4a8 (per_group), fp8
/// (e4m3 or e5m2 activations x e4m3 weights, on sm_89 and sm_90a only); fp16/bf16 input; static
/// per-tensor or dynamic per-token scaling for w8a8, w4a8 and fp8; every activation function;
/// fp16, bf16 or int8 output); the tile is invalid on `arch` for the layer's operands.
Expected<CudaKernelSpec> cuda_kernel_spec(const LayerConfig& layer, const CudaTile& tile,
                                          CudaArch arch);

/// The operand types and scales of the spec's family (what its kernel's layout depends on).
CudaOperands operands(const CudaKernelSpec& spec);

/// "qk_w8a8_sm_80_fp16_st_bias_none_fp16_128x128x64_w2x2_s3": a C identifier, unique per spec
/// (every field appears in it, the activation function and the output type by their qk names as
/// in the cpu target's names: "…_bias_gelu_tanh_int8_…"; grouped weights add their group and
/// zero points after the scaling: "qk_w4a16_sm_80_fp16_none_g128z_bias_…", fp8 its activation
/// code: "qk_fp8_sm_89_fp16_tok_e5m2_bias_…").
std::string canonical_name(const CudaKernelSpec& spec);

/// 16 hex digits (XXH3-64) of the canonical name: the spec part of a binary's cache key.
std::string spec_hash(const CudaKernelSpec& spec);

}  // namespace qk::codegen
