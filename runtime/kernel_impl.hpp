// What a qk::Kernel and qk::PackedWeights are inside: one implementation per target
// (cpu_kernel.cpp, emu_kernel.cpp) behind the checks every target shares (kernel.cpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "cache/kernel_cache.hpp"
#include "codegen/cuda_tile.hpp"
#include "qk/jit.hpp"
#include "runtime/module_supply.hpp"

namespace qk {

struct PackedWeights::Impl {
  Target target;
  std::int64_t n = 0, k = 0;
  explicit Impl(Target t, std::int64_t n_, std::int64_t k_) : target(t), n(n_), k(k_) {}
  virtual ~Impl() = default;
};

struct Kernel::Impl {
  LayerConfig layer;
  explicit Impl(LayerConfig l) : layer(std::move(l)) {}
  virtual ~Impl() = default;
  virtual Target target() const = 0;
  /// The canonical name of the instance a call with `m` rows runs.
  virtual const std::string& name(std::int64_t m) const = 0;
  /// Packs weights whose shape and format kernel.cpp checked against the layer.
  virtual Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const = 0;
  /// Runs a call whose arguments kernel.cpp checked against the layer: dtypes, shapes, strides at
  /// least the row length, bias and scales present, weights packed for this target and shape.
  virtual Expected<void> run(ConstMatrix a, const PackedWeights::Impl& weights, MutableMatrix out,
                             const RunParams& params) const = 0;
};

namespace runtime {

/// Counts a supplied kernel in qk::jit::stats().
void count_supply(Supply supply);

/// The process's KernelCache of `path` (one per file, shared by every compile()).
Expected<cache::KernelCache*> open_cache(const std::filesystem::path& path);

/// compile() for each target: cpu (cpu_kernel.cpp), cuda-emu (emu_kernel.cpp) and cuda
/// (cuda_kernel.cpp). @pre validate_layer(layer) is empty
Expected<Kernel> compile_cpu(const LayerConfig& layer, const CompileOptions& options);
Expected<Kernel> compile_cuda_emu(const LayerConfig& layer, const CompileOptions& options);
Expected<Kernel> compile_cuda(const LayerConfig& layer, const CompileOptions& options);

/// compile_cuda_emu with the given tiles instead of the default ones (codegen::cuda_tile_buckets):
/// how the tests run tiles no bucket defaults to. @pre tiles ascending by max_m, not empty, the
/// last one's max_m unbounded or past every call's M
Expected<Kernel> compile_cuda_emu_tiles(const LayerConfig& layer,
                                        const std::vector<codegen::CudaTileBucket>& tiles,
                                        const CompileOptions& options);

}  // namespace runtime
}  // namespace qk
