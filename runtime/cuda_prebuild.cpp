#include "runtime/cuda_prebuild.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "codegen/m_buckets.hpp"

namespace qk::runtime {

Expected<std::vector<codegen::CudaArch>> parse_cuda_archs(std::string_view text) {
  std::vector<std::string_view> names;
  for (const auto& [arch, name] : EnumNames<codegen::CudaArch>::table) names.push_back(name);
  auto items = parse_list(text, "--arch", "an arch qk compiles for", names);
  if (!items) return items.error();
  std::vector<codegen::CudaArch> out;
  for (const std::string& item : *items) out.push_back(*from_string<codegen::CudaArch>(item));
  return out;
}

Expected<CudaBuildList> cuda_build_list(const Plan& plan,
                                        std::span<const codegen::CudaArch> archs) {
  CudaBuildList list;
  std::map<std::string, std::size_t> job_of_name;
  for (std::size_t i = 0; i < plan.layers.size(); ++i) {
    const LayerConfig& layer = plan.layers[i];
    const auto family = family_of(layer.weight_quant, layer.activation_quant);
    if (!family) {
      list.skipped.push_back(
          {i, fmt::format("weights {} with activations {} form no GEMM family",
                          to_string(layer.weight_quant), to_string(layer.activation_quant))});
      continue;
    }
    const std::vector<codegen::CudaTileBucket> tiles =
        codegen::default_cuda_tiles(*family, layer.activation_scaling);
    const std::vector<std::int64_t> buckets =
        codegen::buckets_in_range(codegen::m_buckets(layer.m_max), layer.m_min, layer.m_max);
    // An arch that lacks what the layer needs (fp8 before sm_89) skips the layer there only.
    std::vector<std::string> refused;
    std::string refusal;
    for (const codegen::CudaArch arch : archs) {
      std::optional<CudaBuildUse> open;  // the use being extended over consecutive buckets
      std::int64_t previous = 0;         // bucket b holds previous < M <= b
      for (const std::int64_t bucket : buckets) {
        const std::int64_t m_lo = std::max(layer.m_min, previous + 1);
        const std::int64_t m_hi = std::min(bucket, layer.m_max);
        previous = bucket;
        const auto tile = std::find_if(tiles.begin(), tiles.end(),
                                       [&](const auto& t) { return bucket <= t.max_m; });
        auto spec = codegen::cuda_kernel_spec(layer, tile->tile, arch);
        if (!spec && spec.error().code == Errc::unsupported) {
          refused.emplace_back(to_string(arch));
          if (refusal.empty()) refusal = spec.error().str();
          open.reset();
          break;
        }
        if (!spec)
          return Error{spec.error().code,
                       layer_label(plan, i) + " on " + std::string(to_string(arch)),
                       spec.error().str()};
        const auto [it, added] =
            job_of_name.try_emplace(codegen::canonical_name(*spec), list.jobs.size());
        if (added) list.jobs.push_back(*spec);
        if (open && open->job == it->second) {
          open->m_max = m_hi;
          continue;
        }
        if (open) list.uses.push_back(*open);
        open = CudaBuildUse{i, arch, it->second, m_lo, m_hi};
      }
      if (open) list.uses.push_back(*open);
    }
    if (!refused.empty()) list.skipped.push_back({i, skip_reason(refused, archs.size(), refusal)});
  }
  return list;
}

std::vector<std::vector<std::size_t>> layers_with_same_kernels(const CudaBuildList& list) {
  return layers_with_same_needs(
      std::span<const CudaBuildUse>(list.uses),
      [](const CudaBuildUse& u) { return std::tuple(u.arch, u.job, u.m_min, u.m_max); });
}

std::vector<Expected<CudaCubin>> run_cuda_build(
    const CudaBackend& backend, cache::KernelCache* cache,
    std::span<const codegen::CudaKernelSpec> jobs, int threads,
    const std::function<void(std::size_t, const Expected<CudaCubin>&)>& on_done) {
  return run_build_jobs<codegen::CudaKernelSpec, CudaCubin>(
      jobs, threads,
      [&](const codegen::CudaKernelSpec& spec) { return backend.cubin(spec, cache); }, on_done);
}

}  // namespace qk::runtime
