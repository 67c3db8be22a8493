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

/// Scratch host memory of a kernel: grown on demand, value-initialized (split-K's arrival
/// counters start at zero, and every launch leaves them so), 16-byte aligned (the producer's
/// 128-bit stores). One call at a time uses it: the caller holds `mutex` while its launch runs.
class HostWorkspace {
 public:
  std::mutex mutex;

  /// @pre mutex held
  void* get(std::uint64_t bytes) {
    if (bytes == 0) return nullptr;
    if (words_.size() < (bytes + 15) / 16) words_.assign((bytes + 15) / 16, Words{});
    return words_.data();
  }
  /// After a failed launch, whose CTAs may have left counters counting. @pre mutex held
  void reset() { words_.clear(); }

 private:
  struct alignas(16) Words {
    std::uint32_t w[4];
  };
  std::vector<Words> words_;
};

struct EmuKernel final : Kernel::Impl {
  BucketVariants<EmuKernelModule> variants;
  mutable HostWorkspace quantized_a;  // the producer's codes and scales
  mutable HostWorkspace split_k;      // split-K's partials and counters

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
    if (!kernel.producer_entry) return launch_gemm(kernel, args);
    // The producer first, into its workspace; then the GEMM reads its codes and scales.
    std::lock_guard lock(quantized_a.mutex);
    const QuantizeWorkspace ws = quantize_workspace(
        quantized_a.get(quantize_workspace_bytes(args.m, args.k)), args.m, args.k);
    const QkCudaQuantizeArgs quantize = quantize_args(args, ws);
    auto producer = prepare_quantize_launch(kernel.rendered, quantize);
    if (!producer) return producer.error();
    if (auto ran = emu::launch({{producer->grid_x, producer->grid_y, 1},
                                {producer->block_x, 1, 1},
                                producer->smem_bytes,
                                kernel.producer_entry,
                                &quantize});
        !ran)
      return ran.error();
    return launch_gemm(kernel, consume_quantized(args, ws));
  }

  Expected<void> launch_gemm(const EmuKernelModule& kernel, QkCudaGemmArgs args) const {
    std::unique_lock<std::mutex> lock;
    if (const auto bytes = gemm_workspace_bytes(kernel.spec, args.m, args.n); bytes > 0) {
      lock = std::unique_lock(split_k.mutex);
      args.workspace = split_k.get(bytes);
    }
    auto geometry = prepare_launch(kernel.spec, kernel.rendered, args);
    if (!geometry) return geometry.error();
    auto ran = emu::launch({{geometry->grid_x, geometry->grid_y, geometry->grid_z},
                            {geometry->block_x, 1, 1},
                            geometry->smem_bytes,
                            kernel.entry,
                            &args});
    if (!ran && args.workspace != nullptr) split_k.reset();
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
  return compile_cuda_emu_with_tiles(layer, options, codegen::cuda_tile_buckets(layer));
}

Expected<Kernel> compile_cuda_emu_with_tiles(const LayerConfig& layer,
                                             const CompileOptions& options,
                                             const std::vector<codegen::CudaTileBucket>& tiles) {
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
