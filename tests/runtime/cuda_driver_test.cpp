// The CUDA driver loaded with dlopen: every way it can be absent is a clear "no CUDA device"
// error, the function table resolves from the toolkit's stub libcuda (which has every symbol
// and whose cuInit always fails), and the pure parts (arch of a compute capability, fingerprint,
// result names) are checked here since no machine of this project has a GPU.
#include "runtime/cuda_driver.hpp"

#include <stdlib.h>

#include <gtest/gtest.h>

namespace qk::runtime {
namespace {

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not in: " << text;
}

TEST(CudaDriver, AMissingLibraryIsNoCudaDevice) {
  auto driver = CudaDriver::load("/nonexistent/libcuda.so.1");
  ASSERT_FALSE(driver);
  EXPECT_EQ(driver.error().code, Errc::unsupported);
  EXPECT_TRUE(
      contains(driver.error().message, "no CUDA device: /nonexistent/libcuda.so.1 not found ("));
  EXPECT_TRUE(contains(driver.error().message, "QK_LIBCUDA"));
}

TEST(CudaDriver, ALibraryWithoutTheDriverFunctionsNamesTheFirstMissing) {
  auto driver = CudaDriver::load("libm.so.6");
  ASSERT_FALSE(driver);
  EXPECT_EQ(driver.error().code, Errc::unsupported);
  EXPECT_TRUE(contains(driver.error().message,
                       "no CUDA device: libm.so.6 lacks the driver function cuGetErrorName"));
}

// The stub exports every function (versioned names included: cuMemAlloc_v2, cuEventDestroy_v2,
// cuEventElapsedTime_v2, …), so getting as far as cuInit proves the whole table resolved; its
// cuInit returns CUDA_ERROR_STUB_LIBRARY and it cannot name that result itself.
TEST(CudaDriver, TheToolkitStubResolvesEveryFunctionAndCuInitFails) {
  auto driver = CudaDriver::load(QK_LIBCUDA_STUB);
  ASSERT_FALSE(driver);
  EXPECT_EQ(driver.error().code, Errc::unsupported);
  EXPECT_EQ(driver.error().where, QK_LIBCUDA_STUB);
  EXPECT_TRUE(contains(driver.error().message,
                       "no CUDA device: cuInit failed with CUDA_ERROR_STUB_LIBRARY (34)"));
}

// CudaDriver::get() loads default_libcuda() once per process and remembers the outcome, so it is
// tested in processes of its own: ctest's QkGpuCheck.WithoutADeviceStopsCleanly.* run
// qk-gpu-check with QK_LIBCUDA set to the stub and to a missing file.
TEST(CudaDriver, TheKnobChoosesTheLibrary) {
  ASSERT_EQ(setenv("QK_LIBCUDA", QK_LIBCUDA_STUB, 1), 0);
  EXPECT_EQ(default_libcuda(), QK_LIBCUDA_STUB);
  ASSERT_EQ(setenv("QK_LIBCUDA", "", 1), 0);
  EXPECT_EQ(default_libcuda(), "libcuda.so.1") << "an empty knob is unset";
  ASSERT_EQ(unsetenv("QK_LIBCUDA"), 0);
  EXPECT_EQ(default_libcuda(), "libcuda.so.1");
}

TEST(CudaDriver, ResultsAreNamedWithoutADriver) {
  EXPECT_EQ(describe_cuda_result(nullptr, 100), "CUDA_ERROR_NO_DEVICE (100)");
  EXPECT_EQ(describe_cuda_result(nullptr, 36), "CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER (36)");
  EXPECT_EQ(describe_cuda_result(nullptr, 123456), "an unknown CUresult (123456)");
}

TEST(CudaDeviceArch, EachSupportedComputeCapabilityHasItsArch) {
  using codegen::CudaArch;
  EXPECT_EQ(*arch_of_compute_capability(8, 0, "A100"), CudaArch::sm_80);
  EXPECT_EQ(*arch_of_compute_capability(8, 6, "A10"), CudaArch::sm_86);
  EXPECT_EQ(*arch_of_compute_capability(8, 9, "L4"), CudaArch::sm_89);
  EXPECT_EQ(*arch_of_compute_capability(9, 0, "H100"), CudaArch::sm_90a);
}

TEST(CudaDeviceArch, AnyOtherIsUnsupportedNamingItAndTheSupportedList) {
  for (auto [major, minor] : {std::pair{7, 5}, {8, 7}, {10, 0}, {12, 0}}) {
    auto arch = arch_of_compute_capability(major, minor, "Some GPU");
    ASSERT_FALSE(arch) << major << "." << minor;
    EXPECT_EQ(arch.error().code, Errc::unsupported);
    EXPECT_EQ(arch.error().where, "Some GPU");
    EXPECT_TRUE(contains(arch.error().message, "compute capability " + std::to_string(major) + "." +
                                                   std::to_string(minor) + " is not supported"));
    EXPECT_TRUE(contains(arch.error().message,
                         "sm_80 (cc 8.0), sm_86 (cc 8.6), sm_89 (cc 8.9), sm_90a (cc 9.0)"));
  }
}

TEST(CudaDeviceInfo, TheFingerprintHoldsEverythingThatKeysATuningRecord) {
  CudaDeviceInfo info;
  info.name = "NVIDIA A100-SXM4-80GB";
  info.cc_major = 8;
  info.cc_minor = 0;
  info.arch = codegen::CudaArch::sm_80;
  info.sm_count = 108;
  info.driver_version = 13000;
  EXPECT_EQ(info.fingerprint(),
            "cuda:NVIDIA A100-SXM4-80GB | sm_80 (cc 8.0) | 108 SMs | driver 13.0");
  CudaDeviceInfo other = info;
  other.sm_count = 132;
  EXPECT_NE(other.fingerprint(), info.fingerprint());
  other = info;
  other.driver_version = 12080;
  EXPECT_EQ(other.fingerprint(),
            "cuda:NVIDIA A100-SXM4-80GB | sm_80 (cc 8.0) | 108 SMs | driver 12.8");
}

}  // namespace
}  // namespace qk::runtime
