// Running a cubin on a device: loading it, launching a GEMM kernel with the geometry of
// runtime/cuda_launch_geometry.hpp, device memory, and timing with CUDA events. The only code of
// qk that needs a GPU to run, so it is kept small; everything about a launch that can be decided
// without a GPU (the arguments against the kernel's spec, the geometry, the shared-memory opt-in)
// is decided by prepare_launch() (runtime/cuda_launch_geometry.hpp, shared with cuda-emu) and
// check_dynamic_smem(), which the tests cover.
//
// Example:
//   auto device = (*qk::runtime::CudaDriver::get())->open_device(0);
//   auto fn = CudaFunction::load(*device, bin.cubin, bin.lowered_name, kernel.smem_bytes);
//   auto geometry = prepare_launch(spec, kernel, args);   // args hold device pointers
//   auto ok = fn->launch(*geometry, args);
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codegen/render_cuda.hpp"
#include "qk/error.hpp"
#include "runtime/cuda_driver.hpp"
#include "runtime/cuda_launch_geometry.hpp"
#include "templates/cuda/abi.h"

namespace qk::runtime {

/// Dynamic shared memory a block may use without opting in (CUDA C++ Programming Guide,
/// "Shared Memory": above 48 KB a kernel must raise its MAX_DYNAMIC_SHARED_SIZE_BYTES).
inline constexpr int kSmemWithoutOptIn = 48 * 1024;

/// Whether a kernel needing `smem_bytes` of dynamic shared memory fits `device`. Error
/// (Errc::unsupported) names the kernel's bytes and the device's opt-in limit.
Expected<void> check_dynamic_smem(int smem_bytes, const CudaDeviceInfo& device);

/// Device memory, freed on destruction. Move-only.
class DeviceBuffer {
 public:
  /// Errors: the driver's (out of memory, …), naming the size.
  static Expected<DeviceBuffer> allocate(const CudaDevice& device, std::size_t bytes);
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  DeviceBuffer(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* get() const { return reinterpret_cast<void*>(address_); }
  std::size_t size() const { return size_; }
  /// Copies `host` to the start of the buffer. @pre host.size() <= size() (else invalid_argument)
  Expected<void> upload(std::span<const std::uint8_t> host) const;
  /// Copies the start of the buffer into `host`. @pre host.size() <= size()
  Expected<void> download(std::span<std::uint8_t> host) const;
  /// Sets every byte to `value`.
  Expected<void> fill(std::uint8_t value) const;

 private:
  DeviceBuffer(const CudaDriver* driver, std::uint64_t address, std::size_t size);
  const CudaDriver* driver_;
  std::uint64_t address_ = 0;  // CUdeviceptr; 0 once moved from
  std::size_t size_ = 0;
};

/// The workspace of split-K kernels (QkCudaGemmArgs::workspace) on a device: grown on demand,
/// zeroed (cuMemsetD8) whenever it is (re)allocated, so that its arrival counters start at zero;
/// each launch leaves them zero for the next. Not thread-safe, and one launch may use it at a
/// time: its owner serializes the calls (qk's cuda Kernel holds a mutex across launch and sync).
class DeviceWorkspace {
 public:
  /// A buffer of at least `bytes` bytes (null for 0). Errors: the driver's (allocation, memset).
  Expected<void*> get(const CudaDevice& device, std::uint64_t bytes);
  /// Zeroes the buffer again: after a failed launch, whose CTAs may have left counters counting.
  Expected<void> reset() const;

 private:
  std::optional<DeviceBuffer> buffer_;
};

/// A kernel of a loaded cubin. Move-only; unloads its module on destruction.
class CudaFunction {
 public:
  /// Loads `cubin` into the current context, finds `lowered_name` and opts in to
  /// `dynamic_smem_bytes` of dynamic shared memory when above kSmemWithoutOptIn.
  /// Errors: check_dynamic_smem()'s; the driver's (a cubin for another arch is
  /// CUDA_ERROR_NO_BINARY_FOR_GPU), naming the kernel.
  static Expected<CudaFunction> load(const CudaDevice& device, std::span<const std::uint8_t> cubin,
                                     const std::string& lowered_name, int dynamic_smem_bytes);
  CudaFunction(CudaFunction&& other) noexcept;
  CudaFunction& operator=(CudaFunction&&) = delete;
  CudaFunction(const CudaFunction&) = delete;
  ~CudaFunction();

  /// Enqueues the kernel on the default stream with `args` as its one parameter (the kernel takes
  /// QkCudaGemmArgs by value). Asynchronous: errors of the run itself surface at the next
  /// synchronization. @pre geometry from prepare_launch(spec, kernel, args)
  Expected<void> launch(const CudaLaunchGeometry& geometry, const QkCudaGemmArgs& args) const;
  /// The same for the quantize producer (templates/cuda/quantize_rows.cuh), which takes
  /// QkCudaQuantizeArgs by value. @pre geometry from prepare_quantize_launch(kernel, args)
  Expected<void> launch(const CudaLaunchGeometry& geometry, const QkCudaQuantizeArgs& args) const;

  /// Enqueues the kernel with `params` (cuLaunchKernel's kernelParams: one pointer to each
  /// argument, in order), for kernels other than qk's (a benchmark's helpers).
  Expected<void> launch_with(const CudaLaunchGeometry& geometry, void** params) const;

 private:
  CudaFunction(const CudaDriver* driver, void* module, void* function, std::string name);
  const CudaDriver* driver_;
  void* module_ = nullptr;    // CUmodule; null once moved from
  void* function_ = nullptr;  // CUfunction
  std::string name_;
};

/// Waits for `device` to finish everything enqueued; errors of earlier launches surface here,
/// naming `what` ran.
Expected<void> synchronize(const CudaDevice& device, std::string_view what);

/// Runs `launch` `warmup` times, then `repeats` times each between two CUDA events on the default
/// stream, and returns each timed run's milliseconds. `before_each(i)` runs on the host before
/// timed run i, e.g. to switch to the next rotating buffer. Any work can be timed this way (qk's
/// kernels, cuBLASLt). Error: repeats < 1 (invalid_argument); the first failing launch or call.
Expected<std::vector<double>> time_on_device(const CudaDevice& device,
                                             const std::function<Expected<void>()>& launch,
                                             int warmup, int repeats,
                                             const std::function<void(int)>& before_each = {});

}  // namespace qk::runtime
