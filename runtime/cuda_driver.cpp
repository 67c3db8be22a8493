#include "runtime/cuda_driver.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "runtime/cuda_driver_api.hpp"

namespace qk::runtime {
namespace {

#define QK_CUDA_STRINGIFY_EXPANDED(x) QK_CUDA_STRINGIFY(x)
#define QK_CUDA_STRINGIFY(x) #x

constexpr std::string_view kNoDevice = "no CUDA device: ";

/// The results a driver can return while starting, named here because a stub or mismatched
/// driver may fail to name its own (the toolkit's stub answers cuGetErrorName with an error).
std::string_view fallback_result_name(int result) {
  switch (result) {
    case CUDA_SUCCESS:
      return "CUDA_SUCCESS";
    case CUDA_ERROR_INVALID_VALUE:
      return "CUDA_ERROR_INVALID_VALUE";
    case CUDA_ERROR_OUT_OF_MEMORY:
      return "CUDA_ERROR_OUT_OF_MEMORY";
    case CUDA_ERROR_NOT_INITIALIZED:
      return "CUDA_ERROR_NOT_INITIALIZED";
    case CUDA_ERROR_STUB_LIBRARY:
      return "CUDA_ERROR_STUB_LIBRARY";
    case CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER:
      return "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER";
    case CUDA_ERROR_NO_DEVICE:
      return "CUDA_ERROR_NO_DEVICE";
    case CUDA_ERROR_INVALID_DEVICE:
      return "CUDA_ERROR_INVALID_DEVICE";
    case CUDA_ERROR_OPERATING_SYSTEM:
      return "CUDA_ERROR_OPERATING_SYSTEM";
    case CUDA_ERROR_SYSTEM_DRIVER_MISMATCH:
      return "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH";
    case CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE:
      return "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE";
    default:
      return "an unknown CUresult";
  }
}

Error no_device(std::string_view library, std::string detail) {
  return Error{Errc::unsupported, std::string(library), std::string(kNoDevice) + detail};
}

struct DlHandle {
  void* handle = nullptr;
  ~DlHandle() {
    if (handle != nullptr) dlclose(handle);
  }
  void* release() { return std::exchange(handle, nullptr); }
};

}  // namespace

std::string CudaDeviceInfo::fingerprint() const {
  return fmt::format("cuda:{} | {} (cc {}.{}) | {} SMs | driver {}.{}", name, to_string(arch),
                     cc_major, cc_minor, sm_count, driver_version / 1000,
                     driver_version % 1000 / 10);
}

Expected<codegen::CudaArch> arch_of_compute_capability(int major, int minor,
                                                       const std::string& device_name) {
  // Exact matches only: an sm_80 cubin would run on 8.6 and 8.9 too, but qk compiles and tunes
  // for each arch's own limits (shared memory, occupancy), so it uses each arch's own build.
  // sm_90a (not sm_90): the arch-specific features of Hopper, which run on 9.0 only.
  constexpr struct {
    int major, minor;
    codegen::CudaArch arch;
  } kArchs[] = {{8, 0, codegen::CudaArch::sm_80},
                {8, 6, codegen::CudaArch::sm_86},
                {8, 9, codegen::CudaArch::sm_89},
                {9, 0, codegen::CudaArch::sm_90a}};
  std::string supported;
  for (const auto& a : kArchs) {
    if (a.major == major && a.minor == minor) return a.arch;
    supported += fmt::format("{}{} (cc {}.{})", supported.empty() ? "" : ", ", to_string(a.arch),
                             a.major, a.minor);
  }
  return Error{Errc::unsupported, device_name,
               fmt::format("compute capability {}.{} is not supported; qk's cuda target builds "
                           "for {}",
                           major, minor, supported)};
}

std::string describe_cuda_result(const CudaDriverApi* api, int result) {
  const auto code = static_cast<CUresult>(result);
  const char* name = nullptr;
  const char* text = nullptr;
  if (api != nullptr && api->cuGetErrorName(code, &name) != CUDA_SUCCESS) name = nullptr;
  if (api != nullptr && api->cuGetErrorString(code, &text) != CUDA_SUCCESS) text = nullptr;
  std::string out =
      fmt::format("{} ({})", name ? std::string_view(name) : fallback_result_name(result), result);
  if (text != nullptr) out += fmt::format(": {}", text);
  return out;
}

std::string default_libcuda() {
  const char* knob = std::getenv("QK_LIBCUDA");
  return knob != nullptr && *knob != '\0' ? std::string(knob) : std::string("libcuda.so.1");
}

CudaDriver::CudaDriver(void* handle, std::unique_ptr<CudaDriverApi> api)
    : handle_(handle), api_(std::move(api)) {}

CudaDriver::~CudaDriver() {
  if (handle_ != nullptr) dlclose(handle_);
}

Expected<std::unique_ptr<CudaDriver>> CudaDriver::load(const std::string& library) {
  DlHandle lib{dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL)};
  if (lib.handle == nullptr) {
    const char* why = dlerror();
    return no_device(library, fmt::format("{} not found ({}); install the NVIDIA driver, or set "
                                          "QK_LIBCUDA to its path",
                                          library, why ? why : "dlopen failed"));
  }
  auto api = std::make_unique<CudaDriverApi>();
  // Each member is looked up under the symbol cuda.h maps its name to (cuMemAlloc_v2, …).
#define QK_CUDA_DRIVER_RESOLVE(fn)                                                            \
  api->fn =                                                                                   \
      reinterpret_cast<decltype(api->fn)>(dlsym(lib.handle, QK_CUDA_STRINGIFY_EXPANDED(fn))); \
  if (api->fn == nullptr)                                                                     \
    return no_device(library, fmt::format("{} lacks the driver function {} (a driver older "  \
                                          "than CUDA {}.{}, or not libcuda)",                 \
                                          library, QK_CUDA_STRINGIFY_EXPANDED(fn),            \
                                          CUDA_VERSION / 1000, CUDA_VERSION % 1000 / 10));
  QK_CUDA_DRIVER_FUNCTIONS(QK_CUDA_DRIVER_RESOLVE)
#undef QK_CUDA_DRIVER_RESOLVE

