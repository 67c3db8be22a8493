#include "codegen/cpu_kernel_spec.hpp"

#include <array>

#include <fmt/format.h>
#include <xxhash.h>

#include "codegen/name_tags.hpp"

namespace qk::codegen {
namespace {

// Families the cpu target implements so far.
constexpr std::array<GemmFamily, 4> kCpuFamilies{GemmFamily::w8a8, GemmFamily::w4a8,
                                                 GemmFamily::w8a16, GemmFamily::w4a16};

}  // namespace

Expected<CpuKernelSpec> cpu_kernel_spec(const LayerConfig& layer, const CpuTile& tile) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  bool implemented = false;
  std::string implemented_names;
  for (GemmFamily f : kCpuFamilies) {
    implemented |= f == family;
    implemented_names += (implemented_names.empty() ? "" : ", ") + std::string(to_string(f));
  }
  if (!implemented)
    return Error{Errc::unsupported, "target cpu",
                 fmt::format("family {} ({} weights, {} activations) is not implemented for the "
                             "cpu target yet; it implements: {}",
                             to_string(family), to_string(layer.weight_quant),
                             to_string(layer.activation_quant), implemented_names)};
  if (auto ok = validate(tile, family); !ok) return ok.error();
  return CpuKernelSpec{family,
                       layer.input_dtype,
                       layer.activation_scaling,
                       layer.epilogue.bias,
                       layer.epilogue.activation,
                       layer.epilogue.output,
                       tile};
}

std::string canonical_name(const CpuKernelSpec& s) {
  return fmt::format("qk_{}_cpu_{}_{}_{}_{}_{}_{}", to_string(s.family), to_string(s.input),
                     scaling_tag(s.scaling), s.bias ? "bias" : "nobias", to_string(s.activation),
                     to_string(s.output), canonical_name(s.tile));
}

std::string spec_hash(const CpuKernelSpec& spec) {
  const std::string name = canonical_name(spec);
  return fmt::format("{:016x}", XXH3_64bits(name.data(), name.size()));
}

}  // namespace qk::codegen
