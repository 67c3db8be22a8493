#include "runtime/cuda_prebuild.hpp"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include <fmt/format.h>

#include "codegen/m_buckets.hpp"

namespace qk::runtime {

Expected<std::vector<codegen::CudaArch>> parse_cuda_archs(std::string_view text) {
  std::vector<codegen::CudaArch> out;
  std::size_t position = 0;
  for (std::string_view rest = text;;) {
    const std::size_t comma = std::min(rest.find(','), rest.size());
    const std::string_view item = rest.substr(0, comma);
    ++position;
    const auto arch = from_string<codegen::CudaArch>(item);
    if (!arch)
      return Error{Errc::invalid_argument, "--arch",
                   fmt::format("item {} is '{}', not an arch qk compiles for; allowed: {}",
                               position, item, allowed_names<codegen::CudaArch>())};
    if (std::find(out.begin(), out.end(), *arch) != out.end())
      return Error{Errc::invalid_argument, "--arch",
                   fmt::format("item {} ('{}') is listed twice", position, item)};
    out.push_back(*arch);
    if (comma == rest.size()) return out;
    rest = rest.substr(comma + 1);
  }
}

std::string layer_label(const Plan& plan, std::size_t layer) {
  const std::string& name = plan.layers[layer].name;
  return name.empty() ? fmt::format("layers[{}]", layer)
                      : fmt::format("layers[{}] ({})", layer, name);
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
    std::vector<codegen::CudaArch> refused;
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
          refused.push_back(arch);
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
    if (refused.size() == archs.size()) {
      list.skipped.push_back({i, refusal});
    } else if (!refused.empty()) {
      std::string names;
      for (const codegen::CudaArch a : refused)
        names += (names.empty() ? "" : ", ") + std::string(to_string(a));
      list.skipped.push_back({i, fmt::format("on {} only: {}", names, refusal)});
    }
  }
  return list;
}

std::vector<std::vector<std::size_t>> layers_with_same_kernels(const CudaBuildList& list) {
  using Need = std::tuple<codegen::CudaArch, std::size_t, std::int64_t, std::int64_t>;
  std::map<std::size_t, std::vector<Need>> needs;  // by layer, in use order
  for (const CudaBuildUse& u : list.uses)
    needs[u.layer].emplace_back(u.arch, u.job, u.m_min, u.m_max);
  std::map<std::vector<Need>, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (const auto& [layer, need] : needs) {
    const auto [it, added] = group_of.try_emplace(need, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(layer);
  }
  return groups;
}

std::vector<Expected<CudaCubin>> run_cuda_build(
    const CudaBackend& backend, cache::KernelCache* cache,
    std::span<const codegen::CudaKernelSpec> jobs, int threads,
    const std::function<void(std::size_t, const Expected<CudaCubin>&)>& on_done) {
  std::vector<Expected<CudaCubin>> results(jobs.size(),
                                           Error{Errc::invalid_argument, "", "not run"});
  std::atomic<std::size_t> next{0};
  std::mutex report;
  auto work = [&] {
    for (std::size_t job; (job = next++) < jobs.size();) {
      Expected<CudaCubin> result = backend.cubin(jobs[job], cache);
      std::lock_guard lock(report);
      results[job] = std::move(result);
      if (on_done) on_done(job, results[job]);
    }
  };
  const int workers =
      std::clamp<int>(threads, 1, static_cast<int>(std::max<std::size_t>(1, jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();  // the calling thread is one of the workers
  for (std::thread& t : pool) t.join();
  return results;
}

}  // namespace qk::runtime
