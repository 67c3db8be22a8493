// qk::jit::compile and qk::Kernel: the checks every target shares, then the target's own
// implementation (cpu_kernel.cpp, emu_kernel.cpp).
#include <atomic>
#include <cfloat>
#include <cmath>
#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "qk/jit.hpp"
#include "runtime/cached_pch.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk {

namespace {

std::atomic<std::int64_t> g_memory_hits{0}, g_cache_hits{0}, g_compiles{0}, g_evicted{0};

Expected<Target> resolve_target(const CompileOptions& options) {
  if (options.target) return *options.target;
  const char* knob = std::getenv("QK_TARGET");
  if (knob == nullptr || *knob == '\0') return Target::cpu;
  if (auto t = from_string<Target>(knob)) return *t;
  return Error{Errc::invalid_argument, "QK_TARGET",
               fmt::format("\"{}\" is not one of {}", knob, allowed_names<Target>())};
}

Error bad_call(std::string where, std::string message) {
  return {Errc::invalid_argument, std::move(where), std::move(message)};
}

}  // namespace

namespace runtime {

void count_supply(Supply supply) {
  switch (supply) {
    case Supply::memory:
      ++g_memory_hits;
      break;
    case Supply::cache:
      ++g_cache_hits;
      break;
    case Supply::compiled:
      ++g_compiles;
      break;
    case Supply::recompiled_after_eviction:
      ++g_compiles;
      ++g_evicted;
      break;
  }
}

Expected<cache::KernelCache*> open_cache(const std::filesystem::path& path) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::unique_ptr<cache::KernelCache>> caches;
  std::lock_guard lock(mutex);
  if (auto it = caches.find(path); it != caches.end()) return it->second.get();
  auto opened = cache::KernelCache::open(path);
  if (!opened) return opened.error();
  return (caches[path] = std::move(*opened)).get();
}

}  // namespace runtime

const LayerConfig& Kernel::layer() const {
  return impl_->layer;
}
Target Kernel::target() const {
  return impl_->target();
}
const std::string& Kernel::name() const {
  return impl_->name(std::numeric_limits<std::int64_t>::max());
}
const std::string& Kernel::name(std::int64_t m) const {
  return impl_->name(m);
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
  return impl_->pack(weights);
}

Expected<void> Kernel::operator()(ConstMatrix a, const PackedWeights& weights, MutableMatrix out,
                                  const RunParams& params) const {
  const LayerConfig& l = impl_->layer;
  const PackedWeights::Impl& w = weights.impl();
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
  if (w.target != impl_->target())
    return bad_call("weights", fmt::format("packed for the {} target; this kernel runs on {}",
                                           to_string(w.target), to_string(impl_->target())));
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
  return impl_->run(a, w, out, params);
}

namespace jit {

Expected<Kernel> compile(const LayerConfig& layer, const CompileOptions& options) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  auto target = resolve_target(options);
  if (!target) return target.error();
  switch (*target) {
    case Target::cpu:
      return runtime::compile_cpu(layer, options);
    case Target::cuda_emu:
      return runtime::compile_cuda_emu(layer, options);
    case Target::cuda:
      return runtime::compile_cuda(layer, options);
  }
  return Error{Errc::invalid_argument, "options.target", "not a target"};
}

CompileStats stats() {
  const runtime::PchCounts pch = runtime::pch_counts();
  return {g_memory_hits.load(), g_cache_hits.load(), g_compiles.load(),
          g_evicted.load(),     pch.built,           pch.reused};
}

}  // namespace jit
}  // namespace qk
