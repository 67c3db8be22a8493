// The reference fused GEMMs (docs/numerics.md §6–§7) against an independent float64 computation
// on the same quantized operands, for every family, over awkward shapes.
#include "quant/reference_gemm.hpp"

#include <cmath>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "quant/float_formats.hpp"
#include "quant/int4_pack.hpp"
#include "test_data.hpp"

namespace qk::quant {
namespace {

struct Case {
  std::string label;
  LayerConfig layer;
};

LayerConfig make_layer(QuantType w, QuantType a, WeightGranularity g, int block, bool symmetric,
                       ActivationScaling scaling, Epilogue epilogue) {
  LayerConfig l;
  l.name = "test";
  l.weight_quant = w;
  l.activation_quant = a;
  l.input_dtype = is_float(a) ? a : QuantType::fp16;
  l.weight_granularity = g;
  l.block_size = block;
  l.weight_symmetric = symmetric;
  l.activation_scaling = scaling;
  l.epilogue = epilogue;
  return l;
}

std::vector<Case> all_cases() {
  using Q = QuantType;
  using G = WeightGranularity;
  using S = ActivationScaling;
  const Epilogue plain{false, Activation::none, Q::fp32};
  const Epilogue bias_gelu_fp16{true, Activation::gelu, Q::fp16};
  const Epilogue silu_bf16{false, Activation::silu, Q::bf16};
  const Epilogue bias_relu_int8{true, Activation::relu, Q::int8};
  const Epilogue gelu_tanh_fp32{true, Activation::gelu_tanh, Q::fp32};
  return {
      {"w8a8 per-channel, per-token",
       make_layer(Q::int8, Q::int8, G::per_channel, 0, true, S::dynamic_per_token, bias_gelu_fp16)},
      {"w8a8 per-tensor, static",
       make_layer(Q::int8, Q::int8, G::per_tensor, 0, true, S::static_per_tensor, plain)},
      {"w8a8 per-channel, dynamic per-tensor, int8 out",
       make_layer(Q::int8, Q::int8, G::per_channel, 0, true, S::dynamic_per_tensor,
                  bias_relu_int8)},
      {"w4a8 g64",
       make_layer(Q::int4, Q::int8, G::per_group, 64, true, S::dynamic_per_token, silu_bf16)},
      {"w4a8 g32 asym",
       make_layer(Q::int4, Q::int8, G::per_group, 32, false, S::dynamic_per_token, plain)},
      {"w4a8 per-channel",
       make_layer(Q::int4, Q::int8, G::per_channel, 0, true, S::dynamic_per_token, gelu_tanh_fp32)},
      {"w8a16 per-channel fp16",
       make_layer(Q::int8, Q::fp16, G::per_channel, 0, true, S::none, bias_gelu_fp16)},
      {"w8a16 g128 bf16",
       make_layer(Q::int8, Q::bf16, G::per_group, 128, true, S::none, silu_bf16)},
      {"w4a16 g128 fp16", make_layer(Q::int4, Q::fp16, G::per_group, 128, true, S::none, plain)},
      {"w4a16 g64 asym bf16",
       make_layer(Q::int4, Q::bf16, G::per_group, 64, false, S::none, bias_relu_int8)},
      {"w4a16 per-channel asym fp16",
       make_layer(Q::int4, Q::fp16, G::per_channel, 0, false, S::none, plain)},
      {"wfp8a16 e4m3 fp16",
       make_layer(Q::fp8_e4m3, Q::fp16, G::per_channel, 0, true, S::none, bias_gelu_fp16)},
      {"wfp8a16 e5m2 bf16",
       make_layer(Q::fp8_e5m2, Q::bf16, G::per_tensor, 0, true, S::none, plain)},
      {"fp8 e4m3 x e4m3", make_layer(Q::fp8_e4m3, Q::fp8_e4m3, G::per_channel, 0, true,
                                     S::dynamic_per_token, silu_bf16)},
      {"fp8 e5m2 x e4m3, static", make_layer(Q::fp8_e5m2, Q::fp8_e4m3, G::per_tensor, 0, true,
                                             S::static_per_tensor, bias_relu_int8)},
      {"fp16", make_layer(Q::fp16, Q::fp16, G::per_channel, 0, true, S::none, bias_gelu_fp16)},
      {"bf16", make_layer(Q::bf16, Q::bf16, G::per_channel, 0, true, S::none, plain)},
      {"fp32", make_layer(Q::fp32, Q::fp32, G::per_channel, 0, true, S::none, gelu_tanh_fp32)},
  };
}

// --- An independent float64 model of the contract, written from docs/numerics.md. ---

double decode_weight(const QuantizedWeights& q, std::int64_t n, std::int64_t kk) {
  const auto row = std::span(q.codes).subspan(n * q.row_bytes(), q.row_bytes());
  const std::int64_t group =
      q.format.granularity == WeightGranularity::per_group ? kk / q.format.block_size : 0;
  const std::int64_t param =
      q.format.granularity == WeightGranularity::per_tensor ? 0 : n * q.groups() + group;
  std::uint16_t half;
  switch (q.format.type) {
    case QuantType::int8:
      return static_cast<std::int8_t>(row[kk]) * double{q.scales[param]};
    case QuantType::int4: {
      const int code = kk % 2 == 0 ? row[kk / 2] & 0xF : row[kk / 2] >> 4;
      const int zero = q.format.symmetric ? 8 : q.zero_points[param];
      return (code - zero) * double{q.scales[param]};
    }
    case QuantType::fp8_e4m3:
      return fp8_to_float(row[kk], Fp8Format::e4m3) * double{q.scales[param]};
    case QuantType::fp8_e5m2:
      return fp8_to_float(row[kk], Fp8Format::e5m2) * double{q.scales[param]};
    case QuantType::fp16:
      std::memcpy(&half, &row[2 * kk], 2);
      return fp16_to_float(half);
    case QuantType::bf16:
      std::memcpy(&half, &row[2 * kk], 2);
      return bf16_to_float(half);
    case QuantType::fp32: {
      float f;
      std::memcpy(&f, &row[4 * kk], 4);
      return f;
    }
  }
  return 0;
}

double activation64(Activation f, double x) {
  switch (f) {
    case Activation::none:
      return x;
    case Activation::relu:
      return x > 0 ? x : 0;
    case Activation::gelu:
      return x * 0.5 * std::erfc(-x / std::sqrt(2.0));
    case Activation::gelu_tanh:
      return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case Activation::silu:
      return x / (1 + std::exp(-x));
  }
  return x;
}

double output_roundoff(QuantType t) {
  return t == QuantType::fp16 ? 0x1p-11 : t == QuantType::bf16 ? 0x1p-8 : 0x1p-24;
}

void check_case(const Case& c, std::int64_t m, std::int64_t n, std::int64_t k, unsigned seed) {
  LayerConfig layer = c.layer;
  layer.n = n;
  layer.k = k;
  SCOPED_TRACE(c.label + " m=" + std::to_string(m) + " n=" + std::to_string(n) +
               " k=" + std::to_string(k));
  const auto a = test::random_matrix(m, k, seed, 1.0f, 11, 20.0f);
  const auto w = test::random_matrix(n, k, seed + 1, 0.05f);
  const auto bias = test::random_matrix(1, n, seed + 2, 0.5f);
  auto qw = quantize_weights(w, n, k, weight_format_of(layer));
  ASSERT_TRUE(qw) << qw.error().str();

  GemmInputs in{a, m, &*qw, bias, 0.05f, 0.02f};
  auto ref = reference_gemm(layer, in);
  ASSERT_TRUE(ref) << ref.error().str();
  ASSERT_EQ(ref->y.size(), static_cast<std::size_t>(m * n));

  const bool quantized_acts = layer.activation_scaling != ActivationScaling::none;
  ASSERT_EQ(quantized_acts, ref->activations.has_value());
  const std::int64_t groups =
      accumulates_in_int32(*family_of(layer.weight_quant, layer.activation_quant)) ? qw->groups()
                                                                                   : 0;
  ASSERT_EQ(static_cast<std::int64_t>(ref->int_accumulators.size()), m * n * groups);

  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double y = 0, magnitude = 0;
      std::vector<std::int64_t> int_sums(static_cast<std::size_t>(groups), 0);
      for (std::int64_t kk = 0; kk < k; ++kk) {
        double av, wv = decode_weight(*qw, j, kk);
        if (quantized_acts) {
          const QuantizedActivations& qa = *ref->activations;
          const std::uint8_t code = qa.codes[i * k + kk];
          const double unscaled = layer.activation_quant == QuantType::int8
                                      ? static_cast<std::int8_t>(code)
                                      : fp8_to_float(code, fp8_format_of(layer.activation_quant));
          av = unscaled * qa.scale(i);
          if (groups > 0) {
            const double w_unscaled = wv / qw->scale(j, kk);
            int_sums[kk / (k / groups)] +=
                static_cast<std::int64_t>(unscaled) * std::llround(w_unscaled);
          }
        } else {
          av = round_to(layer.input_dtype, a[i * k + kk]);
          wv = round_to(layer.activation_quant, static_cast<float>(wv));  // §6.3
        }
        y += av * wv;
        magnitude += std::fabs(av * wv);
      }
      for (std::int64_t g = 0; g < groups; ++g)
        ASSERT_EQ(ref->int_accumulators[(i * n + j) * groups + g], int_sums[g]) << "group " << g;

      if (layer.epilogue.bias) y += bias[j];
      y = activation64(layer.epilogue.activation, y);
      const double got = ref->y[i * n + j];
      if (layer.epilogue.output == QuantType::int8) {
        EXPECT_LE(std::fabs(got - std::clamp(std::nearbyint(y / 0.02), -127.0, 127.0)), 1.0)
            << i << "," << j;
        continue;
      }
      const double bound = 2 * output_roundoff(layer.epilogue.output) * std::fabs(y) +
                           1.25 * (std::max<std::int64_t>(groups, 1) + 4) * 0x1p-24 * magnitude +
                           0x1p-20 * std::fabs(y);
      EXPECT_LE(std::fabs(got - y), bound)
          << "y[" << i << "," << j << "] = " << got << " vs float64 " << y;
    }
  }
}