  if (const CUresult r = api->cuInit(0); r != CUDA_SUCCESS)
    return no_device(library, "cuInit failed with " + describe_cuda_result(api.get(), r));
  std::unique_ptr<CudaDriver> driver(new CudaDriver(lib.release(), std::move(api)));
  if (const CUresult r = driver->api_->cuDriverGetVersion(&driver->version_); r != CUDA_SUCCESS)
    return no_device(
        library, "cuDriverGetVersion failed with " + describe_cuda_result(driver->api_.get(), r));
  if (const CUresult r = driver->api_->cuDeviceGetCount(&driver->device_count_); r != CUDA_SUCCESS)
    return no_device(library,
                     "cuDeviceGetCount failed with " + describe_cuda_result(driver->api_.get(), r));
  if (driver->device_count_ == 0)
    return no_device(library, fmt::format("the driver ({}.{}) found no devices",
                                          driver->version_ / 1000, driver->version_ % 1000 / 10));
  return driver;
}

Expected<const CudaDriver*> CudaDriver::get() {
  static std::mutex mutex;
  static std::unique_ptr<Expected<std::unique_ptr<CudaDriver>>> loaded;
  std::lock_guard lock(mutex);
  if (!loaded)
    loaded = std::make_unique<Expected<std::unique_ptr<CudaDriver>>>(load(default_libcuda()));
  if (!*loaded) return loaded->error();
  return loaded->value().get();
}

Error CudaDriver::error(int result, std::string_view what) const {
  return Error{Errc::io_error, std::string(what),
               fmt::format("{} failed: {}", what, describe_cuda_result(api_.get(), result))};
}

Expected<CudaDeviceInfo> CudaDriver::describe(int ordinal) const {
  if (ordinal < 0 || ordinal >= device_count_)
    return Error{Errc::unsupported, "device",
                 fmt::format("{} is not a device ordinal: the driver has {} device(s), 0 to {}",
                             ordinal, device_count_, device_count_ - 1)};
  CUdevice device = 0;
  if (const CUresult r = api_->cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS)
    return error(r, "cuDeviceGet");
  CudaDeviceInfo info;
  info.ordinal = ordinal;
  info.driver_version = version_;
  char name[256] = {};
  if (const CUresult r = api_->cuDeviceGetName(name, sizeof name - 1, device); r != CUDA_SUCCESS)
    return error(r, "cuDeviceGetName");
  info.name = name;
  const struct {
    CUdevice_attribute attribute;
    int* value;
    const char* what;
  } attributes[] = {
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, &info.cc_major, "compute capability"},
      {CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, &info.cc_minor, "compute capability"},
      {CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, &info.sm_count, "SM count"},
      {CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, &info.smem_per_block_optin,
       "opt-in shared memory per block"},
      {CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, &info.l2_bytes, "L2 cache size"},
  };
  for (const auto& a : attributes)
    if (const CUresult r = api_->cuDeviceGetAttribute(a.value, a.attribute, device);
        r != CUDA_SUCCESS)
      return error(r, fmt::format("cuDeviceGetAttribute ({})", a.what));
  auto arch = arch_of_compute_capability(info.cc_major, info.cc_minor, info.name);
  if (!arch) return arch.error();
  info.arch = *arch;
  return info;
}

Expected<CudaDevice> CudaDriver::open_device(int ordinal) const {
  auto info = describe(ordinal);
  if (!info) return info.error();
  CUdevice device = 0;
  if (const CUresult r = api_->cuDeviceGet(&device, ordinal); r != CUDA_SUCCESS)
    return error(r, "cuDeviceGet");
  CUcontext context = nullptr;
  if (const CUresult r = api_->cuDevicePrimaryCtxRetain(&context, device); r != CUDA_SUCCESS)
    return error(r, "cuDevicePrimaryCtxRetain");
  CudaDevice opened(this, std::move(*info), device, context);
  if (auto current = opened.make_current(); !current) return current.error();
  return opened;
}

CudaDevice::CudaDevice(const CudaDriver* driver, CudaDeviceInfo info, int device, void* context)
    : driver_(driver), info_(std::move(info)), device_(device), context_(context) {}

CudaDevice::CudaDevice(CudaDevice&& other) noexcept
    : driver_(other.driver_),
      info_(std::move(other.info_)),
      device_(other.device_),
      context_(std::exchange(other.context_, nullptr)) {}

CudaDevice::~CudaDevice() {
  // Releasing can only fail for a device already gone; there is nothing left to do then.
  if (context_ != nullptr) (void)driver_->api().cuDevicePrimaryCtxRelease(device_);
}

Expected<void> CudaDevice::make_current() const {
  if (const CUresult r = driver_->api().cuCtxSetCurrent(static_cast<CUcontext>(context_));
      r != CUDA_SUCCESS)
    return driver_->error(r, "cuCtxSetCurrent");
  return {};
}

}  // namespace qk::runtime
