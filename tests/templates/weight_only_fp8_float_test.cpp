// The weight-only kernel template with fp8 weights (WFP8A16, docs/numerics.md §6.3) and as the
// float baselines fp16, bf16, fp32 (§6.5), compiled ahead of time, against the reference. The fp8
// decoder is checked alone over all 256 codes of both formats, and through the whole kernel on
// weights holding every code, NaN and Inf included.
#include <cmath>
#include <cstring>

#include <gtest/gtest.h>

#include "cpu/weight_only.hpp"
#include "kernel_harness.hpp"

namespace qk {
namespace {

using cpu::Act;
using cpu::FloatConfig;
using cpu::InputType;
using cpu::OutputType;
using cpu::WeightType;
using cpu::WFp8A16Config;

QuantType quant_type(WeightType t) {
  switch (t) {
    case WeightType::fp8_e4m3:
      return QuantType::fp8_e4m3;
    case WeightType::fp8_e5m2:
      return QuantType::fp8_e5m2;
    case WeightType::fp16:
      return QuantType::fp16;
    case WeightType::bf16:
      return QuantType::bf16;
    case WeightType::fp32:
      return QuantType::fp32;
    default:
      return QuantType::int8;
  }
}

std::uint32_t bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// 64 bytes holding codes first..first+63: byte j * 4 + t of lane j is code first + 4j + t.
__m512i code_block(int first) {
  alignas(64) std::uint8_t bytes[64];
  for (int i = 0; i < 64; ++i) bytes[i] = static_cast<std::uint8_t>(first + i);
  return _mm512_load_si512(bytes);
}

// decode_code(packed, t) is quant::fp8_to_float bit for bit: every code, both formats, each of
// the four byte positions of a lane (NaN codes decode to a NaN, as the reference's).
template <WeightType W>
void check_decoder_over_every_code() {
  using Decoder = cpu::WeightDecoder<W, InputType::bf16>;
  const quant::Fp8Format format = quant::fp8_format_of(quant_type(W));
  for (int first = 0; first < 256; first += 64) {
    const __m512i packed = code_block(first);
    for (int t = 0; t < 4; ++t) {
      alignas(64) float got[16];
      _mm512_store_ps(got, Decoder::decode_code(packed, t));
      for (int j = 0; j < 16; ++j) {
        const auto code = static_cast<std::uint8_t>(first + 4 * j + t);
        const float want = quant::fp8_to_float(code, format);
        if (std::isnan(want))
          EXPECT_TRUE(std::isnan(got[j])) << "code " << int(code);
        else
          EXPECT_EQ(bits(got[j]), bits(want))
              << "code " << int(code) << ": " << got[j] << " vs " << want;
      }
    }
  }
}

TEST(WeightDecoder, Fp8DecodeIsBitExactOverEveryCode) {
  check_decoder_over_every_code<WeightType::fp8_e4m3>();
  check_decoder_over_every_code<WeightType::fp8_e5m2>();
}

// decode() is the contract's w16 = round_to(activation type, fp8_to_float(code) * scale): scales
// that take the products into fp16's subnormals, to its overflow, and bf16's rounding.
template <WeightType W, InputType A>
void check_scaled_decode() {
  using Decoder = cpu::WeightDecoder<W, A>;
  const QuantType act = test::quant_type(A);
  const quant::Fp8Format format = quant::fp8_format_of(quant_type(W));
  for (float scale : {1.0f, 0.0123f, 3.0e-6f, 1.7f, 300.0f, 1.0e-30f}) {
    const typename Decoder::Params params{_mm512_set1_ps(scale)};
    for (int first = 0; first < 256; first += 64)
      for (int t = 0; t < 4; ++t) {
        alignas(64) float got[16];
        _mm512_store_ps(got, Decoder::decode(code_block(first), params, t));
        for (int j = 0; j < 16; ++j) {
          const auto code = static_cast<std::uint8_t>(first + 4 * j + t);
          const float want = quant::round_to(act, quant::fp8_to_float(code, format) * scale);
          if (std::isnan(want))
            EXPECT_TRUE(std::isnan(got[j])) << "code " << int(code);
          else
            EXPECT_EQ(bits(got[j]), bits(want)) << "code " << int(code) << " scale " << scale;
        }
      }
  }
}

TEST(WeightDecoder, Fp8ScaledDecodeRoundsAsTheContract) {
  check_scaled_decode<WeightType::fp8_e4m3, InputType::fp16>();
  check_scaled_decode<WeightType::fp8_e4m3, InputType::bf16>();
  check_scaled_decode<WeightType::fp8_e5m2, InputType::fp16>();
  check_scaled_decode<WeightType::fp8_e5m2, InputType::bf16>();
}

template <auto C>
LayerConfig layer_of(std::int64_t n, std::int64_t k, WeightGranularity g) {
  LayerConfig layer = test::layer_for(C);
  layer.weight_quant = quant_type(C.weight);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = g;
  return layer;
}

template <auto C>
void check(std::int64_t m, std::int64_t n, std::int64_t k, WeightGranularity g, unsigned seed) {
  const LayerConfig layer = layer_of<C>(n, k, g);
  SCOPED_TRACE(std::string(to_string(layer.weight_quant)) + " input " +
               std::string(to_string(layer.input_dtype)) + " " + std::string(to_string(g)));
  test::check_kernel<cpu::WeightOnlyKernel<C>>(C, layer, m, quant::pack_cpu, 0, seed);
}

constexpr WFp8A16Config kE4m3Bf16{};
constexpr WFp8A16Config kE4m3Fp16{.input = InputType::fp16};
constexpr WFp8A16Config kE5m2Bf16{.weight = WeightType::fp8_e5m2};
constexpr WFp8A16Config kE5m2Fp16{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};

// Awkward shapes: partial row tiles (m = 3, 17, 129 against mr = 8), partial column panels and
// tiles (n = 33, 130), K not a multiple of the packing step (k = 37, 201).
TEST(WeightOnlyFp8Kernel, AwkwardShapes) {
  unsigned seed = 4000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check<kE4m3Bf16>(m, n, 201, WeightGranularity::per_channel, seed++);
      check<kE4m3Fp16>(m, n, 37, WeightGranularity::per_tensor, seed++);
      check<kE5m2Bf16>(m, n, 37, WeightGranularity::per_tensor, seed++);
      check<kE5m2Fp16>(m, n, 201, WeightGranularity::per_channel, seed++);
    }
}

constexpr FloatConfig kFp16{.weight = WeightType::fp16, .input = InputType::fp16};
constexpr FloatConfig kBf16{.weight = WeightType::bf16, .input = InputType::bf16};
constexpr FloatConfig kFp32{.weight = WeightType::fp32, .input = InputType::fp32};

TEST(FloatBaselineKernel, AwkwardShapes) {
  unsigned seed = 5000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {37, 201}) {
        check<kFp16>(m, n, k, WeightGranularity::per_channel, seed++);
        check<kBf16>(m, n, k, WeightGranularity::per_channel, seed++);
        check<kFp32>(m, n, k, WeightGranularity::per_channel, seed++);
      }
}

// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue: bias,
// activation functions, fp16/bf16/int8 outputs.
TEST(WeightOnlyFp8Kernel, TilesAndEpilogues) {
  constexpr WFp8A16Config e4m3_gelu_fp16{.input = InputType::fp16,
                                         .bias = true,
                                         .act = Act::gelu,
                                         .output = OutputType::fp16,
                                         .mr = 4,
                                         .nv = 3,
                                         .mc = 8,
                                         .nc = 96};
  constexpr WFp8A16Config e5m2_silu_bf16{.weight = WeightType::fp8_e5m2,
                                         .bias = true,
                                         .act = Act::silu,
                                         .output = OutputType::bf16,
                                         .mr = 1,
                                         .nv = 4,
                                         .mc = 8,
                                         .nc = 128};
  constexpr WFp8A16Config e4m3_relu_int8{
      .bias = true, .act = Act::relu, .output = OutputType::int8};
  constexpr WFp8A16Config e5m2_buffered{.weight = WeightType::fp8_e5m2,
                                        .input = InputType::fp16,
                                        .act = Act::gelu_tanh,
                                        .mr = 4,
                                        .nv = 1,
                                        .mc = 8,
                                        .nc = 64};
  static_assert(cpu::WeightOnlyKernel<e5m2_buffered>::BUFFER_K == 24);
  unsigned seed = 6000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check<e4m3_gelu_fp16>(m, 70, 300, WeightGranularity::per_channel, seed++);
    check<e5m2_silu_bf16>(m, 150, 384, WeightGranularity::per_tensor, seed++);
    check<e4m3_relu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<e5m2_buffered>(m, 40, 101, WeightGranularity::per_channel, seed++);
  }
}

TEST(FloatBaselineKernel, TilesAndEpilogues) {
  constexpr FloatConfig fp16_gelu_fp16{.weight = WeightType::fp16,
                                       .input = InputType::fp16,
                                       .bias = true,
                                       .act = Act::gelu,
                                       .output = OutputType::fp16,
                                       .mr = 4,
                                       .nv = 3,
                                       .mc = 8,
                                       .nc = 96};
  constexpr FloatConfig bf16_silu_bf16{.weight = WeightType::bf16,
                                       .input = InputType::bf16,
                                       .bias = true,
                                       .act = Act::silu,
                                       .output = OutputType::bf16,
                                       .mr = 1,
                                       .nv = 4,
                                       .mc = 8,
                                       .nc = 128};
  constexpr FloatConfig fp32_relu_int8{.weight = WeightType::fp32,
                                       .input = InputType::fp32,
                                       .bias = true,
                                       .act = Act::relu,
                                       .output = OutputType::int8};
  constexpr FloatConfig bf16_buffered{.weight = WeightType::bf16,
                                      .input = InputType::bf16,
                                      .act = Act::gelu_tanh,
                                      .output = OutputType::fp16,
                                      .mr = 4,
                                      .nv = 1,
                                      .mc = 8,
                                      .nc = 64};
  constexpr FloatConfig fp32_buffered{.weight = WeightType::fp32,
                                      .input = InputType::fp32,
                                      .bias = true,
                                      .mr = 2,
                                      .nv = 2,
                                      .mc = 6,
                                      .nc = 64};
  unsigned seed = 7000;
  for (std::int64_t m : {1, 5, 13, 40}) {
    check<fp16_gelu_fp16>(m, 70, 300, WeightGranularity::per_channel, seed++);
    check<bf16_silu_bf16>(m, 150, 384, WeightGranularity::per_channel, seed++);
    check<fp32_relu_int8>(m, 33, 64, WeightGranularity::per_channel, seed++);
    check<bf16_buffered>(m, 40, 101, WeightGranularity::per_channel, seed++);
    check<fp32_buffered>(m, 40, 37, WeightGranularity::per_channel, seed++);
  }
}

