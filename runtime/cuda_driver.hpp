// The CUDA driver (libcuda), loaded at run time with dlopen and never linked, so that qk builds,
// loads and runs its CPU targets on machines without a GPU or driver. Finds the library, resolves
// the functions qk uses, initializes the driver, opens devices and describes them.
//
// Example:
//   auto driver = qk::runtime::CudaDriver::get();          // "no CUDA device: …" where none
//   if (!driver) return driver.error();
//   auto device = (*driver)->open_device(0);
//   std::string key = device->info().fingerprint();        // for tuning records
#pragma once

#include <memory>
#include <string>

#include "codegen/cuda_tile.hpp"
#include "qk/error.hpp"

namespace qk::runtime {

struct CudaDriverApi;  // runtime/cuda_driver_api.hpp: the resolved function table

/// The facts about a device that decide which kernels run on it and key its tuning records.
/// Everything here is read from the device; nothing is assumed from its name.
struct CudaDeviceInfo {
  int ordinal = 0;
  std::string name;  ///< as the driver reports it, e.g. "NVIDIA A100-SXM4-80GB"
  int cc_major = 0, cc_minor = 0;
  codegen::CudaArch arch = codegen::CudaArch::sm_80;  ///< the arch qk compiles for this device
  int sm_count = 0;
  int smem_per_block_optin = 0;  ///< bytes of dynamic shared memory a block may opt in to
  int l2_bytes = 0;              ///< L2 cache: what benchmarks rotate their inputs past
  int driver_version = 0;        ///< as cuDriverGetVersion reports it, e.g. 13000 for 13.0

  /// "cuda:NVIDIA A100-SXM4-80GB | sm_80 (cc 8.0) | 108 SMs | driver 13.0": a tuning record
  /// measured on another device, arch, SM count or driver is a different record.
  std::string fingerprint() const;
};

/// The arch qk compiles for a device of compute capability major.minor: 8.0 -> sm_80,
/// 8.6 -> sm_86, 8.9 -> sm_89, 9.0 -> sm_90a. Error (Errc::unsupported): any other capability,
/// named with the device and the supported list.
Expected<codegen::CudaArch> arch_of_compute_capability(int major, int minor,
                                                       const std::string& device_name);

/// "CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected", from the driver's own
/// names when it gives them, else from qk's table of the results a failed start can return.
/// A stub or broken driver may not name its own results (the toolkit's stub does not).
std::string describe_cuda_result(const CudaDriverApi* api, int result);

/// The libcuda qk loads: $QK_LIBCUDA when set and non-empty (a path, for tests and unusual
/// installs), else "libcuda.so.1" (the driver's soname, found by the dynamic loader).
std::string default_libcuda();

class CudaDevice;

/// One loaded, initialized driver.
class CudaDriver {
 public:
  /// The process-wide driver from default_libcuda(), loaded on first use. A failure is
  /// remembered: a process without a driver does not retry dlopen on every call.
  static Expected<const CudaDriver*> get();

  /// Loads `library`, resolves every function of CudaDriverApi, calls cuInit and counts the
  /// devices. Errors: Errc::unsupported "no CUDA device: …" when the library cannot be opened,
  /// lacks a function (named), cuInit fails (its result named) or there are no devices.
  static Expected<std::unique_ptr<CudaDriver>> load(const std::string& library);

  ~CudaDriver();
  CudaDriver(const CudaDriver&) = delete;
  CudaDriver& operator=(const CudaDriver&) = delete;

  int device_count() const { return device_count_; }
  int version() const { return version_; }
  const CudaDriverApi& api() const { return *api_; }

  /// Describes device `ordinal`. Errors: an ordinal outside [0, device_count()) or an unsupported
  /// compute capability (Errc::unsupported, naming it); a failing driver call (its result named).
  Expected<CudaDeviceInfo> describe(int ordinal) const;

  /// Opens device `ordinal`: its description and its primary context, made current on this
  /// thread. Errors: describe()'s, and a context that cannot be retained.
  Expected<CudaDevice> open_device(int ordinal) const;

  /// Error{Errc::io_error, what, "<what> failed: CUDA_ERROR_… (n): …"} for a failed call.
  Error error(int result, std::string_view what) const;

 private:
  CudaDriver(void* handle, std::unique_ptr<CudaDriverApi> api);
  void* handle_ = nullptr;  // from dlopen
  std::unique_ptr<CudaDriverApi> api_;
  int version_ = 0;
  int device_count_ = 0;
};

/// An open device: its primary context is retained for the object's lifetime (released on
/// destruction) and made current on the thread that opened it. Move-only.
class CudaDevice {
 public:
  CudaDevice(CudaDevice&& other) noexcept;
  CudaDevice& operator=(CudaDevice&&) = delete;
  CudaDevice(const CudaDevice&) = delete;
  ~CudaDevice();

  const CudaDeviceInfo& info() const { return info_; }
  const CudaDriver& driver() const { return *driver_; }
  /// Makes the device's context current on the calling thread (each thread that launches must).
  Expected<void> make_current() const;

 private:
  friend class CudaDriver;
  CudaDevice(const CudaDriver* driver, CudaDeviceInfo info, int device, void* context);
  const CudaDriver* driver_;
  CudaDeviceInfo info_;
  int device_ = 0;           // CUdevice
  void* context_ = nullptr;  // CUcontext (the primary context), null once moved from
};

}  // namespace qk::runtime
