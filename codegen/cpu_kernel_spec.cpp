#include "codegen/cpu_kernel_spec.hpp"

#include <array>

#include <fmt/format.h>
#include <xxhash.h>

#include "codegen/name_tags.hpp"

namespace qk::codegen {
namespace {

// Families the cpu target implements so far, on every ISA (avx512, amx and avx2 alike).
constexpr std::array<GemmFamily, 8> kCpuFamilies{
    GemmFamily::w8a8,    GemmFamily::w4a8, GemmFamily::w8a16, GemmFamily::w4a16,
    GemmFamily::wfp8a16, GemmFamily::fp16, GemmFamily::bf16,  GemmFamily::fp32};

template <std::size_t N>
std::string family_names(const std::array<GemmFamily, N>& families) {
  std::string names;
  for (GemmFamily f : families) names += (names.empty() ? "" : ", ") + std::string(to_string(f));
  return names;
}

template <std::size_t N>
bool implements(const std::array<GemmFamily, N>& families, GemmFamily family) {
  for (GemmFamily f : families)
    if (f == family) return true;
  return false;
}

}  // namespace

Expected<CpuKernelSpec> cpu_kernel_spec(const LayerConfig& layer, const CpuTile& tile, CpuIsa isa) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  if (!implements(kCpuFamilies, family))
    return Error{Errc::unsupported, "target cpu",
                 fmt::format("family {} ({} weights, {} activations) is not implemented for the "
                             "cpu target yet; it implements: {}",
                             to_string(family), to_string(layer.weight_quant),
                             to_string(layer.activation_quant), family_names(kCpuFamilies))};
  if (auto ok = validate(tile, family, isa); !ok) return ok.error();
  // The amx level's kernels are avx512 code; its AMX tiles are a property of the tile.
  return CpuKernelSpec{family,
                       layer.weight_quant,
                       layer.input_dtype,
                       layer.activation_scaling,
                       layer.epilogue.bias,
                       layer.epilogue.activation,
                       layer.epilogue.output,
                       tile,
                       code_isa(isa)};
}

std::string canonical_name(const CpuKernelSpec& s) {
  // wfp8a16 is the one implemented family with two weight types (fp8_e4m3, fp8_e5m2).
  const std::string family = s.family == GemmFamily::wfp8a16
                                 ? fmt::format("{}_{}", to_string(s.family), to_string(s.weight))
                                 : std::string(to_string(s.family));
  const std::string isa =
      s.isa == CpuIsa::avx512 ? std::string() : fmt::format("_{}", to_string(s.isa));
  return fmt::format("qk_{}_cpu{}_{}_{}_{}_{}_{}_{}", family, isa, to_string(s.input),
                     scaling_tag(s.scaling), s.bias ? "bias" : "nobias", to_string(s.activation),
                     to_string(s.output), canonical_name(s.tile));
}

std::string spec_hash(const CpuKernelSpec& spec) {
  const std::string name = canonical_name(spec);
  return fmt::format("{:016x}", XXH3_64bits(name.data(), name.size()));
}

}  // namespace qk::codegen
