// qk::jit::compile and qk::Kernel for the cpu target.
#include <algorithm>
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <future>
#include <limits>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "codegen/cpu_kernel_spec.hpp"
#include "qk/jit.hpp"
#include "quant/pack_cpu.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/thread_pool.hpp"
#include "runtime/tiled_compile.hpp"

namespace qk {

struct Kernel::Impl {
  /// The kernel instance for calls with M up to max_m.
  struct Variant {
    std::int64_t max_m;
    std::shared_ptr<const runtime::CpuKernelModule> module;
  };
  LayerConfig layer;
  std::vector<Variant> variants;  ///< ascending max_m; never empty
  int threads;                    ///< threads a call uses, at most the pool's

  /// The variant of the smallest bucket holding m, or the largest variant compiled (a call may
  /// exceed the layer's m_range, which is a tuning hint, not a limit).
  const runtime::CpuKernelModule& variant_for(std::int64_t m) const {
    for (const Variant& v : variants)
      if (m <= v.max_m) return *v.module;
    return *variants.back().module;
  }
};

struct PackedWeights::Impl {
  quant::CpuPackedWeights cpu;
};

namespace {

std::atomic<std::int64_t> g_memory_hits{0}, g_cache_hits{0}, g_compiles{0}, g_evicted{0};

void count(runtime::Supply supply) {
  switch (supply) {
    case runtime::Supply::memory:
      ++g_memory_hits;
      break;
    case runtime::Supply::cache:
      ++g_cache_hits;
      break;
    case runtime::Supply::compiled:
      ++g_compiles;
      break;
    case runtime::Supply::recompiled_after_eviction:
      ++g_compiles;
      ++g_evicted;
      break;
  }
}

Expected<Target> resolve_target(const CompileOptions& options) {
  if (options.target) return *options.target;
  const char* knob = std::getenv("QK_TARGET");
  if (knob == nullptr || *knob == '\0') return Target::cpu;
  if (auto t = from_string<Target>(knob)) return *t;
  return Error{Errc::invalid_argument, "QK_TARGET",
               fmt::format("\"{}\" is not one of {}", knob, allowed_names<Target>())};
}

// One KernelCache per file, shared by every compile() of the process.
Expected<cache::KernelCache*> open_cache(const std::filesystem::path& path) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::unique_ptr<cache::KernelCache>> caches;
  std::lock_guard lock(mutex);
  if (auto it = caches.find(path); it != caches.end()) return it->second.get();
  auto opened = cache::KernelCache::open(path);
  if (!opened) return opened.error();
  return (caches[path] = std::move(*opened)).get();
}

Error bad_call(std::string where, std::string message) {
  return {Errc::invalid_argument, std::move(where), std::move(message)};
}

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

}  // namespace

const LayerConfig& Kernel::layer() const {
  return impl_->layer;
}
Target Kernel::target() const {
  return Target::cpu;
}
const std::string& Kernel::name() const {
  return impl_->variants.back().module->name;
}
const std::string& Kernel::name(std::int64_t m) const {
  return impl_->variant_for(m).name;
}

Expected<PackedWeights> Kernel::pack(const quant::QuantizedWeights& weights) const {
  const LayerConfig& l = impl_->layer;
  const quant::WeightFormat expected = quant::weight_format_of(l);
  if (weights.n != l.n || weights.k != l.k || weights.format.type != expected.type ||
      weights.format.granularity != expected.granularity)
    return bad_call(
        "weights",
        fmt::format("[{}, {}] {} {} do not match the layer: [{}, {}] {} {}", weights.n, weights.k,
                    to_string(weights.format.type), to_string(weights.format.granularity), l.n, l.k,
                    to_string(expected.type), to_string(expected.granularity)));
  auto packed = quant::pack_cpu(weights);
  if (!packed) return packed.error();
  auto impl = std::make_shared<PackedWeights::Impl>();
  impl->cpu = std::move(*packed);
  return PackedWeights(std::move(impl));
}

