// The cuda-emu target's qk::Kernel: the CUDA kernels of templates/cuda/, one instance per M
// bucket's default tile (codegen::default_cuda_tiles), launched on the CPU by the emulator with
// the geometry a GPU launch would use (runtime/cuda_launch_geometry.hpp).
#include <algorithm>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "codegen/cuda_kernel_spec.hpp"
#include "codegen/m_buckets.hpp"
#include "runtime/bucket_variants.hpp"
#include "runtime/cuda_launch_geometry.hpp"
#include "runtime/cuda_weights.hpp"
#include "runtime/emu_backend.hpp"
#include "runtime/emu_launch.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk::runtime {
namespace {

struct EmuPackedWeights final : PackedWeights::Impl {
  CudaHostWeights host;
  explicit EmuPackedWeights(CudaHostWeights w)
      : Impl(Target::cuda_emu, w.n, w.k), host(std::move(w)) {}
};

/// Split-K kernels' workspace in host memory: grown on demand, value-initialized (so its arrival
/// counters start at zero, and every launch leaves them so), 16-byte aligned.
class HostWorkspace {
 public:
  void* get(std::uint64_t bytes) {
    if (bytes == 0) return nullptr;
    if (words_.size() < (bytes + 15) / 16) words_.assign((bytes + 15) / 16, Words{});
    return words_.data();
  }
  /// After a failed launch, whose CTAs may have left counters counting.
  void reset() { words_.clear(); }

 private:
  struct alignas(16) Words {
    std::uint32_t w[4];
  };
  std::vector<Words> words_;
};

struct EmuKernel final : Kernel::Impl {
  BucketVariants<EmuKernelModule> variants;
  // One launch at a time uses the workspace: a call holds the mutex while its launch runs.
  mutable std::mutex workspace_mutex;
  mutable HostWorkspace workspace;

  EmuKernel(LayerConfig l, BucketVariants<EmuKernelModule> v)
      : Impl(std::move(l)), variants(std::move(v)) {}

  Target target() const override { return Target::cuda_emu; }
  const std::string& name(std::int64_t m) const override { return variants.for_m(m).name; }

  Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const override {
    // Every bucket's kernel has the layer's operands: any one says how to pack.
    auto packed = pack_cuda_weights(weights, codegen::operands(variants.for_m(1).spec));
    if (!packed) return packed.error();
    return PackedWeights(std::make_shared<const EmuPackedWeights>(std::move(*packed)));
  }

  Expected<void> run(ConstMatrix a, const PackedWeights::Impl& packed, MutableMatrix out,
                     const RunParams& params) const override {
    if (auto contiguous = check_contiguous(a, out); !contiguous) return contiguous.error();
    const CudaHostWeights& w = static_cast<const EmuPackedWeights&>(packed).host;
    const EmuKernelModule& kernel = variants.for_m(a.rows);
    QkCudaGemmArgs args =
        gemm_args(layer, a, out,
                  {w.codes.data(), nullptr_if_empty(w.scales), nullptr_if_empty(w.zero_points)},
                  params.bias.data(), &params.activation_scale, params.output_scale);
    std::unique_lock<std::mutex> lock;
    if (const auto bytes = gemm_workspace_bytes(kernel.spec, a.rows, layer.n); bytes > 0) {
      lock = std::unique_lock(workspace_mutex);
      args.workspace = workspace.get(bytes);
    }
    auto geometry = prepare_launch(kernel.spec, kernel.rendered, args);
    if (!geometry) return geometry.error();
    auto ran = emu::launch({{geometry->grid_x, geometry->grid_y, geometry->grid_z},
                            {geometry->block_x, 1, 1},
                            geometry->smem_bytes,
                            kernel.entry,
                            &args});
    if (!ran && args.workspace != nullptr) workspace.reset();
    return ran;
  }
};

/// The spec of `layer` with `tile` on the first architecture that runs it: cuda-emu executes the
/// kernels' source, whose meaning does not depend on the architecture it is compiled for.
Expected<codegen::CudaKernelSpec> emulated_spec(const LayerConfig& layer,
                                                const codegen::CudaTile& tile) {
  Expected<codegen::CudaKernelSpec> spec = Error{Errc::unsupported, "arch", "no architecture"};
  for (codegen::CudaArch arch : codegen::kCudaArchs)
    if ((spec = codegen::cuda_kernel_spec(layer, tile, arch))) return spec;
  return spec;
}

}  // namespace

Expected<Kernel> compile_cuda_emu(const LayerConfig& layer, const CompileOptions& options) {
  return compile_cuda_emu_tiles(layer, codegen::cuda_tile_buckets(layer), options);
}

Expected<Kernel> compile_cuda_emu_tiles(const LayerConfig& layer,
                                        const std::vector<codegen::CudaTileBucket>& tiles,
                                        const CompileOptions& options) {
  auto backend = EmuBackend::get();
  if (!backend) return backend.error();
  auto cache = open_cache(options.cache.value_or(cache::KernelCache::default_path()));
  if (!cache) return cache.error();
  auto variants = BucketVariants<EmuKernelModule>::supply_all(
      tiles,
      [&](const codegen::CudaTileBucket& b) -> Expected<std::shared_ptr<const EmuKernelModule>> {
        auto spec = emulated_spec(layer, b.tile);
        if (!spec) return spec.error();
        Supply supply = Supply::memory;
        auto module = (*backend)->kernel(*spec, *cache, &supply);
        if (module) count_supply(supply);
        return module;
      });
  if (!variants) return variants.error();
  return Kernel(std::make_shared<const EmuKernel>(layer, std::move(*variants)));
}

}  // namespace qk::runtime
