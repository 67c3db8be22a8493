#include "runtime/cpu_prebuild.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "codegen/workload.hpp"
#include "runtime/cpu_device.hpp"
#include "runtime/tiled_compile.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

/// The devices of `backend`'s level with winners of `layer` in `listings` (this qk's templates,
/// intact): the tuning keys compile() on each of them uses, after those of a device with none.
std::vector<TuningKeys> devices_of_level(const LayerConfig& layer, const CpuBackend& backend,
                                         const std::vector<cache::WinnerListing>& listings) {
  const std::string workload = codegen::workload_of(layer, "cpu").hash;
  const std::string revision(templates::revision("cpu"));
  std::set<std::string> fingerprints;
  for (const cache::WinnerListing& l : listings)
    if (l.checksum_ok && l.winner.workload_hash == workload &&
        l.winner.template_revision == revision &&
        fingerprint_of_code_target(l.winner.device_fingerprint, backend.target()))
      fingerprints.insert(l.winner.device_fingerprint);
  std::vector<TuningKeys> out{{workload, "", revision}};
  for (const std::string& f : fingerprints) out.push_back({workload, f, revision});
  return out;
}

}  // namespace

Expected<std::vector<std::string>> parse_cpu_levels(std::string_view text) {
  static constexpr std::string_view kLevels[] = {"avx512", "avx2", "amx"};
  return parse_list(text, "--cpu-level", "a portable cpu level", kLevels);
}

Expected<CpuBuildList> cpu_build_list(const Plan& plan, std::span<const CpuBackend* const> backends,
                                      cache::KernelCache* cache) {
  std::vector<cache::WinnerListing> listings;
  if (cache) {
    // Winners that cannot be read are not fatal: the defaults are what such a machine runs.
    if (auto found = cache->list_winners()) listings = std::move(*found);
  }
  CpuBuildList list;
  std::map<std::pair<std::size_t, std::string>, std::size_t> job_of;  // (level, name) -> job
  for (std::size_t i = 0; i < plan.layers.size(); ++i) {
    const LayerConfig& layer = plan.layers[i];
    if (!family_of(layer.weight_quant, layer.activation_quant)) {
      list.skipped.push_back(
          {i, fmt::format("weights {} with activations {} form no GEMM family",
                          to_string(layer.weight_quant), to_string(layer.activation_quant))});
      continue;
    }
    std::vector<std::string> refused;
    std::string refusal;
    for (std::size_t level = 0; level < backends.size(); ++level) {
      const CpuBackend& backend = *backends[level];
      // Each bucket's tiles, the default first: those of every device of this level.
      std::map<std::int64_t, std::vector<TileChoice>> tiles_of_bucket;
      for (const TuningKeys& keys : devices_of_level(layer, backend, listings))
        for (const TileChoice& c : choose_tiles(
                 layer, keys, keys.device_fingerprint.empty() ? nullptr : cache, backend.isa())) {
          auto& tiles = tiles_of_bucket[c.bucket];
          if (std::none_of(tiles.begin(), tiles.end(),
                           [&](const TileChoice& t) { return t.tile == c.tile; }))
            tiles.push_back(c);
        }
      std::vector<CpuBuildUse> uses;
      std::map<std::size_t, std::size_t> open;  // job -> its use, reaching the previous bucket
      std::int64_t previous = 0;                // bucket b holds previous < M <= b
      bool unsupported = false;  // the cpu target does not implement the layer (at this level)
      for (const auto& [bucket, tiles] : tiles_of_bucket) {
        const std::int64_t m_lo = std::max(layer.m_min, previous + 1);
        const std::int64_t m_hi = std::min(bucket, layer.m_max);
        previous = bucket;
        std::map<std::size_t, std::size_t> still_open;
        for (const TileChoice& c : tiles) {
          auto spec = codegen::cpu_kernel_spec(layer, c.tile, backend.isa());
          if (!spec && spec.error().code == Errc::unsupported) {
            if (refusal.empty()) refusal = spec.error().str();
            unsupported = true;
            break;
          }
          if (!spec)
            return Error{spec.error().code, layer_label(plan, i) + " at " + backend.level(),
                         spec.error().str()};
          const auto [it, added] =
              job_of.try_emplace({level, codegen::canonical_name(*spec)}, list.jobs.size());
          if (added) list.jobs.push_back({level, *spec});
          if (auto o = open.find(it->second); o != open.end()) {
            uses[o->second].m_max = m_hi;
            still_open.insert(*o);
          } else {
            still_open[it->second] = uses.size();
            uses.push_back({i, level, it->second, m_lo, m_hi, c.tuned});
          }
        }
        if (unsupported) break;
        open = std::move(still_open);
      }
      if (unsupported) {
        refused.push_back(backend.level());
        continue;
      }
      std::stable_sort(uses.begin(), uses.end(),
                       [](const auto& a, const auto& b) { return a.m_min < b.m_min; });
      list.uses.insert(list.uses.end(), uses.begin(), uses.end());
    }
    if (!refused.empty())
      list.skipped.push_back({i, skip_reason(refused, backends.size(), refusal)});
  }
  return list;
}

std::vector<std::vector<std::size_t>> layers_with_same_kernels(const CpuBuildList& list) {
  return layers_with_same_needs(std::span<const CpuBuildUse>(list.uses), [](const CpuBuildUse& u) {
    return std::tuple(u.level, u.job, u.m_min, u.m_max);
  });
}

std::vector<Expected<CpuBackend::StoredObject>> run_cpu_build(
    std::span<const CpuBackend* const> backends, cache::KernelCache& cache,
    std::span<const CpuBuildJob> jobs, int threads,
    const std::function<void(std::size_t, const Expected<CpuBackend::StoredObject>&)>& on_done) {
  return run_build_jobs<CpuBuildJob, CpuBackend::StoredObject>(
      jobs, threads,
      [&](const CpuBuildJob& job) { return backends[job.level]->compile_into(job.spec, cache); },
      on_done);
}

}  // namespace qk::runtime
