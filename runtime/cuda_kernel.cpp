// The cuda target's qk::Kernel: each M bucket's cubin (from the kernel cache or NVRTC) loaded on
// device 0, weights uploaded once by pack(), calls launched on device memory. Where there is no
// driver or device, compile() says "no CUDA device: …". Written and compiled here; it has never
// run (no machine of this project has a GPU): bench/gpu/ is what checks the same launches on one.
#include <mutex>
#include <optional>

#include <fmt/format.h>

#include "codegen/cuda_kernel_spec.hpp"
#include "runtime/bucket_variants.hpp"
#include "runtime/cuda_backend.hpp"
#include "runtime/cuda_driver.hpp"
#include "runtime/cuda_launcher.hpp"
#include "runtime/cuda_weights.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk::runtime {
namespace {

/// The process's device 0, opened once (its primary context stays retained).
Expected<const CudaDevice*> the_device() {
  static std::mutex mutex;
  static std::optional<Expected<CudaDevice>> device;
  std::lock_guard lock(mutex);
  if (!device) {
    auto driver = CudaDriver::get();
    if (!driver) return driver.error();
    device.emplace((*driver)->open_device(0));
  }
  if (!*device) return device->error();
  return &**device;
}

Expected<const CudaBackend*> the_backend() {
  static const auto backend = CudaBackend::create();
  if (!backend) return backend.error();
  return backend->get();
}

struct CudaModule {
  codegen::CudaKernelSpec spec;
  codegen::RenderedCudaKernel rendered;
  CudaFunction function;
  std::optional<CudaFunction> producer;  ///< the quantize producer, when the tile has one
};

/// Weights in device memory, uploaded once; scales and zero points only where the family has them.
struct DevicePackedWeights final : PackedWeights::Impl {
  DeviceBuffer codes;
  std::optional<DeviceBuffer> scales, zero_points;
  DevicePackedWeights(std::int64_t n, std::int64_t k, DeviceBuffer c, std::optional<DeviceBuffer> s,
                      std::optional<DeviceBuffer> z)
      : Impl(Target::cuda, n, k),
        codes(std::move(c)),
        scales(std::move(s)),
        zero_points(std::move(z)) {}
};

/// A device copy of `bytes` bytes; none for none.
Expected<std::optional<DeviceBuffer>> upload(const CudaDevice& device, const void* data,
                                             std::size_t bytes) {
  if (bytes == 0) return std::optional<DeviceBuffer>();
  auto buffer = DeviceBuffer::allocate(device, bytes);
  if (!buffer) return buffer.error();
  if (auto copied = buffer->upload({static_cast<const std::uint8_t*>(data), bytes}); !copied)
    return copied.error();
  return std::optional<DeviceBuffer>(std::move(*buffer));
}

template <class T>
const T* device_pointer(const std::optional<DeviceBuffer>& buffer) {
  return buffer ? static_cast<const T*>(buffer->get()) : nullptr;
}

struct CudaKernel final : Kernel::Impl {
  const CudaDevice& device;
  BucketVariants<CudaModule> variants;
  // Scratch device memory, grown on demand: the producer's codes and scales, and split-K's
  // partials and counters. Calls are synchronous on the default stream, so each serves every
  // call, one at a time (its mutex held from launch to synchronization).
  mutable std::mutex quantized_a_mutex, split_k_mutex;
  mutable DeviceWorkspace quantized_a, split_k;
  // A static activation scale is a host float (RunParams) the kernel reads through a pointer:
  // copied for each call into this one float of device memory, allocated on the first call
  // (cuMemAlloc and cuMemFree per call would cost far more than the copy; cuMemFree
  // synchronizes the device). Held, like the workspaces, from the copy to the call's end.
  mutable std::mutex static_scale_mutex;
  mutable std::optional<DeviceBuffer> static_scale;

  CudaKernel(LayerConfig l, const CudaDevice& d, BucketVariants<CudaModule> v)
      : Impl(std::move(l)), device(d), variants(std::move(v)) {}

  Target target() const override { return Target::cuda; }
  const std::string& name(std::int64_t m) const override { return variants.for_m(m).rendered.name; }

  Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const override {
    auto host = pack_cuda_weights(weights, codegen::operands(variants.for_m(1).spec));
    if (!host) return host.error();
    if (auto current = device.make_current(); !current) return current.error();
    auto codes = upload(device, host->codes.data(), host->codes.size());
    if (!codes) return codes.error();
    if (!*codes)
      return Error{Errc::invalid_argument, "weights", "no codes to pack (an empty matrix)"};
    auto scales = upload(device, host->scales.data(), 4 * host->scales.size());
    if (!scales) return scales.error();
    auto zeros = upload(device, host->zero_points.data(), 4 * host->zero_points.size());
    if (!zeros) return zeros.error();
    return PackedWeights(std::make_shared<const DevicePackedWeights>(
        host->n, host->k, std::move(**codes), std::move(*scales), std::move(*zeros)));
  }