// §6–§7 for every family, awkward shapes: m = 1, 3, 17; n and k not powers of two.
TEST(ReferenceGemm, MatchesFloat64OnTheSameQuantizedOperands) {
  unsigned seed = 1;
  for (const Case& c : all_cases()) {
    const bool grouped = c.layer.weight_granularity == WeightGranularity::per_group;
    for (std::int64_t m : {1, 3, 17})
      for (std::int64_t n : {5, 33})
        for (std::int64_t k :
             grouped ? std::vector<std::int64_t>{384, 640} : std::vector<std::int64_t>{37, 384})
          check_case(c, m, n, k, seed++);
  }
}

// §6.2: at the largest K validate_layer accepts for w8a8, the int32 accumulator holds the
// extreme sum 127 * 127 * K exactly, for both signs.
TEST(ReferenceGemm, Int32AccumulationExactAtTheKBound) {
  const std::int64_t k = 2147483647LL / (127 * 127);  // docs/plan.md: the K bound of w8a8
  LayerConfig layer =
      make_layer(QuantType::int8, QuantType::int8, WeightGranularity::per_channel, 0, true,
                 ActivationScaling::dynamic_per_token, {false, Activation::none, QuantType::fp32});
  layer.n = 2;
  layer.k = k;
  const std::vector<float> a(k, 1.0f);
  std::vector<float> w(2 * k, 1.0f);
  std::fill(w.begin() + k, w.end(), -1.0f);
  auto qw = quantize_weights(w, 2, k, weight_format_of(layer));
  ASSERT_TRUE(qw);
  auto ref = reference_gemm(layer, {a, 1, &*qw, {}, 0, 0});
  ASSERT_TRUE(ref) << ref.error().str();
  EXPECT_EQ(ref->int_accumulators[0], 127LL * 127 * k);
  EXPECT_EQ(ref->int_accumulators[1], -127LL * 127 * k);
}