Expected<void> Kernel::operator()(ConstMatrix a, const PackedWeights& weights, MutableMatrix out,
                                  const RunParams& params) const {
  const LayerConfig& l = impl_->layer;
  const quant::CpuPackedWeights& w = weights.impl().cpu;
  if (a.dtype != l.input_dtype)
    return bad_call("a.dtype", fmt::format("{} but the layer's input_dtype is {}",
                                           to_string(a.dtype), to_string(l.input_dtype)));
  if (a.rows < 1 || a.cols != l.k || a.stride < a.cols || a.data == nullptr)
    return bad_call("a", fmt::format("[{}, {}] with stride {}: expected [M >= 1, k = {}], stride "
                                     ">= k, non-null data",
                                     a.rows, a.cols, a.stride, l.k));
  if (out.dtype != l.epilogue.output)
    return bad_call("out.dtype", fmt::format("{} but the layer's output is {}",
                                             to_string(out.dtype), to_string(l.epilogue.output)));
  if (out.rows != a.rows || out.cols != l.n || out.stride < out.cols || out.data == nullptr)
    return bad_call("out", fmt::format("[{}, {}] with stride {}: expected [{}, n = {}], stride "
                                       ">= n, non-null data",
                                       out.rows, out.cols, out.stride, a.rows, l.n));
  if (w.n != l.n || w.k != l.k)
    return bad_call("weights",
                    fmt::format("packed for [{}, {}], the layer is [{}, {}]", w.n, w.k, l.n, l.k));
  if (l.epilogue.bias && static_cast<std::int64_t>(params.bias.size()) != l.n)
    return bad_call("params.bias",
                    fmt::format("{} elements, the layer needs n = {}", params.bias.size(), l.n));
  auto usable = [](float s) { return std::isfinite(s) && s >= FLT_MIN; };
  if (l.activation_scaling == ActivationScaling::static_per_tensor &&
      !usable(params.activation_scale))
    return bad_call("params.activation_scale",
                    fmt::format("{} must be finite and >= FLT_MIN for static_per_tensor scaling",
                                params.activation_scale));
  if (l.epilogue.output == QuantType::int8 && !usable(params.output_scale))
    return bad_call(
        "params.output_scale",
        fmt::format("{} must be finite and >= FLT_MIN for int8 outputs", params.output_scale));

  const runtime::CpuKernelModule& kernel = impl_->variant_for(a.rows);
  runtime::ThreadPool& pool = runtime::default_thread_pool();
  const codegen::CpuTile& tile = kernel.spec.tile;
  CallWorkspace& ws = call_workspace();
  // int8 codes, or fp32 activations for the weight-only and float families (weight_only.hpp).
  const bool weight_only = !accumulates_in_int32(*family_of(l.weight_quant, l.activation_quant));
  ws.a_codes.resize(static_cast<std::size_t>(a.rows * w.k_padded * (weight_only ? 4 : 1)));
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
  args.w_zero_points = w.zero_points.data();
  args.bias = l.epilogue.bias ? params.bias.data() : nullptr;
  args.a_static_scale = params.activation_scale;
  args.out_inv_scale = l.epilogue.output == QuantType::int8 ? 1.0f / params.output_scale : 0.0f;
  args.a_codes = ws.a_codes.data();
  args.a_scales = ws.a_scales.data();
  ws.group_sums.resize(static_cast<std::size_t>(a.rows * w.groups));
  args.a_group_sums = ws.group_sums.data();

  // Phase 1: quantize the activations, rows split over the threads.
  const std::int64_t threads = std::min<std::int64_t>(impl_->threads, a.rows);
  pool.run(threads, [&](std::int64_t t) {
    kernel.quantize(&args, a.rows * t / threads, a.rows * (t + 1) / threads);
  });
  // Phase 2: the GEMM, columns split over the threads in whole 16-column panels (each thread
  // streams its own weights: decode is bound by weight bandwidth, and large M by compute).
  const std::int64_t panels = round_up(l.n, 16) / 16;
  const std::int64_t column_tasks = std::min<std::int64_t>(impl_->threads, panels);
  pool.run(column_tasks, [&](std::int64_t t) {
    const std::int64_t n0 = panels * t / column_tasks * 16;
    const std::int64_t n1 = std::min(l.n, panels * (t + 1) / column_tasks * 16);
    kernel.gemm(&args, n0, n1, 0, a.rows, ws.partial_sums.data() + t * tile_sums);
  });
  return {};
}

