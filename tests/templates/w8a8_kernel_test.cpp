// The W8A8 CPU kernel template, compiled ahead of time (templates stay real C++), against the
// reference of docs/numerics.md on awkward shapes and every epilogue.
#include "cpu/w8a8.hpp"

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../quant/test_data.hpp"
#include "quant/float_formats.hpp"
#include "quant/pack_cpu.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::OutputType;
using cpu::Scaling;
using cpu::W8A8Config;

struct KernelRun {
  std::vector<float> y;  // outputs as floats holding the stored values
  std::vector<std::uint8_t> a_codes;
  std::vector<float> a_scales;
};

template <W8A8Config C>
KernelRun run(const LayerConfig& layer, std::int64_t m, const std::vector<float>& a_float,
              const quant::CpuPackedWeights& packed, const std::vector<float>& bias,
              float static_scale, float out_scale) {
  // The kernel reads activations in its input dtype.
  std::vector<std::uint16_t> a16(a_float.size());
  for (std::size_t i = 0; i < a_float.size(); ++i)
    a16[i] = C.input == InputType::fp16 ? quant::float_to_fp16(a_float[i])
                                        : quant::float_to_bf16(a_float[i]);
  const void* a =
      C.input == InputType::fp32 ? static_cast<const void*>(a_float.data()) : a16.data();

  const int out_bytes = C.output == OutputType::fp32 ? 4 : C.output == OutputType::int8 ? 1 : 2;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(m * layer.n * out_bytes), 0xEE);
  KernelRun r;
  r.a_codes.resize(static_cast<std::size_t>(m * packed.k_padded));
  r.a_scales.resize(static_cast<std::size_t>(m));
  std::vector<std::int32_t> workspace(static_cast<std::size_t>(C.mc * C.nc));
  QkCpuGemmArgs args{};
  args.m = m;
  args.n = layer.n;
  args.k = layer.k;
  args.a = a;
  args.lda = layer.k;
  args.out = out.data();
  args.ldo = layer.n;
  args.packed_w = packed.panels.data();
  args.k_padded = packed.k_padded;
  args.w_scales = packed.scales.data();
  args.w_compensation = packed.compensation.data();
  args.bias = layer.epilogue.bias ? bias.data() : nullptr;
  args.a_static_scale = static_scale;
  args.out_inv_scale = 1.0f / out_scale;
  args.a_codes = r.a_codes.data();
  args.a_scales = r.a_scales.data();
  cpu::W8A8Kernel<C>::quantize(&args, 0, m);
  // Two column halves, as two threads would split them (the split is a multiple of 16).
  const std::int64_t split = (layer.n / 2) / 16 * 16;
  cpu::W8A8Kernel<C>::gemm(&args, 0, split, 0, m, workspace.data());
  cpu::W8A8Kernel<C>::gemm(&args, split, layer.n, 0, m, workspace.data());

  r.y.resize(static_cast<std::size_t>(m * layer.n));
  for (std::size_t i = 0; i < r.y.size(); ++i) {
    const std::uint8_t* p = out.data() + i * out_bytes;
    std::uint16_t h;
    switch (C.output) {
      case OutputType::fp32:
        std::memcpy(&r.y[i], p, 4);
        break;
      case OutputType::fp16:
        std::memcpy(&h, p, 2);
        r.y[i] = quant::fp16_to_float(h);
        break;
      case OutputType::bf16:
        std::memcpy(&h, p, 2);
        r.y[i] = quant::bf16_to_float(h);
        break;
      case OutputType::int8:
        r.y[i] = static_cast<std::int8_t>(*p);
        break;
    }
  }
  return r;
}

QuantType quant_type(InputType t) {
  return t == InputType::fp32   ? QuantType::fp32
         : t == InputType::fp16 ? QuantType::fp16
                                : QuantType::bf16;
}
QuantType quant_type(OutputType t) {
  switch (t) {
    case OutputType::fp32:
      return QuantType::fp32;
    case OutputType::fp16:
      return QuantType::fp16;
    case OutputType::bf16:
      return QuantType::bf16;
    case OutputType::int8:
      return QuantType::int8;
  }
  return QuantType::fp32;
}

