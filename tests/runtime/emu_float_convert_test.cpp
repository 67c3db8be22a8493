// cuda-emu's fp16/bf16 conversions (templates/emu/float_convert.hpp) against qk's reference
// conversions (quant/float_formats.hpp), which are themselves checked bit for bit against CUDA's
// headers: every fp16 and bf16 code, and fp32 inputs around every rounding boundary.
#include "templates/emu/float_convert.hpp"

#include <cmath>
#include <cstdint>
#include <random>

#include <gtest/gtest.h>

#include "quant/float_formats.hpp"

namespace qk::emu {
namespace {

TEST(EmuFloatConvert, DecodesEveryHalfCode) {
  for (unsigned h = 0; h < 65536; ++h) {
    const auto code = static_cast<unsigned short>(h);
    EXPECT_EQ(float_bits(f16_to_f32(code)), float_bits(quant::fp16_to_float(code))) << h;
    EXPECT_EQ(float_bits(bf16_to_f32(code)), float_bits(quant::bf16_to_float(code))) << h;
  }
}

TEST(EmuFloatConvert, EncodesAsTheReferenceAroundEveryBoundary) {
  auto check = [](unsigned bits) {
    const float f = bits_float(bits);
    ASSERT_EQ(f32_to_f16(f), quant::float_to_fp16(f)) << std::hex << bits;
    ASSERT_EQ(f32_to_bf16(f), quant::float_to_bf16(f)) << std::hex << bits;
  };
  // Every fp16 and bf16 value, the midpoints between neighbours and one ulp of fp32 either side.
  for (unsigned h = 0; h < 65536; ++h) {
    for (int sign = 0; sign < 2; ++sign) {
      const unsigned s = sign ? 0x80000000u : 0u;
      const unsigned half = float_bits(std::fabs(quant::fp16_to_float(static_cast<unsigned short>(h))));
      const unsigned brain = (h & 0x7fffu) << 16;
      for (unsigned base : {half, brain})
        for (int delta = -1; delta <= 1; ++delta) check(s | (base + delta));
      const unsigned bf_mid = brain + 0x8000u;  // exactly between two bf16 values
      for (int delta = -1; delta <= 1; ++delta) check(s | (bf_mid + delta));
    }
  }
  for (unsigned e = 0; e < 256; ++e)  // fp16 midpoints at every fp32 exponent
    for (unsigned m : {0x1000u, 0x3000u, 0x7ff000u, 0x400000u})
      for (int delta = -1; delta <= 1; ++delta) check((e << 23) | (m + delta));
  std::mt19937 rng(3);
  for (int i = 0; i < 1000000; ++i) check(static_cast<unsigned>(rng()));
}

}  // namespace
}  // namespace qk::emu
