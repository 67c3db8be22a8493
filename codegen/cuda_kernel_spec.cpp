#include "codegen/cuda_kernel_spec.hpp"

#include <fmt/format.h>
#include <xxhash.h>

#include "codegen/name_tags.hpp"

namespace qk::codegen {

namespace {

constexpr std::string_view kFamilies = "w8a8, fp16, bf16, w4a16, fp8, w4a8";

bool implemented(GemmFamily f) {
  return f == GemmFamily::w8a8 || f == GemmFamily::fp16 || f == GemmFamily::bf16 ||
         f == GemmFamily::w4a16 || f == GemmFamily::fp8 || f == GemmFamily::w4a8;
}

bool int4_weights(GemmFamily f) {
  return f == GemmFamily::w4a16 || f == GemmFamily::w4a8;
}

/// "_e4m3" / "_e5m2" for fp8 kernels, "" otherwise: A's code in the name.
std::string_view activation_tag(const CudaKernelSpec& s) {
  if (s.family != GemmFamily::fp8) return "";
  return s.activation_quant == QuantType::fp8_e5m2 ? "_e5m2" : "_e4m3";
}

}  // namespace

Expected<CudaKernelSpec> cuda_kernel_spec(const LayerConfig& layer, const CudaTile& tile,
                                          CudaArch arch) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  auto unsupported = [](std::string field, std::string_view value, std::string_view implemented) {
    return Error{Errc::unsupported, "target cuda",
                 fmt::format("{} {} is not implemented for the "
                             "cuda target yet; it implements {}",
                             field, value, implemented)};
  };
  if (!implemented(family)) return unsupported("family", to_string(family), kFamilies);
  if (layer.input_dtype != QuantType::fp16 && layer.input_dtype != QuantType::bf16)
    return unsupported("input_dtype", to_string(layer.input_dtype), "fp16, bf16");
  // Float families take activation_scaling none (validate_layer); quantized ones a scale.
  if (layer.activation_scaling == ActivationScaling::dynamic_per_tensor)
    return unsupported("activation_scaling", to_string(layer.activation_scaling),
                       "static_per_tensor, dynamic_per_token (none for fp16/bf16 activations)");
  // fp8 mma exists from sm_89 (Ada) on; ptxas rejects it for sm_80/sm_86.
  if (family == GemmFamily::fp8 && arch != CudaArch::sm_89 && arch != CudaArch::sm_90a)
    return Error{Errc::unsupported, "target cuda",
                 fmt::format("family fp8 needs the fp8 tensor cores of sm_89 or sm_90a; {} has "
                             "none (mma.sync .e4m3/.e5m2 requires sm_89)",
                             to_string(arch))};
  if (family == GemmFamily::fp8 && layer.weight_quant != QuantType::fp8_e4m3)
    return unsupported("weight_quant", to_string(layer.weight_quant), "fp8_e4m3 for fp8");
  // int4 scales are applied per group of K (in the dequant, or to the group's int32 sums).
  if (int4_weights(family) && layer.weight_granularity != WeightGranularity::per_group)
    return unsupported("weight_granularity", to_string(layer.weight_granularity),
                       fmt::format("per_group for {}", to_string(family)));
  // Every activation function is implemented (templates/cuda/epilogue.cuh); fp32 Y is not.
  if (layer.epilogue.output != QuantType::fp16 && layer.epilogue.output != QuantType::bf16 &&
      layer.epilogue.output != QuantType::int8)
    return unsupported("epilogue.output", to_string(layer.epilogue.output), "fp16, bf16, int8");
  CudaKernelSpec spec{family,
                      arch,
                      layer.input_dtype,
                      layer.activation_scaling,
                      layer.epilogue.bias,
                      layer.epilogue.activation,
                      layer.epilogue.output,
                      int4_weights(family) ? layer.block_size : 0,
                      int4_weights(family) && !layer.weight_symmetric,
                      layer.activation_quant,
                      tile};
  if (auto ok = validate(tile, operands(spec), arch); !ok) return ok.error();
  return spec;
}

CudaOperands operands(const CudaKernelSpec& s) {
  switch (s.family) {
    case GemmFamily::fp16:
    case GemmFamily::bf16:
      return {s.input, s.input, s.scaling};
    case GemmFamily::w4a16:
      return {s.input, QuantType::int4, s.scaling, s.group_size, s.zero_points};
    case GemmFamily::fp8:
      return {s.activation_quant, QuantType::fp8_e4m3, s.scaling};
    case GemmFamily::w4a8:
      return {QuantType::int8, QuantType::int4, s.scaling, s.group_size, s.zero_points};
    default:  // w8a8
      return {QuantType::int8, QuantType::int8, s.scaling};
  }
}

std::string canonical_name(const CudaKernelSpec& s) {
  return fmt::format("qk_{}_{}_{}_{}{}{}_{}_{}_{}_{}", to_string(s.family), to_string(s.arch),
                     to_string(s.input), scaling_tag(s.scaling), activation_tag(s),
                     weight_group_tag(s.group_size, s.zero_points), s.bias ? "bias" : "nobias",
                     to_string(s.activation), to_string(s.output), canonical_name(s.tile));
}

std::string spec_hash(const CudaKernelSpec& spec) {
  const std::string name = canonical_name(spec);
  return fmt::format("{:016x}", XXH3_64bits(name.data(), name.size()));
}

}  // namespace qk::codegen
