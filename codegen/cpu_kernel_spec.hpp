// A CPU kernel instance as a typed value (LayerConfig x CpuTile -> CpuKernelSpec) with one
// canonical name, used as its symbol prefix, in logs and in cache keys. The spec holds only what
// changes generated code: the shape (n, k) and the layer's name are run-time arguments.
#pragma once

#include <string>

#include "codegen/cpu_tile.hpp"
#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::codegen {

struct CpuKernelSpec {
  GemmFamily family = GemmFamily::w8a8;
  QuantType weight = QuantType::int8;  ///< weights as stored (in the name where the family has two)
  QuantType input = QuantType::fp32;   ///< activations as received
  ActivationScaling scaling = ActivationScaling::dynamic_per_token;
  bool bias = false;
  Activation activation = Activation::none;
  QuantType output = QuantType::fp32;
  CpuTile tile;
  CpuIsa isa = CpuIsa::avx512;  ///< the instruction set of the generated code: avx512 or avx2

  bool operator==(const CpuKernelSpec&) const = default;
};

/// The spec of `layer` with `tile` on `isa` (on amx, an avx512 spec whose tile may be an AMX
/// one). Errors: the layer is invalid (validate_layer's first error), the cpu target does not
/// implement the layer's family (Errc::unsupported, naming the family and the families it does
/// implement: every ISA implements the same ones), or the tile is invalid for the family on
/// `isa`.
Expected<CpuKernelSpec> cpu_kernel_spec(const LayerConfig& layer, const CpuTile& tile,
                                        CpuIsa isa = CpuIsa::avx512);

/// "qk_w8a8_cpu_fp32_tok_bias_gelu_fp16_mr8_nv3_kc512_mc96_nc768": a C identifier, unique per
/// spec (every field appears in it; the weight type after the family, "qk_wfp8a16_fp8_e5m2_cpu_…",
/// only when the family does not imply it; the ISA after "cpu", "qk_w8a8_cpu_avx2_…", unless it
/// is avx512, whose names predate the tag).
std::string canonical_name(const CpuKernelSpec& spec);

/// 16 hex digits (XXH3-64) of the canonical name: the spec part of a binary's cache key.
std::string spec_hash(const CpuKernelSpec& spec);

}  // namespace qk::codegen
