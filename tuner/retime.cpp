#include "tuner/retime.hpp"

#include <algorithm>
#include <limits>

#include "cache/kernel_cache.hpp"
#include "codegen/cpu_search_space.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/cpu_device.hpp"
#include "runtime/tiled_compile.hpp"
#include "templates/embedded.hpp"
#include "tuner/search.hpp"
#include "tuner/tuning_problem.hpp"
#include "tuner/workload_layer.hpp"

namespace qk::tuner {
namespace {

/// Compiles `tile` for `layer` as the only variant (every M runs it).
Expected<Kernel> compile_tile(const LayerConfig& layer, const codegen::CpuTile& tile,
                              const TuneSettings& settings) {
  return runtime::compile_with_tiles(
      layer,
      {.cache = settings.cache, .cpu_level = settings.cpu_level, .threads = settings.threads},
      {{std::numeric_limits<std::int64_t>::max(), tile}});
}

/// Measures the winner and the default of `r` side by side; fills r's times and verdict.
Expected<void> retime(RetimeResult& r, const TuneSettings& settings, codegen::CpuIsa isa) {
  auto layer = layer_of_workload(r.workload_json);
  if (!layer) return layer.error();
  const GemmFamily family = *family_of(layer->weight_quant, layer->activation_quant);
  auto winner_tile = codegen::parse_cpu_tile(r.stored.config_name, family, isa);
  if (!winner_tile) return winner_tile.error();
  auto default_tile = codegen::parse_cpu_tile(r.stored.default_config, family, isa);
  if (!default_tile) return default_tile.error();
  auto winner = compile_tile(*layer, *winner_tile, settings);
  if (!winner) return winner.error();
  auto fallback = compile_tile(*layer, *default_tile, settings);
  if (!fallback) return fallback.error();
  auto weights = LayerWeights::create(*fallback, 0x9e3779b97f4a7c15ULL);
  if (!weights) return weights.error();
  auto problem = TuningProblem::create(*layer, *weights, r.stored.bucket, 0x51ed270b);
  if (!problem) return problem.error();
  if (auto ok = problem->check(*winner); !ok) return ok.error();
  if (auto ok = problem->check(*fallback); !ok) return ok.error();

  // Side by side, alternating run by run: a change of the host's speed hits both. They share
  // the problem's copies: even ones for the default, odd ones for the winner.
  const std::vector<Measurement> m =
      measure_interleaved({[&](std::size_t run) { problem->run(*fallback, 2 * run); },
                           [&](std::size_t run) { problem->run(*winner, 2 * run + 1); }},
                          settings.full);
  SearchResult result;
  for (std::size_t i = 0; i < m.size(); ++i)
    result.finals.emplace_back(i, Score{m[i].median_ns, m[i].p75_ns - m[i].p25_ns});
  const std::vector<std::string> names{r.stored.default_config, r.stored.config_name};
  const Decision d = decide(result, names, 0);
  r.default_ns = result.finals[0].second.median_ns;
  r.winner_ns = result.finals[1].second.median_ns;
  r.confirmed = d.replaced_default;
  return {};
}

}  // namespace

Expected<std::vector<RetimeResult>> retime_winners(const TuneSettings& settings,
                                                   std::size_t top_k) {
  auto backend = runtime::CpuBackend::get(settings.cpu_level);
  if (!backend) return backend.error();
  auto cache = cache::KernelCache::open(settings.cache);
  if (!cache) return cache.error();
  const std::string device = runtime::cpu_device_fingerprint(
      (*backend)->target(), runtime::call_threads({.threads = settings.threads}));
  const std::string revision(templates::revision("cpu"));
  auto listed = (*cache)->list_winners();
  if (!listed) return listed.error();

  std::vector<RetimeResult> candidates;
  for (const cache::WinnerListing& l : *listed) {
    const cache::WinnerRecord& w = l.winner;
    if (l.checksum_ok && w.device_fingerprint == device && w.template_revision == revision &&
        w.config_name != w.default_config)
      candidates.push_back({w, l.workload_json, {}, {}, false, {}});
  }
  auto claimed = [](const RetimeResult& r) {
    return r.stored.median_ns > 0 ? r.stored.default_median_ns / r.stored.median_ns : 0.0;
  };
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](const auto& a, const auto& b) { return claimed(a) > claimed(b); });
  if (candidates.size() > top_k) candidates.resize(top_k);

  for (RetimeResult& r : candidates) {
    if (auto ok = retime(r, settings, (*backend)->isa()); !ok) r.problem = ok.error().str();
    if (r.confirmed) continue;
    // Not confirmed (slower here, or it could not be compiled or checked): the default takes
    // the bucket, with its time just measured where there is one.
    cache::WinnerRecord replacement = r.stored;
    const double default_ns = r.default_ns.value_or(r.stored.default_median_ns);
    replacement.config_name = r.stored.default_config;
    replacement.median_ns = default_ns > 0 ? default_ns : r.stored.median_ns;
    replacement.spread_ns = 0;
    replacement.default_median_ns = replacement.median_ns;
    replacement.decided_unix = 0;
    if (auto stored = (*cache)->store_winner(replacement); !stored) return stored.error();
  }
  return candidates;
}

}  // namespace qk::tuner
