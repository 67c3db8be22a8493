// The epilogue: docs/numerics.md §7. Expected values are the functions' textbook values.
#include "quant/epilogue.hpp"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

namespace qk::quant {
namespace {

TEST(Epilogue, ActivationFunctionsAtKnownPoints) {
  EXPECT_EQ(apply_activation(Activation::none, -1.5f), -1.5f);
  EXPECT_EQ(apply_activation(Activation::relu, -1.5f), 0.0f);
  EXPECT_EQ(apply_activation(Activation::relu, 2.0f), 2.0f);
  // GELU(1) = Phi(1) = 0.841344746..., GELU(-1) = -0.158655253...
  EXPECT_FLOAT_EQ(apply_activation(Activation::gelu, 1.0f), 0.8413447460685429f);
  EXPECT_FLOAT_EQ(apply_activation(Activation::gelu, -1.0f), -0.15865525393145707f);
  // tanh GELU(1) = 0.5 * (1 + tanh(sqrt(2/pi) * 1.044715)) = 0.841191990...
  EXPECT_FLOAT_EQ(apply_activation(Activation::gelu_tanh, 1.0f), 0.8411919906082768f);
  // SiLU(1) = 1 / (1 + e^-1) = 0.731058578...
  EXPECT_FLOAT_EQ(apply_activation(Activation::silu, 1.0f), 0.7310585786300049f);
  EXPECT_EQ(apply_activation(Activation::silu, -200.0f), -0.0f);
}

// §7.2: relu maps NaN to 0 (like fmaxf(x, 0)); the others propagate it.
TEST(Epilogue, NaNThroughActivations) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(apply_activation(Activation::relu, nan), 0.0f);
  EXPECT_TRUE(std::isnan(apply_activation(Activation::gelu, nan)));
  EXPECT_TRUE(std::isnan(apply_activation(Activation::silu, nan)));
}

// §7.3: output conversion rounds to nearest even; fp16 overflows to Inf; int8 saturates.
TEST(Epilogue, OutputConversion) {
  EXPECT_EQ(convert_output(QuantType::fp32, 1.0f / 3.0f, 0), 1.0f / 3.0f);
  EXPECT_EQ(convert_output(QuantType::fp16, 1.0f / 3.0f, 0), 0.333251953125f);  // 0x3555
  EXPECT_EQ(convert_output(QuantType::bf16, 1.0f / 3.0f, 0), 0.333984375f);     // 0x3EAB
  EXPECT_EQ(convert_output(QuantType::fp16, 1e6f, 0), std::numeric_limits<float>::infinity());
  EXPECT_EQ(convert_output(QuantType::int8, 2.5f, 1.0f), 2.0f);
  EXPECT_EQ(convert_output(QuantType::int8, -1000.0f, 1.0f), -127.0f);
  EXPECT_EQ(convert_output(QuantType::int8, 1.0f, 10.0f), 10.0f);
}

// §7.1: bias, then activation, then conversion.
TEST(Epilogue, OrderIsBiasActivationConversion) {
  const Epilogue e{true, Activation::relu, QuantType::fp32};
  EXPECT_EQ(apply_epilogue(e, -1.0f, 3.0f, 0), 2.0f);  // relu(-1 + 3)
  EXPECT_EQ(apply_epilogue(e, 1.0f, -3.0f, 0), 0.0f);  // relu(1 - 3)
  const Epilogue no_bias{false, Activation::relu, QuantType::fp32};
  EXPECT_EQ(apply_epilogue(no_bias, -1.0f, 3.0f, 0), 0.0f);
  const Epilogue requant{true, Activation::none, QuantType::int8};
  EXPECT_EQ(apply_epilogue(requant, 0.5f, 0.75f, 2.0f), 2.0f);  // rne(1.25 * 2) = rne(2.5) = 2
}

}  // namespace
}  // namespace qk::quant
