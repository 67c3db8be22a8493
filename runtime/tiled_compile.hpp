// How qk::jit::compile chooses a tile per M bucket on the cpu target, and the entry point the
// autotuner uses to compile a layer with tiles of its choosing (docs/tuning.md, "At run time").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cache/kernel_cache.hpp"
#include "codegen/cpu_tile.hpp"
#include "qk/jit.hpp"

namespace qk::runtime {

class CpuBackend;

/// The tile a bucket of M runs, and where it came from.
struct TileChoice {
  std::int64_t bucket = 0;  ///< the bucket's upper bound of M
  codegen::CpuTile tile;
  bool tuned = false;  ///< a winner recorded for this device; else the heuristic default
};

/// What a tuning record of `layer` on `backend` is keyed by (besides the bucket).
struct TuningKeys {
  std::string workload_hash;
  std::string device_fingerprint;
  std::string template_revision;
};
TuningKeys tuning_keys(const LayerConfig& layer, const CpuBackend& backend, int threads);

/// The tile of every bucket that holds some M of the layer's m_range (the buckets of
/// codegen::m_buckets(layer.m_max) and those of the recorded winners): the winner recorded in
/// `cache` for this device and template revision, else the default tile. A winner whose tile name
/// does not parse or validate is ignored (the default is used). `cache` may be null (defaults
/// only). The tiles are those of `isa` (the backend's). @pre validate_layer(layer) is empty
std::vector<TileChoice> choose_tiles(const LayerConfig& layer, const TuningKeys& keys,
                                     cache::KernelCache* cache,
                                     codegen::CpuIsa isa = codegen::CpuIsa::avx512);

/// The threads a call uses for `options.threads` (0: every core of the pool).
int call_threads(const CompileOptions& options);

/// compile() with the given tiles: calls with M up to tiles[i].max_m run tiles[i]; calls past
/// the last bucket run the last tile. @pre tiles ascending by max_m, not empty
Expected<Kernel> compile_with_tiles(const LayerConfig& layer, const CompileOptions& options,
                                    const std::vector<codegen::CpuTileBucket>& tiles);

}  // namespace qk::runtime