TEST(ReferenceGemm, RejectsMismatchedInputs) {
  LayerConfig layer = all_cases()[0].layer;
  layer.n = 4;
  layer.k = 64;
  const auto a = test::random_matrix(2, 64, 1);
  const auto w = test::random_matrix(4, 64, 2);
  auto qw = quantize_weights(w, 4, 64, weight_format_of(layer));
  ASSERT_TRUE(qw);
  const std::vector<float> bias(4, 0.0f);
  EXPECT_FALSE(reference_gemm(layer, {a, 3, &*qw, bias, 0, 0})) << "m does not match the data";
  EXPECT_FALSE(reference_gemm(layer, {a, 2, &*qw, {}, 0, 0})) << "the layer has a bias";
  EXPECT_FALSE(reference_gemm(layer, {a, 2, nullptr, bias, 0, 0})) << "no weights";
  LayerConfig other = layer;
  other.k = 32;
  EXPECT_FALSE(reference_gemm(other, {a, 2, &*qw, bias, 0, 0})) << "weights of another shape";
  LayerConfig static_layer = all_cases()[1].layer;
  static_layer.n = 4;
  static_layer.k = 64;
  auto qw_per_tensor = quantize_weights(w, 4, 64, weight_format_of(static_layer));
  ASSERT_TRUE(qw_per_tensor);
  auto r = reference_gemm(static_layer, {a, 2, &*qw_per_tensor, {}, 0.0f, 0});
  ASSERT_FALSE(r) << "static scaling needs a scale";
  EXPECT_NE(r.error().message.find("static activation scale"), std::string::npos);
}

}  // namespace
}  // namespace qk::quant