template <W8A8Config C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity granularity,
           unsigned seed) {
  LayerConfig layer;
  layer.n = n;
  layer.k = k;
  layer.input_dtype = quant_type(C.input);
  layer.weight_granularity = granularity;
  layer.activation_scaling =
      C.scaling == Scaling::static_per_tensor   ? ActivationScaling::static_per_tensor
      : C.scaling == Scaling::dynamic_per_token ? ActivationScaling::dynamic_per_token
                                                : ActivationScaling::dynamic_per_tensor;
  layer.epilogue = {C.bias, static_cast<Activation>(C.act), quant_type(C.output)};
  SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
               " mr=" + std::to_string(C.mr) + " nv=" + std::to_string(C.nv) +
               " kc=" + std::to_string(C.kc));

  const auto a = test::random_matrix(m, k, seed, 1.0f, 7, 30.0f);
  const auto w = test::random_matrix(n, k, seed + 1, 0.05f);
  const auto bias = test::random_matrix(1, n, seed + 2, 0.5f);
  auto qw = quant::quantize_weights(w, n, k, quant::weight_format_of(layer));
  ASSERT_TRUE(qw);
  auto packed = quant::pack_cpu_int8(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  const float static_scale = 0.05f, out_scale = 0.02f;
  auto ref = quant::reference_gemm(layer, {a, m, &*qw, bias, static_scale, out_scale});
  ASSERT_TRUE(ref) << ref.error().str();

  const KernelRun got = run<C>(layer, m, a, *packed, bias, static_scale, out_scale);
  // Activation codes and scales: bit for bit (docs/numerics.md §6.1).
  for (std::int64_t i = 0; i < m; ++i) {
    ASSERT_EQ(got.a_scales[i], ref->activations->scale(i)) << "row " << i;
    for (std::int64_t j = 0; j < k; ++j)
      ASSERT_EQ(static_cast<int>(got.a_codes[i * packed->k_padded + j]) - 128,
                static_cast<std::int8_t>(ref->activations->codes[i * k + j]))
          << "code " << i << "," << j;
  }
  // Without an epilogue the float ops are the reference's own, in its order: exact equality
  // shows the int32 accumulation is exact.
  if (!C.bias && C.act == Act::none && C.output == OutputType::fp32) {
    for (std::size_t i = 0; i < got.y.size(); ++i) ASSERT_EQ(got.y[i], ref->accumulated[i]) << i;
  }
  auto ok = quant::compare_to_reference(layer, *ref, got.y);
  EXPECT_TRUE(ok) << ok.error().str();
}

constexpr W8A8Config kPlain{
    .input = InputType::fp32, .scaling = Scaling::dynamic_per_token, .output = OutputType::fp32};

TEST(W8A8Kernel, AwkwardShapesExactIntegerPart) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {4, 37, 200, 1031})
        check<kPlain>(m, n, k, WeightGranularity::per_channel, seed++);
}

TEST(W8A8Kernel, SmallTilesAndKBlocking) {
  // kc smaller than K forces the int32 workspace between K blocks; mc and nc split the block.
  constexpr W8A8Config small{.mr = 2, .nv = 1, .kc = 64, .mc = 4, .nc = 32};
  constexpr W8A8Config wide{.mr = 1, .nv = 8, .kc = 128, .mc = 8, .nc = 256};
  constexpr W8A8Config tall{.mr = 14, .nv = 2, .kc = 256, .mc = 28, .nc = 64};
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 31})
    for (std::int64_t k : {60, 300}) {
      check<small>(m, 50, k, WeightGranularity::per_channel, seed++);
      check<wide>(m, 150, k, WeightGranularity::per_tensor, seed++);
      check<tall>(m, 70, k, WeightGranularity::per_channel, seed++);
    }
}

TEST(W8A8Kernel, EveryScalingInputAndEpilogue) {
  constexpr W8A8Config fp16_static{.input = InputType::fp16,
                                   .scaling = Scaling::static_per_tensor,
                                   .bias = true,
                                   .act = Act::relu,
                                   .output = OutputType::fp16};
  constexpr W8A8Config bf16_tensor{.input = InputType::bf16,
                                   .scaling = Scaling::dynamic_per_tensor,
                                   .bias = false,
                                   .act = Act::silu,
                                   .output = OutputType::bf16};
  constexpr W8A8Config gelu_int8{.input = InputType::fp32,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu,
                                 .output = OutputType::int8};
  constexpr W8A8Config gelu_tanh{.input = InputType::fp16,
                                 .scaling = Scaling::dynamic_per_token,
                                 .bias = true,
                                 .act = Act::gelu_tanh,
                                 .output = OutputType::fp32};
  unsigned seed = 200;
  for (std::int64_t m : {1, 7, 40}) {
    check<fp16_static>(m, 48, 96, WeightGranularity::per_channel, seed++);
    check<bf16_tensor>(m, 40, 132, WeightGranularity::per_tensor, seed++);
    check<gelu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<gelu_tanh>(m, 17, 260, WeightGranularity::per_channel, seed++);
  }
}

// docs/numerics.md §6.2: at the K bound the u8 offset makes the raw sums wrap; the result is
// still exact.
TEST(W8A8Kernel, ExactAtTheKBound) {
  const std::int64_t k = 2147483647LL / (127 * 127);
  check<kPlain>(1, 16, k, WeightGranularity::per_channel, 7);
}

}  // namespace
}  // namespace qk
