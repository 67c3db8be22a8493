// Runs a CPU kernel template compiled ahead of time (the templates are real C++) and checks it
// against the reference of docs/numerics.md: activation codes and scales bit for bit, the
// int32 part exactly (equal outputs when there is no epilogue), the rest within §8's tolerance;
// for the weight-only families, which quantize no activations, see check_weight_only.
#pragma once

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../quant/test_data.hpp"
#include "cpu/abi.h"
#include "cpu/config.hpp"
#include "quant/float_formats.hpp"
#include "quant/pack_cpu.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

namespace qk::test {

inline QuantType quant_type(cpu::InputType t) {
  return t == cpu::InputType::fp32   ? QuantType::fp32
         : t == cpu::InputType::fp16 ? QuantType::fp16
                                     : QuantType::bf16;
}

inline QuantType quant_type(cpu::OutputType t) {
  switch (t) {
    case cpu::OutputType::fp32:
      return QuantType::fp32;
    case cpu::OutputType::fp16:
      return QuantType::fp16;
    case cpu::OutputType::bf16:
      return QuantType::bf16;
    case cpu::OutputType::int8:
      return QuantType::int8;
  }
  return QuantType::fp32;
}

/// A layer with the config's input, scaling and epilogue; the caller sets formats and shape.
template <class Config>
LayerConfig layer_for(const Config& c) {
  LayerConfig layer;
  layer.input_dtype = quant_type(c.input);
  layer.activation_scaling =
      c.scaling == cpu::Scaling::static_per_tensor    ? ActivationScaling::static_per_tensor
      : c.scaling == cpu::Scaling::dynamic_per_token  ? ActivationScaling::dynamic_per_token
      : c.scaling == cpu::Scaling::dynamic_per_tensor ? ActivationScaling::dynamic_per_tensor
                                                      : ActivationScaling::none;
  // Float activations (the weight-only families) are multiplied in their own type.
  if (c.scaling == cpu::Scaling::none) layer.activation_quant = layer.input_dtype;
  layer.epilogue = {c.bias, static_cast<Activation>(c.act), quant_type(c.output)};
  return layer;
}

struct KernelRun {
  std::vector<float> y;  ///< outputs as floats holding the stored values
  std::vector<std::uint8_t> a_codes;
  std::vector<float> a_scales;
};

/// Runs Kernel (quantize over all rows, then the GEMM in two column halves, as two threads would).
template <class Kernel, class Config>
KernelRun run(const Config& c, const LayerConfig& layer, std::int64_t m,
              const std::vector<float>& a_float, const quant::CpuPackedWeights& packed,
              const std::vector<float>& bias, float static_scale, float out_scale) {
  std::vector<std::uint16_t> a16(a_float.size());
  for (std::size_t i = 0; i < a_float.size(); ++i)
    a16[i] = c.input == cpu::InputType::fp16 ? quant::float_to_fp16(a_float[i])
                                             : quant::float_to_bf16(a_float[i]);
  const std::size_t out_bytes = bits_of(layer.epilogue.output) / 8;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(m * layer.n) * out_bytes, 0xEE);
  KernelRun r;
  // Codes (1 byte) or, for the weight-only families, fp32 activations (4 bytes) per element.
  r.a_codes.resize(static_cast<std::size_t>(m * packed.k_padded) * 4);
  r.a_scales.resize(static_cast<std::size_t>(m));
  std::vector<std::int32_t> group_sums(static_cast<std::size_t>(m * packed.groups));
  std::vector<std::int32_t> workspace(static_cast<std::size_t>(c.mc * c.nc));

  QkCpuGemmArgs args{};
  args.m = m;
  args.n = layer.n;
  args.k = layer.k;
  args.a = c.input == cpu::InputType::fp32 ? static_cast<const void*>(a_float.data()) : a16.data();
  args.lda = layer.k;
  args.out = out.data();
  args.ldo = layer.n;
  args.packed_w = packed.panels.data();
  args.k_padded = packed.k_padded;
  args.group_k = packed.group_k;
  args.groups = packed.groups;
  args.w_scales = packed.scales.data();
  args.w_compensation = packed.compensation.data();
  // As the runtime passes them: int4 kernels (W4A8, W4A16) read none when the weights are
  // symmetric.
  const bool int4 = layer.weight_quant == QuantType::int4;
  args.w_zero_points = int4 && layer.weight_symmetric ? nullptr : packed.zero_points.data();
  args.bias = layer.epilogue.bias ? bias.data() : nullptr;
  args.a_static_scale = static_scale;
  args.out_inv_scale = 1.0f / out_scale;
  args.a_codes = r.a_codes.data();
  args.a_scales = r.a_scales.data();
  args.a_group_sums = group_sums.data();
  Kernel::quantize(&args, 0, m);
  const std::int64_t split = (layer.n / 2) / 16 * 16;
  Kernel::gemm(&args, 0, split, 0, m, workspace.data());
  Kernel::gemm(&args, split, layer.n, 0, m, workspace.data());

