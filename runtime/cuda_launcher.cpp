#include "runtime/cuda_launcher.hpp"

#include <utility>

#include <fmt/format.h>

#include "runtime/cuda_driver_api.hpp"

namespace qk::runtime {
namespace {

Error bad_argument(const char* name, std::string message) {
  return Error{Errc::invalid_argument, name, std::move(message)};
}

/// Destroys a CUevent when it goes out of scope.
struct Event {
  const CudaDriverApi& api;
  CUevent event = nullptr;
  ~Event() {
    if (event != nullptr) (void)api.cuEventDestroy(event);
  }
};

}  // namespace

Expected<void> check_dynamic_smem(int smem_bytes, const CudaDeviceInfo& device) {
  if (smem_bytes > device.smem_per_block_optin)
    return Error{Errc::unsupported, device.name,
                 fmt::format("a kernel needing {} bytes of dynamic shared memory per block "
                             "cannot run: the device allows at most {} ({})",
                             smem_bytes, device.smem_per_block_optin, to_string(device.arch))};
  return {};
}

Expected<DeviceBuffer> DeviceBuffer::allocate(const CudaDevice& device, std::size_t bytes) {
  const CudaDriver& driver = device.driver();
  CUdeviceptr address = 0;
  if (const CUresult r = driver.api().cuMemAlloc(&address, bytes); r != CUDA_SUCCESS)
    return driver.error(r, fmt::format("cuMemAlloc of {} bytes", bytes));
  return DeviceBuffer(&driver, address, bytes);
}

DeviceBuffer::DeviceBuffer(const CudaDriver* driver, std::uint64_t address, std::size_t size)
    : driver_(driver), address_(address), size_(size) {}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept
    : driver_(other.driver_), address_(std::exchange(other.address_, 0)), size_(other.size_) {}

DeviceBuffer::~DeviceBuffer() {
  // cuMemFree fails only for a context already destroyed, which frees its memory anyway.
  if (address_ != 0) (void)driver_->api().cuMemFree(address_);
}

Expected<void> DeviceBuffer::upload(std::span<const std::uint8_t> host) const {
  if (host.size() > size_)
    return bad_argument(
        "host", fmt::format("{} bytes do not fit a device buffer of {}", host.size(), size_));
  if (const CUresult r = driver_->api().cuMemcpyHtoD(address_, host.data(), host.size());
      r != CUDA_SUCCESS)
    return driver_->error(r, "cuMemcpyHtoD");
  return {};
}

Expected<void> DeviceBuffer::download(std::span<std::uint8_t> host) const {
  if (host.size() > size_)
    return bad_argument(
        "host", fmt::format("{} bytes are more than the device buffer's {}", host.size(), size_));
  if (const CUresult r = driver_->api().cuMemcpyDtoH(host.data(), address_, host.size());
      r != CUDA_SUCCESS)
    return driver_->error(r, "cuMemcpyDtoH");
  return {};
}

Expected<void> DeviceBuffer::fill(std::uint8_t value) const {
  if (const CUresult r = driver_->api().cuMemsetD8(address_, value, size_); r != CUDA_SUCCESS)
    return driver_->error(r, "cuMemsetD8");
  return {};
}

Expected<void*> DeviceWorkspace::get(const CudaDevice& device, std::uint64_t bytes) {
  if (bytes == 0) return nullptr;
  if (!buffer_ || buffer_->size() < bytes) {
    buffer_.reset();  // free the old one first: the device may not hold both
    auto grown = DeviceBuffer::allocate(device, bytes);
    if (!grown) return grown.error();
    buffer_.emplace(std::move(*grown));
    if (auto zeroed = reset(); !zeroed) {
      buffer_.reset();
      return zeroed.error();
    }
  }
  return buffer_->get();
}

Expected<void> DeviceWorkspace::reset() const {
  return buffer_ ? buffer_->fill(0) : Expected<void>{};
}

Expected<CudaFunction> CudaFunction::load(const CudaDevice& device,
                                          std::span<const std::uint8_t> cubin,
                                          const std::string& lowered_name, int dynamic_smem_bytes) {
  if (auto fits = check_dynamic_smem(dynamic_smem_bytes, device.info()); !fits) return fits.error();
  const CudaDriver& driver = device.driver();
  const CudaDriverApi& api = driver.api();
  CUmodule module = nullptr;
  if (const CUresult r = api.cuModuleLoadData(&module, cubin.data()); r != CUDA_SUCCESS)
    return driver.error(r, fmt::format("cuModuleLoadData ({})", lowered_name));
  CudaFunction loaded(&driver, module, nullptr, lowered_name);  // unloads on any error below
  CUfunction function = nullptr;
  if (const CUresult r = api.cuModuleGetFunction(&function, module, lowered_name.c_str());
      r != CUDA_SUCCESS)
    return driver.error(r, fmt::format("cuModuleGetFunction ({})", lowered_name));
  loaded.function_ = function;
  if (dynamic_smem_bytes > kSmemWithoutOptIn) {
    if (const CUresult r = api.cuFuncSetAttribute(
            function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, dynamic_smem_bytes);
        r != CUDA_SUCCESS)
      return driver.error(r, fmt::format("cuFuncSetAttribute (max dynamic shared memory {} "
                                         "bytes, {})",
                                         dynamic_smem_bytes, lowered_name));
  }
  return loaded;
}

CudaFunction::CudaFunction(const CudaDriver* driver, void* module, void* function, std::string name)
    : driver_(driver), module_(module), function_(function), name_(std::move(name)) {}

CudaFunction::CudaFunction(CudaFunction&& other) noexcept
    : driver_(other.driver_),
      module_(std::exchange(other.module_, nullptr)),
      function_(other.function_),
      name_(std::move(other.name_)) {}

CudaFunction::~CudaFunction() {
  if (module_ != nullptr) (void)driver_->api().cuModuleUnload(static_cast<CUmodule>(module_));
}

Expected<void> CudaFunction::launch(const CudaLaunchGeometry& g, const QkCudaGemmArgs& args) const {
  // The kernel's only parameter is the argument struct, by value: kernelParams holds its address.
  QkCudaGemmArgs copy = args;
  void* params[] = {&copy};
  return launch_with(g, params);
}

Expected<void> CudaFunction::launch(const CudaLaunchGeometry& g,
                                    const QkCudaQuantizeArgs& args) const {
  QkCudaQuantizeArgs copy = args;
  void* params[] = {&copy};
  return launch_with(g, params);
}

Expected<void> CudaFunction::launch_with(const CudaLaunchGeometry& g, void** params) const {
  if (const CUresult r = driver_->api().cuLaunchKernel(static_cast<CUfunction>(function_), g.grid_x,
                                                       g.grid_y, g.grid_z, g.block_x, 1, 1,
                                                       g.smem_bytes, nullptr, params, nullptr);
      r != CUDA_SUCCESS)
    return driver_->error(
        r, fmt::format("cuLaunchKernel ({}, grid {}x{}x{}, {} threads, {} bytes "
                       "of shared memory)",
                       name_, g.grid_x, g.grid_y, g.grid_z, g.block_x, g.smem_bytes));
  return {};
}

Expected<void> synchronize(const CudaDevice& device, std::string_view what) {
  if (const CUresult r = device.driver().api().cuCtxSynchronize(); r != CUDA_SUCCESS)
    return device.driver().error(r, fmt::format("running {}", what));
  return {};
}

Expected<std::vector<double>> time_on_device(const CudaDevice& device,
                                             const std::function<Expected<void>()>& launch,
                                             int warmup, int repeats,
                                             const std::function<void(int)>& before_each) {
  if (repeats < 1) return bad_argument("repeats", fmt::format("is {}, must be >= 1", repeats));
  const CudaDriver& driver = device.driver();
  const CudaDriverApi& api = driver.api();
  Event start{api}, stop{api};
  for (CUevent* e : {&start.event, &stop.event})
    if (const CUresult r = api.cuEventCreate(e, CU_EVENT_DEFAULT); r != CUDA_SUCCESS)
      return driver.error(r, "cuEventCreate");
  for (int i = 0; i < warmup; ++i)
    if (auto ok = launch(); !ok) return ok.error();
  if (auto ok = synchronize(device, "the warm-up runs"); !ok) return ok.error();
  std::vector<double> ms;
  for (int i = 0; i < repeats; ++i) {
    if (before_each) before_each(i);
    if (const CUresult r = api.cuEventRecord(start.event, nullptr); r != CUDA_SUCCESS)
      return driver.error(r, "cuEventRecord");
    if (auto ok = launch(); !ok) return ok.error();
    if (const CUresult r = api.cuEventRecord(stop.event, nullptr); r != CUDA_SUCCESS)
      return driver.error(r, "cuEventRecord");
    if (const CUresult r = api.cuEventSynchronize(stop.event); r != CUDA_SUCCESS)
      return driver.error(r, fmt::format("timed run {}", i));
    float elapsed = 0;
    if (const CUresult r = api.cuEventElapsedTime(&elapsed, start.event, stop.event);
        r != CUDA_SUCCESS)
      return driver.error(r, "cuEventElapsedTime");
    ms.push_back(elapsed);
  }
  return ms;
}

}  // namespace qk::runtime
