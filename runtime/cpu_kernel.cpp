// The cpu target's qk::Kernel: one loaded instance per M bucket's tile, run on the thread pool;
// and compile() for it (runtime/tiled_compile.hpp).
#include <algorithm>

#include <fmt/format.h>

#include "codegen/cpu_kernel_spec.hpp"
#include "quant/pack_cpu.hpp"
#include "runtime/bucket_variants.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/kernel_impl.hpp"
#include "runtime/thread_pool.hpp"
#include "runtime/tiled_compile.hpp"

namespace qk::runtime {
namespace {

struct CpuPackedWeights final : PackedWeights::Impl {
  quant::CpuPackedWeights cpu;
  explicit CpuPackedWeights(quant::CpuPackedWeights w)
      : Impl(Target::cpu, w.n, w.k), cpu(std::move(w)) {}
};

// Calls of up to kDecodeRows rows split their columns into kDecodeTasksPerThread tasks per
// thread (run() below).
constexpr std::int64_t kDecodeRows = 4;
constexpr std::int64_t kDecodeTasksPerThread = 8;

std::int64_t round_up(std::int64_t x, std::int64_t step) {
  return (x + step - 1) / step * step;
}

// Workspace of one call: the quantized activations (read by every thread) and, per thread, the
// int32 partial sums between K blocks. Reused by the calling thread across calls.
struct CallWorkspace {
  std::vector<std::uint8_t> a_codes;
  std::vector<float> a_scales;
  std::vector<std::int32_t> group_sums;    // w4a8: [m][groups] activation code sums
  std::vector<std::int32_t> partial_sums;  // threads x mc x nc
};
CallWorkspace& call_workspace() {
  thread_local CallWorkspace workspace;
  return workspace;
}

struct CpuKernel final : Kernel::Impl {
  BucketVariants<CpuKernelModule> variants;
  int threads;  ///< threads a call uses, at most the pool's

  CpuKernel(LayerConfig l, BucketVariants<CpuKernelModule> v, int t)
      : Impl(std::move(l)), variants(std::move(v)), threads(t) {}

  Target target() const override { return Target::cpu; }
  const std::string& name(std::int64_t m) const override { return variants.for_m(m).name; }

  Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const override {
    auto packed = quant::pack_cpu(weights);
    if (!packed) return packed.error();
    return PackedWeights(std::make_shared<const CpuPackedWeights>(std::move(*packed)));
  }

