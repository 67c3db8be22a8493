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
  // Split-K kernels' partials and counters, shared by the buckets; a call holds the mutex from
  // launch to synchronization, so one launch at a time uses it.
  mutable std::mutex workspace_mutex;
  mutable DeviceWorkspace workspace;

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
    // A static activation scale is a host float the kernel reads through a pointer: it goes to
    // the device with the call, and only for the layers that have one.
    const bool static_scale = layer.activation_scaling == ActivationScaling::static_per_tensor;
    auto scale = upload(device, &params.activation_scale, static_scale ? sizeof(float) : 0);
    if (!scale) return scale.error();
    QkCudaGemmArgs args = gemm_args(
        layer, a, out,
        {w.codes.get(), device_pointer<float>(w.scales), device_pointer<float>(w.zero_points)},
        params.bias.data(), device_pointer<float>(*scale), params.output_scale);
    std::unique_lock<std::mutex> lock;
    if (const auto bytes = gemm_workspace_bytes(kernel.spec, a.rows, layer.n); bytes > 0) {
      lock = std::unique_lock(workspace_mutex);
      auto scratch = workspace.get(device, bytes);
      if (!scratch) return scratch.error();
      args.workspace = *scratch;
    }
    auto geometry = prepare_launch(kernel.spec, kernel.rendered, args);
    if (!geometry) return geometry.error();
    auto ran = kernel.function.launch(*geometry, args);
    if (ran) ran = synchronize(device, kernel.rendered.name);
    // A failed launch may leave counters counting: zero them (best effort) for the next call.
    if (!ran && args.workspace != nullptr) (void)workspace.reset();
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
        return std::make_shared<const CudaModule>(
            CudaModule{*spec, codegen::render_cuda(*spec), std::move(*function)});
      });
  if (!variants) return variants.error();
  return Kernel(std::make_shared<const CudaKernel>(layer, **device, std::move(*variants)));
}

}  // namespace qk::runtime
