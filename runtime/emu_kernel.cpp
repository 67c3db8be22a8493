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

/// The quantize producer's output between its launch and the GEMM's (codes, then scales:
/// quantize_workspace), owned by the kernel, grown on demand; one call uses it at a time.
struct EmuQuantizeWorkspace {
  struct alignas(16) Piece {
    std::uint8_t bytes[16];
  };
  std::mutex mutex;
  std::vector<Piece> pieces;  // 16-byte aligned, as the codes' 128-bit stores need

  /// @pre mutex held
  void* reserve(std::size_t bytes) {
    if (pieces.size() * sizeof(Piece) < bytes) pieces.resize((bytes + 15) / 16);
    return pieces.data();
  }
};

struct EmuKernel final : Kernel::Impl {
  BucketVariants<EmuKernelModule> variants;
  mutable EmuQuantizeWorkspace workspace;

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
    const QkCudaGemmArgs args =
        gemm_args(layer, a, out,
                  {w.codes.data(), nullptr_if_empty(w.scales), nullptr_if_empty(w.zero_points)},
                  params.bias.data(), &params.activation_scale, params.output_scale);
    if (!kernel.producer_entry) return launch_gemm(kernel, args);
    // The producer first, into the workspace; then the GEMM reads its codes and scales.
    std::lock_guard lock(workspace.mutex);
    const QuantizeWorkspace ws = quantize_workspace(
        workspace.reserve(quantize_workspace_bytes(args.m, args.k)), args.m, args.k);
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

  static Expected<void> launch_gemm(const EmuKernelModule& kernel, const QkCudaGemmArgs& args) {
    auto geometry = prepare_launch(kernel.spec, kernel.rendered, args);
    if (!geometry) return geometry.error();
    return emu::launch({{geometry->grid_x, geometry->grid_y, 1},
                        {geometry->block_x, 1, 1},
                        geometry->smem_bytes,
                        kernel.entry,
                        &args});
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
