// What the cuda launcher decides before anything reaches a GPU: a launch's arguments against the
// kernel's spec (scales, bias, alignment, dimensions) and the dynamic shared memory a device
// allows. The driver calls themselves need a GPU (bench/gpu/ runs them).
#include "runtime/cuda_launcher.hpp"

#include <cmath>

#include <gtest/gtest.h>

#include "codegen/cuda_tile.hpp"

namespace qk::runtime {
namespace {

alignas(16) unsigned char g_buffer[256];

codegen::CudaKernelSpec spec(ActivationScaling scaling, bool bias) {
  codegen::CudaKernelSpec s;
  s.scaling = scaling;
  s.bias = bias;
  s.tile = codegen::cuda_tiles(GemmFamily::w8a8).front();
  return s;
}

/// Arguments every rule accepts for spec(static, bias): aligned, every pointer set.
QkCudaGemmArgs good_args() {
  QkCudaGemmArgs args{};
  args.a = g_buffer;
  args.w = reinterpret_cast<const int8_t*>(g_buffer + 64);
  args.w_scale = reinterpret_cast<const float*>(g_buffer + 128);
  args.a_scale = reinterpret_cast<const float*>(g_buffer + 144);
  args.bias = reinterpret_cast<const float*>(g_buffer + 160);
  args.y = g_buffer + 192;
  args.m = 3;
  args.n = 5;
  args.k = 32;
  return args;
}

TEST(CudaLauncher, AGoodLaunchGetsTheKernelsGeometry) {
  const auto s = spec(ActivationScaling::static_per_tensor, true);
  const auto kernel = codegen::render_cuda(s);
  auto g = prepare_launch(s, kernel, good_args());
  ASSERT_TRUE(g) << g.error().str();
  EXPECT_EQ(g->grid_x, 1u);
  EXPECT_EQ(g->grid_y, 1u);
  EXPECT_EQ(g->block_x, static_cast<unsigned>(kernel.threads));
  EXPECT_EQ(g->smem_bytes, static_cast<unsigned>(kernel.smem_bytes));
}

TEST(CudaLauncher, ArgumentsThatDoNotMatchTheKernelAreRefusedByName) {
  const auto with_bias = spec(ActivationScaling::static_per_tensor, true);
  const auto without_bias = spec(ActivationScaling::static_per_tensor, false);
  const auto per_token = spec(ActivationScaling::dynamic_per_token, false);
  auto int8_out = spec(ActivationScaling::static_per_tensor, true);
  int8_out.output = QuantType::int8;
  struct Case {
    const codegen::CudaKernelSpec* spec;
    void (*change)(QkCudaGemmArgs&);
    const char* where;
    const char* says;
  };
  const Case cases[] = {
      {&with_bias, [](QkCudaGemmArgs& a) { a.bias = nullptr; }, "bias", "built with a bias"},
      {&without_bias, [](QkCudaGemmArgs&) {}, "bias", "built without a bias"},
      {&with_bias, [](QkCudaGemmArgs& a) { a.a_scale = nullptr; }, "a_scale", "static per-tensor"},
      {&with_bias, [](QkCudaGemmArgs& a) { a.w_scale = nullptr; }, "w_scale", "is null"},
      {&with_bias, [](QkCudaGemmArgs& a) { a.y = g_buffer + 1; }, "y", "16-byte aligned"},
      {&with_bias, [](QkCudaGemmArgs& a) { a.k = 40; }, "k", "multiple of 16"},
      {&with_bias, [](QkCudaGemmArgs& a) { a.m = 0; }, "m", "[1, 2^31 - 1]"},
      {&per_token, [](QkCudaGemmArgs& a) { a.a_scale = nullptr; }, "bias", "built without"},
      {&int8_out, [](QkCudaGemmArgs& a) { a.out_inv_scale = 0.0f; }, "out_inv_scale", "> 0"},
      {&int8_out, [](QkCudaGemmArgs& a) { a.out_inv_scale = INFINITY; }, "out_inv_scale",
       "requantizes Y to int8"},
      {&int8_out, [](QkCudaGemmArgs& a) { a.out_inv_scale = NAN; }, "out_inv_scale", "finite"},
  };
  for (const Case& c : cases) {
    QkCudaGemmArgs args = good_args();
    c.change(args);
    auto g = prepare_launch(*c.spec, codegen::render_cuda(*c.spec), args);
    ASSERT_FALSE(g) << c.where;
    EXPECT_EQ(g.error().code, Errc::invalid_argument);
    EXPECT_EQ(g.error().where, c.where);
    EXPECT_NE(g.error().message.find(c.says), std::string::npos) << g.error().message;
  }
}

TEST(CudaLauncher, PerTokenScalingNeedsNoActivationScale) {
  const auto s = spec(ActivationScaling::dynamic_per_token, false);
  QkCudaGemmArgs args = good_args();
  args.a_scale = nullptr;
  args.bias = nullptr;
  EXPECT_TRUE(prepare_launch(s, codegen::render_cuda(s), args));
}

TEST(CudaLauncher, Int8OutputTakesAFiniteInverseScaleOthersIgnoreIt) {
  auto s = spec(ActivationScaling::static_per_tensor, true);
  QkCudaGemmArgs args = good_args();
  args.out_inv_scale = NAN;
  EXPECT_TRUE(prepare_launch(s, codegen::render_cuda(s), args)) << "fp16 Y never reads it";
  s.output = QuantType::int8;
  args.out_inv_scale = 1.0f / 0.03f;
  EXPECT_TRUE(prepare_launch(s, codegen::render_cuda(s), args));
}

TEST(CudaLauncher, DynamicSharedMemoryMustFitTheDevicesOptInLimit) {
  CudaDeviceInfo device;
  device.name = "NVIDIA L4";
  device.arch = codegen::CudaArch::sm_89;
  device.smem_per_block_optin = 101376;  // 99 KB, as an sm_89 device reports it
  EXPECT_TRUE(check_dynamic_smem(96256, device));
  EXPECT_TRUE(check_dynamic_smem(101376, device));
  auto too_big = check_dynamic_smem(101377, device);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, Errc::unsupported);
  EXPECT_EQ(too_big.error().where, "NVIDIA L4");
  EXPECT_NE(too_big.error().message.find("101377 bytes"), std::string::npos);
  EXPECT_NE(too_big.error().message.find("at most 101376 (sm_89)"), std::string::npos);
}

}  // namespace
}  // namespace qk::runtime
