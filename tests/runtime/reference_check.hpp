// Checks a compiled kernel against the reference of docs/numerics.md on random data: shared by
// the tests of every target that runs here (cpu, cuda-emu).
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../quant/test_data.hpp"
#include "qk/jit.hpp"
#include "quant/float_formats.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"

namespace qk::test {

inline std::vector<float> outputs_as_float(const std::vector<std::uint8_t>& bytes, QuantType t,
                                    std::size_t count) {
  std::vector<float> y(count);
  for (std::size_t i = 0; i < count; ++i) {
    std::uint16_t h;
    switch (t) {
      case QuantType::fp32:
        std::memcpy(&y[i], &bytes[4 * i], 4);
        break;
      case QuantType::fp16:
        std::memcpy(&h, &bytes[2 * i], 2);
        y[i] = quant::fp16_to_float(h);
        break;
      case QuantType::bf16:
        std::memcpy(&h, &bytes[2 * i], 2);
        y[i] = quant::bf16_to_float(h);
        break;
      default:
        y[i] = static_cast<std::int8_t>(bytes[i]);
        break;
    }
  }
  return y;
}

/// Runs `kernel` on random data with m rows and checks it against the reference (integer parts
/// exactly, floats within the contract's tolerance). The activations' rows are `row_padding`
/// elements longer than k.
inline void check_against_reference(const Kernel& kernel, std::int64_t m, unsigned seed,
                                    std::int64_t row_padding = 5) {
  const LayerConfig& l = kernel.layer();
  SCOPED_TRACE(kernel.name() + " m=" + std::to_string(m) + " n=" + std::to_string(l.n) +
               " k=" + std::to_string(l.k));
  const auto a = random_matrix(m, l.k, seed, 1.0f, 9, 25.0f);
  const auto w = random_matrix(l.n, l.k, seed + 1, 0.05f);
  const auto bias = random_matrix(1, l.n, seed + 2, 0.5f);
  auto qw = quant::quantize_weights(w, l.n, l.k, quant::weight_format_of(l));
  ASSERT_TRUE(qw);
  auto packed = kernel.pack(*qw);
  ASSERT_TRUE(packed) << packed.error().str();

  // Activations in the layer's input dtype.
  const std::int64_t stride = l.k + row_padding;
  const std::size_t in_bytes = bits_of(l.input_dtype) / 8;
  std::vector<std::uint8_t> a_bytes(static_cast<std::size_t>(m * stride) * in_bytes);
  std::vector<float> a_rounded(a.size());
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < l.k; ++j) {
      const float v = a[i * l.k + j];
      std::uint8_t* dst = &a_bytes[(i * stride + j) * in_bytes];
      if (l.input_dtype == QuantType::fp32) {
        std::memcpy(dst, &v, 4);
      } else {
        const std::uint16_t h =
            l.input_dtype == QuantType::fp16 ? quant::float_to_fp16(v) : quant::float_to_bf16(v);
        std::memcpy(dst, &h, 2);
      }
      a_rounded[i * l.k + j] = quant::round_to(l.input_dtype, v);
    }
  const std::size_t out_bytes = bits_of(l.epilogue.output) / 8;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(m * l.n) * out_bytes);
  const RunParams params{bias, 0.04f, 0.03f};
  auto ran = kernel({a_bytes.data(), l.input_dtype, m, l.k, stride}, *packed,
                    {out.data(), l.epilogue.output, m, l.n, l.n}, params);
  ASSERT_TRUE(ran) << ran.error().str();

  auto ref = quant::reference_gemm(
      l, {a_rounded, m, &*qw, bias, params.activation_scale, params.output_scale});
  ASSERT_TRUE(ref) << ref.error().str();
  auto ok = quant::compare_to_reference(l, *ref, outputs_as_float(out, l.epilogue.output, m * l.n));
  EXPECT_TRUE(ok) << ok.error().str();
}

}  // namespace qk::test