  Expected<void> run(ConstMatrix a, const PackedWeights::Impl& packed, MutableMatrix out,
                     const RunParams& params) const override {
    const LayerConfig& l = layer;
    const quant::CpuPackedWeights& w = static_cast<const CpuPackedWeights&>(packed).cpu;
    const CpuKernelModule& kernel = variants.for_m(a.rows);
    ThreadPool& pool = default_thread_pool();
    const codegen::CpuTile& tile = kernel.spec.tile;
    CallWorkspace& ws = call_workspace();
    // int8 codes, or fp32 activations for the weight-only and float families (weight_only.hpp).
    const bool weight_only = !accumulates_in_int32(*family_of(l.weight_quant, l.activation_quant));
    // AMX tiles read the codes as whole 16-row tiles of 64-k blocks (CodeLayout::amx_tiles in
    // templates/cpu/quantize_rows.hpp), rows and K rounded up to those.
    const std::int64_t code_bytes = tile.amx ? round_up(a.rows, 16) * round_up(w.k_padded, 64)
                                             : a.rows * w.k_padded * (weight_only ? 4 : 1);
    ws.a_codes.resize(static_cast<std::size_t>(code_bytes));
    ws.a_scales.resize(static_cast<std::size_t>(a.rows));
    const std::int64_t tile_sums = static_cast<std::int64_t>(tile.mc) * tile.nc;
    ws.partial_sums.resize(static_cast<std::size_t>(pool.size() * tile_sums));

    QkCpuGemmArgs args{};
    args.m = a.rows;
    args.n = l.n;
    args.k = l.k;
    args.a = a.data;
    args.lda = a.stride;
    args.out = out.data;
    args.ldo = out.stride;
    args.packed_w = w.panels.data();
    args.k_padded = w.k_padded;
    args.w_scales = w.scales.data();
    args.group_k = w.group_k;
    args.groups = w.groups;
    args.w_compensation = w.compensation.data();
    // int4 kernels read no zero points when they are all 8 (templates/cpu/abi.h): decode is
    // bound by the bytes it reads, and W4A16's decodes symmetric codes with one operation less.
    const bool int4 = l.weight_quant == QuantType::int4;
    args.w_zero_points = int4 && l.weight_symmetric ? nullptr : w.zero_points.data();
    args.bias = l.epilogue.bias ? params.bias.data() : nullptr;
    args.a_static_scale = params.activation_scale;
    args.out_inv_scale = l.epilogue.output == QuantType::int8 ? 1.0f / params.output_scale : 0.0f;
    args.a_codes = ws.a_codes.data();
    args.a_scales = ws.a_scales.data();
    ws.group_sums.resize(static_cast<std::size_t>(a.rows * w.groups));
    args.a_group_sums = ws.group_sums.data();

    // Phase 1: quantize the activations, rows split over the threads.
    const std::int64_t row_tasks = std::min<std::int64_t>(threads, a.rows);
    pool.run(row_tasks, [&](std::int64_t t, int) {
      kernel.quantize(&args, a.rows * t / row_tasks, a.rows * (t + 1) / row_tasks);
    });
    // Phase 2: the GEMM, columns split over the threads in whole 16-column panels (each thread
    // streams its own weights: decode is bound by weight bandwidth, and large M by compute).
    // Decode (a few rows) takes a few hundred microseconds, of the order of the time a sleeping
    // worker needs to wake: with one task per thread the caller finished its half and waited
    // for the worker's. Smaller tasks let the caller take more of them meanwhile.
    const std::int64_t panels = round_up(l.n, 16) / 16;
    const std::int64_t tasks_per_thread = a.rows <= kDecodeRows ? kDecodeTasksPerThread : 1;
    const std::int64_t column_tasks = std::min<std::int64_t>(threads * tasks_per_thread, panels);
    // The workspace is per thread (slot): decode's tasks outnumber the threads.
    pool.run(column_tasks, [&](std::int64_t t, int slot) {
      const std::int64_t n0 = panels * t / column_tasks * 16;
      const std::int64_t n1 = std::min(l.n, panels * (t + 1) / column_tasks * 16);
      kernel.gemm(&args, n0, n1, 0, a.rows, ws.partial_sums.data() + slot * tile_sums);
    });
    return {};
  }
};

struct CompileContext {
  CpuBackend* backend;
  cache::KernelCache* cache;
  int threads;
};

Expected<CompileContext> prepare(const CompileOptions& options) {
  if (options.threads < 0)
    return Error{Errc::invalid_argument, "options.threads",
                 fmt::format("{} must be >= 0 (0 = every core)", options.threads)};
  auto backend = CpuBackend::get(options.cpu_level);
  if (!backend) return backend.error();
  auto cache = open_cache(options.cache.value_or(cache::KernelCache::default_path()));
  if (!cache) return cache.error();
  return CompileContext{*backend, *cache, call_threads(options)};
}

Expected<Kernel> build(const LayerConfig& layer, const CompileContext& context,
                       const std::vector<codegen::CpuTileBucket>& tiles) {
  auto variants = BucketVariants<CpuKernelModule>::supply_all(
      tiles, [&](const codegen::CpuTileBucket& b) -> Expected<std::shared_ptr<const CpuKernelModule>> {
        auto spec = codegen::cpu_kernel_spec(layer, b.tile, context.backend->isa());
        if (!spec) return spec.error();
        Supply supply = Supply::memory;
        auto module = context.backend->kernel(*spec, context.cache, &supply);
        if (module) count_supply(supply);
        return module;
      });
  if (!variants) return variants.error();
  return Kernel(std::make_shared<const CpuKernel>(layer, std::move(*variants), context.threads));
}

}  // namespace

Expected<Kernel> compile_with_tiles(const LayerConfig& layer, const CompileOptions& options,
                                    const std::vector<codegen::CpuTileBucket>& tiles) {
  if (tiles.empty())
    return Error{Errc::invalid_argument, "tiles", "at least one tile bucket is needed"};
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  if (options.target && *options.target != Target::cpu)
    return Error{Errc::invalid_argument, "options.target",
                 fmt::format("{}: tiles of the cpu target", to_string(*options.target))};
  auto context = prepare(options);
  if (!context) return context.error();
  return build(layer, *context, tiles);
}

Expected<Kernel> compile_cpu(const LayerConfig& layer, const CompileOptions& options) {
  auto context = prepare(options);
  if (!context) return context.error();
  const TuningKeys keys = tuning_keys(layer, *context->backend, context->threads);
  // Adjacent buckets that run the same tile share one variant.
  std::vector<codegen::CpuTileBucket> tiles;
  for (const TileChoice& c : choose_tiles(layer, keys, options.use_tuned ? context->cache : nullptr,
                                          context->backend->isa())) {
    if (!tiles.empty() && tiles.back().tile == c.tile)
      tiles.back().max_m = c.bucket;
    else
      tiles.push_back({c.bucket, c.tile});
  }
  return build(layer, *context, tiles);
}

}  // namespace qk::runtime