namespace runtime {
namespace {

struct CompileContext {
  CpuBackend* backend;
  cache::KernelCache* cache;
  int threads;
};

Expected<CompileContext> prepare(const LayerConfig& layer, const CompileOptions& options) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  auto target = resolve_target(options);
  if (!target) return target.error();
  if (*target != Target::cpu)
    return Error{Errc::unsupported, "target " + std::string(to_string(*target)),
                 "not implemented yet; the cpu target is"};
  if (options.threads < 0)
    return Error{Errc::invalid_argument, "options.threads",
                 fmt::format("{} must be >= 0 (0 = every core)", options.threads)};
  auto backend = CpuBackend::get(options.cpu_level);
  if (!backend) return backend.error();
  auto cache = open_cache(options.cache.value_or(cache::KernelCache::default_path()));
  if (!cache) return cache.error();
  return CompileContext{*backend, *cache, call_threads(options)};
}

// One variant per tile, supplied concurrently (the compiler is thread-safe, and a cold layer then
// costs one compile's time, not one per bucket).
Expected<Kernel> build(const LayerConfig& layer, const CompileContext& context,
                       const std::vector<codegen::CpuTileBucket>& tiles) {
  std::vector<std::future<Expected<Kernel::Impl::Variant>>> supplies;
  for (const codegen::CpuTileBucket& b : tiles) {
    supplies.push_back(std::async(std::launch::async, [&, b]() -> Expected<Kernel::Impl::Variant> {
      auto spec = codegen::cpu_kernel_spec(layer, b.tile, context.backend->isa());
      if (!spec) return spec.error();
      Supply supply = Supply::memory;
      auto module = context.backend->kernel(*spec, context.cache, &supply);
      if (!module) return module.error();
      count(supply);
      return Kernel::Impl::Variant{b.max_m, std::move(*module)};
    }));
  }
  Kernel::Impl impl{layer, {}, context.threads};
  for (auto& s : supplies) {
    auto variant = s.get();
    if (!variant) return variant.error();
    impl.variants.push_back(std::move(*variant));
  }
  return Kernel(std::make_shared<const Kernel::Impl>(std::move(impl)));
}

}  // namespace

Expected<Kernel> compile_with_tiles(const LayerConfig& layer, const CompileOptions& options,
                                    const std::vector<codegen::CpuTileBucket>& tiles) {
  if (tiles.empty())
    return Error{Errc::invalid_argument, "tiles", "at least one tile bucket is needed"};
  auto context = prepare(layer, options);
  if (!context) return context.error();
  return build(layer, *context, tiles);
}

}  // namespace runtime

namespace jit {

Expected<Kernel> compile(const LayerConfig& layer, const CompileOptions& options) {
  auto context = runtime::prepare(layer, options);
  if (!context) return context.error();
  const runtime::TuningKeys keys = runtime::tuning_keys(layer, *context->backend, context->threads);
  // Adjacent buckets that run the same tile share one variant.
  std::vector<codegen::CpuTileBucket> tiles;
  for (const runtime::TileChoice& c : runtime::choose_tiles(
           layer, keys, options.use_tuned ? context->cache : nullptr, context->backend->isa())) {
    if (!tiles.empty() && tiles.back().tile == c.tile)
      tiles.back().max_m = c.bucket;
    else
      tiles.push_back({c.bucket, c.tile});
  }
  return runtime::build(layer, *context, tiles);
}

CompileStats stats() {
  return {g_memory_hits.load(), g_cache_hits.load(), g_compiles.load(), g_evicted.load()};
}

}  // namespace jit
}  // namespace qk