  /// a, out and params.bias are device memory (include/qk/jit.hpp); the call returns when the
  /// kernel has run (its errors surface here).
  Expected<void> run(ConstMatrix a, const PackedWeights::Impl& packed, MutableMatrix out,
                     const RunParams& params) const override {
    if (auto contiguous = check_contiguous(a, out); !contiguous) return contiguous.error();
    if (auto current = device.make_current(); !current) return current.error();
    const auto& w = static_cast<const DevicePackedWeights&>(packed);
    const CudaModule& kernel = variants.for_m(a.rows);
    std::unique_lock<std::mutex> scale_lock;
    const float* a_scale = nullptr;
    if (layer.activation_scaling == ActivationScaling::static_per_tensor) {
      scale_lock = std::unique_lock(static_scale_mutex);
      auto scale = static_scale_on_device(params.activation_scale);
      if (!scale) return scale.error();
      a_scale = *scale;
    }
    QkCudaGemmArgs args = gemm_args(
        layer, a, out,
        {w.codes.get(), device_pointer<float>(w.scales), device_pointer<float>(w.zero_points)},
        params.bias.data(), a_scale, params.output_scale);
    if (!kernel.producer) return launch_gemm(kernel, args);
    // The producer first, into its workspace; the GEMM after it on the same (default) stream
    // reads its codes and scales.
    std::lock_guard lock(quantized_a_mutex);
    auto base = quantized_a.get(device, quantize_workspace_bytes(args.m, args.k));
    if (!base) return base.error();
    const QuantizeWorkspace ws = quantize_workspace(*base, args.m, args.k);
    const QkCudaQuantizeArgs quantize = quantize_args(args, ws);
    auto producer = prepare_quantize_launch(kernel.rendered, quantize);
    if (!producer) return producer.error();
    if (auto launched = kernel.producer->launch(*producer, quantize); !launched)
      return launched.error();
    return launch_gemm(kernel, consume_quantized(args, ws));
  }

  /// `scale` in the kernel's one float of device memory. @pre static_scale_mutex held
  Expected<const float*> static_scale_on_device(float scale) const {
    if (!static_scale) {
      auto buffer = DeviceBuffer::allocate(device, sizeof(float));
      if (!buffer) return buffer.error();
      static_scale.emplace(std::move(*buffer));
    }
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&scale);
    if (auto copied = static_scale->upload({bytes, sizeof(float)}); !copied) return copied.error();
    return static_cast<const float*>(static_scale->get());
  }

  Expected<void> launch_gemm(const CudaModule& kernel, QkCudaGemmArgs args) const {
    std::unique_lock<std::mutex> lock;
    if (const auto bytes = gemm_workspace_bytes(kernel.spec, args.m, args.n); bytes > 0) {
      lock = std::unique_lock(split_k_mutex);
      auto scratch = split_k.get(device, bytes);
      if (!scratch) return scratch.error();
      args.workspace = *scratch;
    }
    auto geometry = prepare_launch(kernel.spec, kernel.rendered, args);
    if (!geometry) return geometry.error();
    auto ran = kernel.function.launch(*geometry, args);
    if (ran) ran = synchronize(device, kernel.rendered.name);
    // A failed launch may leave counters counting: zero them (best effort) for the next call.
    if (!ran && args.workspace != nullptr) (void)split_k.reset();
    return ran;
  }
};

}  // namespace

Expected<Kernel> compile_cuda(const LayerConfig& layer, const CompileOptions& options) {
  auto device = the_device();
  if (!device) return device.error();
  auto backend = the_backend();
  if (!backend) return backend.error();
  auto cache = open_cache(options.cache.value_or(cache::KernelCache::default_path()));
  if (!cache) return cache.error();
  const codegen::CudaArch arch = (*device)->info().arch;
  auto variants = BucketVariants<CudaModule>::supply_all(
      codegen::cuda_tile_buckets(layer),
      [&](const codegen::CudaTileBucket& b) -> Expected<std::shared_ptr<const CudaModule>> {
        auto spec = codegen::cuda_kernel_spec(layer, b.tile, arch);
        if (!spec) return spec.error();
        auto cubin = (*backend)->cubin(*spec, *cache);
        if (!cubin) return cubin.error();
        count_supply(cubin->from_cache ? Supply::cache : Supply::compiled);
        auto function = CudaFunction::load(**device, cubin->cubin, cubin->attributes.lowered_name,
                                           cubin->attributes.dynamic_smem_bytes);
        if (!function) return function.error();
        codegen::RenderedCudaKernel rendered = codegen::render_cuda(*spec);
        std::optional<CudaFunction> producer;
        if (rendered.has_producer()) {
          // The same cubin holds the producer; a record without it is a stale one.
          if (cubin->attributes.producer_lowered_name.empty())
            return Error{Errc::invalid_argument, rendered.name,
                         "its cached cubin records no quantize producer; recompile it "
                         "(qk-cache gc, then build)"};
          auto loaded =
              CudaFunction::load(**device, cubin->cubin, cubin->attributes.producer_lowered_name,
                                 rendered.producer.smem_bytes);
          if (!loaded) return loaded.error();
          producer.emplace(std::move(*loaded));
        }
        return std::make_shared<const CudaModule>(
            CudaModule{*spec, std::move(rendered), std::move(*function), std::move(producer)});
      });
  if (!variants) return variants.error();
  return Kernel(std::make_shared<const CudaKernel>(layer, **device, std::move(*variants)));
}

}  // namespace qk::runtime
