// Checks of the weight-only kernel template (templates/cpu/weight_only.hpp: W8A16, W4A16,
// WFP8A16 and the float baselines) that every ISA's test executable runs on its own configs
// (the config's isa picks the vector policy): a kernel against the reference on one shape, the
// fp8 decoder over every code, and the whole kernel on weights holding every fp8 code.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include <gtest/gtest.h>

#include "cpu/weight_only.hpp"
#include "kernel_cases.hpp"
#include "kernel_harness.hpp"

namespace qk::test {

inline QuantType quant_type(cpu::WeightType t) {
  switch (t) {
    case cpu::WeightType::int8:
      return QuantType::int8;
    case cpu::WeightType::int4:
      return QuantType::int4;
    case cpu::WeightType::fp8_e4m3:
      return QuantType::fp8_e4m3;
    case cpu::WeightType::fp8_e5m2:
      return QuantType::fp8_e5m2;
    case cpu::WeightType::fp16:
      return QuantType::fp16;
    case cpu::WeightType::bf16:
      return QuantType::bf16;
    case cpu::WeightType::fp32:
      return QuantType::fp32;
  }
  return QuantType::int8;
}

inline std::uint32_t bits(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

/// The weight-only kernel of config C on m rows of an n x k layer, against the reference.
template <auto C>
void check_weight_only_kernel(std::int64_t m, std::int64_t n, std::int64_t k, Weights w,
                              unsigned seed) {
  LayerConfig layer = layer_for(C);
  layer.weight_quant = quant_type(C.weight);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = w.granularity;
  layer.block_size = w.block_size;
  layer.weight_symmetric = w.symmetric;
  SCOPED_TRACE(std::string(to_string(layer.weight_quant)) + " input " +
               std::string(to_string(layer.input_dtype)) + " " +
               std::string(to_string(w.granularity)) + " block " + std::to_string(w.block_size) +
               (w.symmetric ? " symmetric" : " zero points"));
  check_kernel<cpu::WeightOnlyKernel<C>>(C, layer, m, quant::pack_cpu, 0, seed);
}

/// fp16 activations and integer weights so small that fp16 holds their dequantized values only
/// as subnormals (|w| < 2^-14), per channel and per group, symmetric and with zero points: the
/// reference rounds each w16 there to a multiple of 2^-24, an absolute error that the in-register
/// tile, which scales exact sums instead (§6.3), does not make. §8 allows the difference.
template <auto C>
void check_weight_only_subnormal_weights(std::int64_t m, unsigned seed) {
  static_assert(C.input == cpu::InputType::fp16, "fp16 activations: the type with subnormals");
  const std::int64_t n = 40, k = 256;
  LayerConfig layer = layer_for(C);
  layer.weight_quant = quant_type(C.weight);
  layer.n = n;
  layer.k = k;
  const auto a = random_matrix(m, k, seed, 1.0f, 7, 30.0f);
  const auto w = random_matrix(n, k, seed + 1, 2.0e-5f);  // codes' steps about 2^-22 or 2^-19
  for (const Weights g : {Weights{WeightGranularity::per_channel, 0, true},
                          Weights{WeightGranularity::per_group, 64, false}}) {
    if (C.weight == cpu::WeightType::int8 && !g.symmetric) continue;  // no int8 zero points
    layer.weight_granularity = g.granularity;
    layer.block_size = g.block_size;
    layer.weight_symmetric = g.symmetric;
    SCOPED_TRACE(std::string(to_string(layer.weight_quant)) + " subnormal weights " +
                 std::string(to_string(g.granularity)));
    check_kernel_on<cpu::WeightOnlyKernel<C>>(C, layer, m, quant::pack_cpu, 0, a, w, seed);
  }
}

/// One vector of the ISA holding codes first, first + 1, ...: byte j * 4 + t of lane j is code
/// first + 4j + t.
template <cpu::Isa ISA>
typename cpu::Vec<ISA>::I code_block(int first) {
  alignas(64) std::uint8_t bytes[64];
  for (int i = 0; i < 64; ++i) bytes[i] = static_cast<std::uint8_t>(first + i);
  return cpu::Vec<ISA>::load_bytes(bytes);
}

/// decode_code(packed, t) is quant::fp8_to_float bit for bit: every code of format W, each of the
/// four byte positions of a lane (NaN codes decode to a NaN, as the reference's).
template <cpu::WeightType W, cpu::Isa ISA>
void check_fp8_decoder_over_every_code() {
  using Decoder = cpu::WeightDecoder<W, cpu::InputType::bf16, ISA>;
  constexpr int lanes = cpu::Vec<ISA>::LANES;
  const quant::Fp8Format format = quant::fp8_format_of(quant_type(W));
  for (int first = 0; first < 256; first += 4 * lanes) {
    const auto packed = code_block<ISA>(first);
    for (int t = 0; t < 4; ++t) {
      alignas(64) float got[lanes];
      cpu::Vec<ISA>::store(got, Decoder::decode_code(packed, t));
      for (int j = 0; j < lanes; ++j) {
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

/// decode() is the contract's w16 = round_to(activation type, fp8_to_float(code) * scale): scales
/// that take the products into fp16's subnormals, to its overflow, and bf16's rounding.
template <cpu::WeightType W, cpu::InputType A, cpu::Isa ISA>
void check_fp8_scaled_decode() {
  using Decoder = cpu::WeightDecoder<W, A, ISA>;
  constexpr int lanes = cpu::Vec<ISA>::LANES;
  const QuantType act = quant_type(A);
  const quant::Fp8Format format = quant::fp8_format_of(quant_type(W));
  for (float scale : {1.0f, 0.0123f, 3.0e-6f, 1.7f, 300.0f, 1.0e-30f}) {
    const typename Decoder::Params params{cpu::Vec<ISA>::set1(scale)};
    for (int first = 0; first < 256; first += 4 * lanes)
      for (int t = 0; t < 4; ++t) {
        alignas(64) float got[lanes];
        cpu::Vec<ISA>::store(got, Decoder::decode(code_block<ISA>(first), params, t));
        for (int j = 0; j < lanes; ++j) {
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

/// check_fp8_decoder_over_every_code of both formats.
template <cpu::Isa ISA>
void check_fp8_decoders_over_every_code() {
  check_fp8_decoder_over_every_code<cpu::WeightType::fp8_e4m3, ISA>();
  check_fp8_decoder_over_every_code<cpu::WeightType::fp8_e5m2, ISA>();
}

/// check_fp8_scaled_decode of both formats, to fp16 and to bf16.
template <cpu::Isa ISA>
void check_fp8_scaled_decoders() {
  using cpu::InputType;
  using cpu::WeightType;
  check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::fp16, ISA>();
  check_fp8_scaled_decode<WeightType::fp8_e4m3, InputType::bf16, ISA>();
  check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::fp16, ISA>();
  check_fp8_scaled_decode<WeightType::fp8_e5m2, InputType::bf16, ISA>();
}

/// Weights holding every fp8 code, written directly (the quantizer never produces e5m2's Inf codes
/// and produces NaN only from NaN inputs): max and subnormal codes, ±0, NaN and Inf, with scales
/// that push the dequantized values into fp16's subnormals and past its range. Columns with a NaN
/// or Inf weight give NaN or ±Inf exactly where the reference does; the others agree within the
/// tight bound of the weight-only families (only the fp32 summation order differs).
template <auto C>
void check_every_fp8_code(std::int64_t m, unsigned seed) {
  const std::int64_t n = 40, k = 67;
  LayerConfig layer = layer_for(C);
  layer.weight_quant = quant_type(C.weight);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = WeightGranularity::per_channel;
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
  const auto a = random_matrix(m, k, seed, 1.0f, 5, 20.0f);
  auto packed = quant::pack_cpu(w);
  ASSERT_TRUE(packed) << packed.error().str();
  auto ref = quant::reference_gemm(layer, {a, m, &w, {}, 0.0f, 0.0f});
  ASSERT_TRUE(ref) << ref.error().str();
  const KernelRun got = run<cpu::WeightOnlyKernel<C>>(C, layer, m, a, *packed, {}, 0.0f, 1.0f);
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

}  // namespace qk::test
