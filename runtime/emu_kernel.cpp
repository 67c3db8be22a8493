// The cuda-emu target's qk::Kernel: the CUDA kernels of templates/cuda/, one instance per M
// bucket's default tile (codegen::default_cuda_tiles), launched on the CPU by the emulator with
// the geometry a GPU launch would use (runtime/cuda_launch_geometry.hpp).
#include <algorithm>

#include <fmt/format.h>

#include "codegen/cuda_kernel_spec.hpp"
#include "codegen/m_buckets.hpp"
#include "quant/pack_cuda.hpp"
#include "runtime/bucket_variants.hpp"
#include "runtime/cuda_launch_geometry.hpp"
#include "runtime/emu_backend.hpp"
#include "runtime/emu_launch.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk::runtime {
namespace {

/// Weights as the CUDA kernels read them (templates/cuda/abi.h): int8, fp8 and fp16/bf16 in the
/// canonical [N, K] rows (numerics §5.1) with one fp32 scale per output channel (a per-tensor
/// scale repeated; none for fp16/bf16); int4 in the k32-interleaved layout of the mma it feeds,
/// with [groups][N padded] scales and zero points (quant/pack_cuda.hpp).
struct CudaPackedWeights final : PackedWeights::Impl {
  std::vector<std::uint8_t> codes;
  std::vector<float> scales;
  std::vector<float> zero_points;  ///< int4 with zero points; else empty
  CudaPackedWeights(std::int64_t n, std::int64_t k) : Impl(Target::cuda_emu, n, k) {}
};

Expected<std::shared_ptr<CudaPackedWeights>> pack_for_cuda(const quant::QuantizedWeights& weights,
                                                           const codegen::CudaOperands& ops) {
  auto packed = std::make_shared<CudaPackedWeights>(weights.n, weights.k);
  if (ops.w_code == QuantType::int4) {
    // The order of the mma the codes feed: int8 activations take m16n8k32, 16-bit ones m16n8k16.
    auto int4 = quant::pack_cuda_int4(weights, ops.a_code == QuantType::int8
                                                   ? quant::CudaInt4Order::m16n8k32
                                                   : quant::CudaInt4Order::m16n8k16);
    if (!int4) return int4.error();
    packed->codes = std::move(int4->codes);
    packed->scales = std::move(int4->scales);
    packed->zero_points = std::move(int4->zero_points);
    return packed;
  }
  packed->codes = weights.codes;
  if (ops.w_code == QuantType::fp16 || ops.w_code == QuantType::bf16) return packed;
  packed->scales.resize(static_cast<std::size_t>(weights.n));
  for (std::int64_t n = 0; n < weights.n; ++n) packed->scales[n] = weights.scale(n, 0);
  return packed;
}

struct EmuKernel final : Kernel::Impl {
  BucketVariants<EmuKernelModule> variants;

  EmuKernel(LayerConfig l, BucketVariants<EmuKernelModule> v)
      : Impl(std::move(l)), variants(std::move(v)) {}

  Target target() const override { return Target::cuda_emu; }
  const std::string& name(std::int64_t m) const override { return variants.for_m(m).name; }

  Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const override {
    // Every bucket's kernel has the layer's operands: any one says how to pack.
    auto packed = pack_for_cuda(weights, codegen::operands(variants.for_m(1).spec));
    if (!packed) return packed.error();
    return PackedWeights(std::move(*packed));
  }

  Expected<void> run(ConstMatrix a, const PackedWeights::Impl& packed, MutableMatrix out,
                     const RunParams& params) const override {
    // The kernels read rows back to back (K % 16 == 0 keeps each 16-byte aligned).
    if (a.stride != a.cols)
      return Error{Errc::invalid_argument, "a.stride",
                   fmt::format("{}: the cuda kernels need contiguous rows (stride = k = {})",
                               a.stride, a.cols)};
    if (out.stride != out.cols)
      return Error{Errc::invalid_argument, "out.stride",
                   fmt::format("{}: the cuda kernels write contiguous rows (stride = n = {})",
                               out.stride, out.cols)};
    const auto& w = static_cast<const CudaPackedWeights&>(packed);
    const EmuKernelModule& kernel = variants.for_m(a.rows);
    QkCudaGemmArgs args{};
    args.a = a.data;
    args.w = w.codes.data();
    args.w_scale = w.scales.empty() ? nullptr : w.scales.data();
    args.w_zero = w.zero_points.empty() ? nullptr : w.zero_points.data();
    args.a_scale = &params.activation_scale;
    args.bias = layer.epilogue.bias ? params.bias.data() : nullptr;
    args.y = out.data;
    args.m = static_cast<int>(a.rows);
    args.n = static_cast<int>(layer.n);
    args.k = static_cast<int>(layer.k);
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
  auto backend = EmuBackend::get();
  if (!backend) return backend.error();
  auto cache = open_cache(options.cache.value_or(cache::KernelCache::default_path()));
  if (!cache) return cache.error();
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  // The default tile of every bucket the layer's m_range reaches, adjacent equal ones merged.
  std::vector<codegen::CudaTileBucket> tiles;
  const auto defaults = codegen::default_cuda_tiles(family);
  for (std::int64_t bucket : codegen::buckets_in_range(codegen::m_buckets(layer.m_max),
                                                       layer.m_min, layer.m_max)) {
    const codegen::CudaTile& tile =
        std::find_if(defaults.begin(), defaults.end(),
                     [&](const codegen::CudaTileBucket& d) { return bucket <= d.max_m; })
            ->tile;
    if (!tiles.empty() && tiles.back().tile == tile)
      tiles.back().max_m = bucket;
    else
      tiles.push_back({bucket, tile});
  }
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
