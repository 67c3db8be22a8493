// choose_tiles, tuning_keys and call_threads of runtime/tiled_compile.hpp.
#include <algorithm>

#include "codegen/cpu_search_space.hpp"
#include "codegen/m_buckets.hpp"
#include "codegen/workload.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/cpu_device.hpp"
#include "runtime/thread_pool.hpp"
#include "runtime/tiled_compile.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {

TuningKeys tuning_keys(const LayerConfig& layer, const CpuBackend& backend, int threads) {
  return {codegen::workload_of(layer, "cpu").hash,
          cpu_device_fingerprint(backend.target(), threads),
          std::string(templates::revision("cpu"))};
}

int call_threads(const CompileOptions& options) {
  const int cores = default_thread_pool().size();
  return options.threads == 0 ? cores : std::min(options.threads, cores);
}

std::vector<TileChoice> choose_tiles(const LayerConfig& layer, const TuningKeys& keys,
                                     cache::KernelCache* cache, codegen::CpuIsa isa) {
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  std::vector<cache::WinnerRecord> winners;
  if (cache) {
    // A cache whose records cannot be read is not fatal: the defaults are correct, only slower.
    auto found =
        cache->find_winners(keys.workload_hash, keys.device_fingerprint, keys.template_revision);
    if (found) winners = std::move(*found);
  }
  // The default buckets, and any other a tune was asked to record (qk-tune --buckets).
  std::vector<std::int64_t> buckets = codegen::m_buckets(layer.m_max);
  for (const cache::WinnerRecord& w : winners) buckets.push_back(w.bucket);
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  std::vector<TileChoice> choices;
  for (std::int64_t bucket : codegen::buckets_in_range(buckets, layer.m_min, layer.m_max)) {
    TileChoice choice{bucket, codegen::default_cpu_tile(family, bucket, isa), false};
    for (const cache::WinnerRecord& w : winners) {
      if (w.bucket != bucket) continue;
      if (auto tile = codegen::parse_cpu_tile(w.config_name, family, isa)) {
        choice.tile = *tile;
        choice.tuned = true;
      }
    }
    choices.push_back(choice);
  }
  return choices;
}

}  // namespace qk::runtime