  r.y.resize(static_cast<std::size_t>(m * layer.n));
  for (std::size_t i = 0; i < r.y.size(); ++i) {
    const std::uint8_t* p = out.data() + i * out_bytes;
    std::uint16_t h;
    switch (layer.epilogue.output) {
      case QuantType::fp32:
        std::memcpy(&r.y[i], p, 4);
        break;
      case QuantType::fp16:
        std::memcpy(&h, p, 2);
        r.y[i] = quant::fp16_to_float(h);
        break;
      case QuantType::bf16:
        std::memcpy(&h, p, 2);
        r.y[i] = quant::bf16_to_float(h);
        break;
      default:
        r.y[i] = static_cast<std::int8_t>(*p);
        break;
    }
  }
  return r;
}

/// The weight-only families (docs/numerics.md §6.3): §8's tolerance, and for fp8 and float
/// weights without an epilogue a tighter one. Those the kernel multiplies exactly as the reference
/// does (fp8: dequantized by one fp32 multiply, rounded to the activation type) and their products
/// are exact, so only the fp32 summation order differs: (K + 2) u_fp32 of the magnitude, without
/// §8's extra u_activation_type; a kernel that skipped the rounding would pass §8 but fail this.
/// Integer weights are held to §8 itself: the kernel does not round them to the activation type
/// (§6.3; the in-register tile scales each group's sum of exact products instead).
template <class Config>
void check_weight_only(const Config& c, const LayerConfig& layer, const quant::GemmReference& ref,
                       const KernelRun& got) {
  const bool integer_weights =
      layer.weight_quant == QuantType::int8 || layer.weight_quant == QuantType::int4;
  if (!integer_weights && !c.bias && c.act == cpu::Act::none &&
      c.output == cpu::OutputType::fp32) {
    const double rtol = static_cast<double>(layer.k + 2) * std::ldexp(1.0, -24);
    for (std::size_t i = 0; i < got.y.size(); ++i)
      ASSERT_LE(std::fabs(double{got.y[i]} - ref.accumulated[i]), rtol * ref.magnitude[i])
          << "y[" << i / layer.n << ", " << i % layer.n << "] = " << got.y[i] << ", reference "
          << ref.accumulated[i];
  }
  auto ok = quant::compare_to_reference(layer, ref, got.y);
  EXPECT_TRUE(ok) << ok.error().str();
}

using PackFn = std::function<Expected<quant::CpuPackedWeights>(const quant::QuantizedWeights&)>;

/// Checks Kernel on the activations a [m, k] and weights w [n, k] of `layer` (formats and shape
/// set) against the reference. `code_offset`: what the kernel adds to an s8 activation code (128
/// for W8A8's u8 operand).
template <class Kernel, class Config>
void check_kernel_on(const Config& c, const LayerConfig& layer, std::int64_t m, const PackFn& pack,
                     int code_offset, const std::vector<float>& a, const std::vector<float>& w,
                     unsigned seed) {
  SCOPED_TRACE("m=" + std::to_string(m) + " n=" + std::to_string(layer.n) +
               " k=" + std::to_string(layer.k) + " mr=" + std::to_string(c.mr) +
               " nv=" + std::to_string(c.nv));
  const auto bias = random_matrix(1, layer.n, seed + 2, 0.5f);
  auto qw = quant::quantize_weights(w, layer.n, layer.k, quant::weight_format_of(layer));
  ASSERT_TRUE(qw) << qw.error().str();
  auto packed = pack(*qw);
  ASSERT_TRUE(packed) << packed.error().str();
  const float static_scale = 0.05f, out_scale = 0.02f;
  auto ref = quant::reference_gemm(layer, {a, m, &*qw, bias, static_scale, out_scale});
  ASSERT_TRUE(ref) << ref.error().str();

  const KernelRun got = run<Kernel>(c, layer, m, a, *packed, bias, static_scale, out_scale);
  if (!ref->activations) {  // weight-only: the activations are not quantized
    check_weight_only(c, layer, *ref, got);
    return;
  }
  for (std::int64_t i = 0; i < m; ++i) {
    ASSERT_EQ(got.a_scales[i], ref->activations->scale(i)) << "row " << i;
    for (std::int64_t j = 0; j < layer.k; ++j)
      ASSERT_EQ(static_cast<int>(
                    static_cast<std::int8_t>(got.a_codes[i * packed->k_padded + j] - code_offset)),
                static_cast<std::int8_t>(ref->activations->codes[i * layer.k + j]))
          << "code " << i << "," << j;
  }
  // Without an epilogue the kernel's float operations are the reference's own, in its order:
  // equal outputs show that the integer part is exact.
  if (!c.bias && c.act == cpu::Act::none && c.output == cpu::OutputType::fp32) {
    for (std::size_t i = 0; i < got.y.size(); ++i) ASSERT_EQ(got.y[i], ref->accumulated[i]) << i;
  }
  auto ok = quant::compare_to_reference(layer, *ref, got.y);
  EXPECT_TRUE(ok) << ok.error().str();
}

/// check_kernel_on random activations (every 7th k an outlier 30 times larger) and weights.
template <class Kernel, class Config>
void check_kernel(const Config& c, const LayerConfig& layer, std::int64_t m, const PackFn& pack,
                  int code_offset, unsigned seed) {
  check_kernel_on<Kernel>(c, layer, m, pack, code_offset,
                          random_matrix(m, layer.k, seed, 1.0f, 7, 30.0f),
                          random_matrix(layer.n, layer.k, seed + 1, 0.05f), seed);
}

}  // namespace qk::test
