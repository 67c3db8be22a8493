// The CUDA driver API functions qk uses, as a table of pointers resolved from libcuda at run time
// (runtime/cuda_driver.cpp). Private to runtime/: it includes <cuda.h>, which the public headers
// must not, so that users of qk need no CUDA headers and qk loads where there is no driver.
#pragma once

#include <cuda.h>

namespace qk::runtime {

// Every function of the table. cuda.h maps several names to versioned symbols
// (`#define cuMemAlloc cuMemAlloc_v2`); the table is declared and resolved through the same
// macros, so each member has the type of the versioned function and is looked up under its
// versioned symbol name, which is what the driver exports.
#define QK_CUDA_DRIVER_FUNCTIONS(X) \
  X(cuGetErrorName)                 \
  X(cuGetErrorString)               \
  X(cuInit)                         \
  X(cuDriverGetVersion)             \
  X(cuDeviceGetCount)               \
  X(cuDeviceGet)                    \
  X(cuDeviceGetName)                \
  X(cuDeviceGetAttribute)           \
  X(cuDevicePrimaryCtxRetain)       \
  X(cuDevicePrimaryCtxRelease)      \
  X(cuCtxSetCurrent)                \
  X(cuCtxSynchronize)               \
  X(cuModuleLoadData)               \
  X(cuModuleUnload)                 \
  X(cuModuleGetFunction)            \
  X(cuFuncSetAttribute)             \
  X(cuLaunchKernel)                 \
  X(cuMemAlloc)                     \
  X(cuMemFree)                      \
  X(cuMemcpyHtoD)                   \
  X(cuMemcpyDtoH)                   \
  X(cuMemsetD8)                     \
  X(cuEventCreate)                  \
  X(cuEventDestroy)                 \
  X(cuEventRecord)                  \
  X(cuEventSynchronize)             \
  X(cuEventElapsedTime)

/// The resolved functions; every member is non-null once CudaDriver::load() succeeded.
struct CudaDriverApi {
#define QK_CUDA_DRIVER_MEMBER(fn) decltype(&::fn) fn = nullptr;
  QK_CUDA_DRIVER_FUNCTIONS(QK_CUDA_DRIVER_MEMBER)
#undef QK_CUDA_DRIVER_MEMBER
};

}  // namespace qk::runtime