// Weights holding every fp8 code, written directly (the quantizer never produces e5m2's Inf codes
// and produces NaN only from NaN inputs): max and subnormal codes, ±0, NaN and Inf, with scales
// that push the dequantized values into fp16's subnormals and past its range. Columns with a NaN
// or Inf weight give NaN or ±Inf exactly where the reference does; the others agree within the
// tight bound of the weight-only families (only the fp32 summation order differs).
template <auto C>
void check_every_code(std::int64_t m, unsigned seed) {
  const std::int64_t n = 40, k = 67;
  const LayerConfig layer = layer_of<C>(n, k, WeightGranularity::per_channel);
  SCOPED_TRACE(std::string(to_string(layer.weight_quant)) + " input " +
               std::string(to_string(layer.input_dtype)) + " m=" + std::to_string(m));
  const quant::Fp8Format format = quant::fp8_format_of(layer.weight_quant);
  quant::QuantizedWeights w;
  w.format = quant::weight_format_of(layer);
  w.n = n;
  w.k = k;
  w.codes.resize(static_cast<std::size_t>(n * k));
  const float scales[] = {0.01f, 1.0e-6f, 0.37f, 1.5f, 2.0e-3f};
  for (std::int64_t r = 0; r < n; ++r) {
    w.scales.push_back(scales[r % 5]);
    for (std::int64_t j = 0; j < k; ++j) {
      auto code = static_cast<std::uint8_t>((r * k + j) % 256);
      // Rows below 32 hold finite codes only (NaN and Inf replaced by the max code, same sign).
      const float v = quant::fp8_to_float(code, format);
      if (r < 32 && !std::isfinite(v))
        code = static_cast<std::uint8_t>((code & 0x80) | quant::float_to_fp8(1e9f, format));
      w.codes[r * k + j] = code;
    }
  }
  const auto a = test::random_matrix(m, k, seed, 1.0f, 5, 20.0f);
  auto packed = quant::pack_cpu(w);
  ASSERT_TRUE(packed) << packed.error().str();
  auto ref = quant::reference_gemm(layer, {a, m, &w, {}, 0.0f, 0.0f});
  ASSERT_TRUE(ref) << ref.error().str();
  const test::KernelRun got =
      test::run<cpu::WeightOnlyKernel<C>>(C, layer, m, a, *packed, {}, 0.0f, 1.0f);
  const double rtol = static_cast<double>(k + 2) * std::ldexp(1.0, -24);
  int specials = 0;
  for (std::size_t i = 0; i < got.y.size(); ++i) {
    const double want = ref->accumulated[i];
    if (std::isnan(want)) {
      ++specials;
      EXPECT_TRUE(std::isnan(got.y[i])) << "y[" << i / n << ", " << i % n << "]";
    } else if (std::isinf(want)) {
      ++specials;
      EXPECT_EQ(got.y[i], want) << "y[" << i / n << ", " << i % n << "]";
    } else {
      EXPECT_LE(std::fabs(double{got.y[i]} - want), rtol * ref->magnitude[i])
          << "y[" << i / n << ", " << i % n << "] = " << got.y[i] << ", reference " << want;
    }
  }
  EXPECT_GT(specials, 0) << "some columns hold NaN or Inf weights";
}

TEST(WeightOnlyFp8Kernel, EveryCodeIncludingNanAndInf) {
  constexpr WFp8A16Config e5m2_direct{.weight = WeightType::fp8_e5m2, .input = InputType::fp16};
  constexpr WFp8A16Config e4m3_buffered{.mr = 4, .nv = 1, .mc = 8, .nc = 64};
  for (std::int64_t m : {1, 3, 17}) {
    check_every_code<kE4m3Fp16>(m, 10 + m);
    check_every_code<kE4m3Bf16>(m, 20 + m);
    check_every_code<e5m2_direct>(m, 30 + m);
    check_every_code<kE5m2Bf16>(m, 40 + m);
    check_every_code<e4m3_buffered>(m, 50 + m);
  }
}

}  // namespace
}  // namespace qk
