// Tests of qk::validate_layer: one test per rule of docs/plan.md, "Layer rules", on LayerConfigs
// built in C++ (as qk::jit::compile receives them). Each checks the exact `where` path and that
// the message carries the offending value.
#include <cmath>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "qk/layer_config.hpp"

namespace {

using qk::ActivationScaling;
using qk::Error;
using qk::LayerConfig;
using qk::QuantType;
using qk::ScaleMethod;
using qk::WeightGranularity;

/// The path the tests validate at, so that every `where` must be composed from it.
const std::string kPath = "layers[7]";

LayerConfig w8a8() {
  LayerConfig l;
  l.name = "fc";
  l.n = 4096;
  l.k = 4096;
  l.weight_quant = QuantType::int8;
  l.activation_quant = QuantType::int8;
  l.input_dtype = QuantType::fp16;
  l.weight_granularity = WeightGranularity::per_channel;
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  return l;
}

LayerConfig w4a16_g128() {
  LayerConfig l = w8a8();
  l.weight_quant = QuantType::int4;
  l.activation_quant = QuantType::fp16;
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 128;
  l.activation_scaling = ActivationScaling::none;
  return l;
}

LayerConfig w4a8_g128() {
  LayerConfig l = w4a16_g128();
  l.activation_quant = QuantType::int8;
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  return l;
}

LayerConfig w8a16_g64() {
  LayerConfig l = w8a8();
  l.activation_quant = QuantType::bf16;
  l.input_dtype = QuantType::bf16;
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 64;
  l.activation_scaling = ActivationScaling::none;
  return l;
}

LayerConfig fp16_layer() {
  LayerConfig l = w8a8();
  l.weight_quant = QuantType::fp16;
  l.activation_quant = QuantType::fp16;
  l.activation_scaling = ActivationScaling::none;
  return l;
}

LayerConfig fp8_layer() {
  LayerConfig l = w8a8();
  l.weight_quant = QuantType::fp8_e4m3;
  l.activation_quant = QuantType::fp8_e4m3;
  return l;
}

LayerConfig static_percentile() {
  LayerConfig l = w8a8();
  l.activation_scaling = ActivationScaling::static_per_tensor;
  l.scale_method = ScaleMethod::percentile;
  l.percentile = 99.9;
  return l;
}

std::string dump(const std::vector<Error>& errors) {
  std::string out;
  for (const Error& e : errors) out += "  " + e.str() + "\n";
  return out;
}

void expect_valid(const LayerConfig& layer) {
  const std::vector<Error> errors = qk::validate_layer(layer, kPath);
  EXPECT_TRUE(errors.empty()) << "errors:\n" << dump(errors);
}

/// Expects exactly one error, at `where`, whose message contains every string of `parts`.
void expect_error(const LayerConfig& layer, const std::string& where,
                  std::initializer_list<std::string_view> parts) {
  const std::vector<Error> errors = qk::validate_layer(layer, kPath);
  ASSERT_EQ(errors.size(), 1u) << "errors:\n" << dump(errors);
  EXPECT_EQ(errors[0].code, qk::Errc::invalid_plan);
  EXPECT_EQ(errors[0].where, where);
  for (const std::string_view part : parts)
    EXPECT_NE(errors[0].message.find(part), std::string::npos)
        << "message: " << errors[0].message << "\nexpected to contain: " << part;
}

// docs/plan.md, "Supported combinations": a valid layer of every family shape we ship.
TEST(LayerValidate, ValidConfigsHaveNoErrors) {
  expect_valid(w8a8());
  expect_valid(w4a16_g128());
  expect_valid(w4a8_g128());
  expect_valid(w8a16_g64());
  expect_valid(fp16_layer());
  expect_valid(fp8_layer());
  expect_valid(static_percentile());
  LayerConfig asym = w4a16_g128();
  asym.weight_symmetric = false;
  expect_valid(asym);
}

// docs/plan.md, "Errors": `where` is path.field, or the bare field for an empty path.
TEST(LayerValidate, EmptyPathGivesTheBareField) {
  LayerConfig l = w8a8();
  l.n = 0;
  const std::vector<Error> errors = qk::validate_layer(l, "");
  ASSERT_EQ(errors.size(), 1u) << dump(errors);
  EXPECT_EQ(errors[0].where, "n");
}

// docs/plan.md, "Layer rules" (name): a LayerConfig built in C++ may have no name.
TEST(LayerValidate, EmptyNameIsAllowedFromCpp) {
  LayerConfig l = w8a8();
  l.name.clear();
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (name): at most 256 characters (not bytes).
TEST(LayerValidate, NameAtMost256Characters) {
  LayerConfig l = w8a8();
  l.name = std::string(256, 'a');
  expect_valid(l);
  l.name = std::string(257, 'a');
  expect_error(l, "layers[7].name", {"257", "256"});
  l.name.clear();
  for (int i = 0; i < 256; ++i) l.name += "\xc3\xa9";  // U+00E9, two bytes in UTF-8
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (n, k): in [1, 1048576].
TEST(LayerValidate, NMustBeInRange) {
  for (const std::int64_t bad : {std::int64_t{0}, std::int64_t{-5}, std::int64_t{1048577}}) {
    LayerConfig l = w8a8();
    l.n = bad;
    expect_error(l, "layers[7].n", {"n " + std::to_string(bad), "1048576"});
  }
  LayerConfig l = w8a8();
  l.n = 1048576;
  expect_valid(l);
  l.n = 1;
  expect_valid(l);
}

TEST(LayerValidate, KMustBeInRange) {
  for (const std::int64_t bad : {std::int64_t{0}, std::int64_t{-128}, std::int64_t{1048577}}) {
    LayerConfig l = fp16_layer();
    l.k = bad;
    expect_error(l, "layers[7].k", {"k " + std::to_string(bad), "1048576"});
  }
  LayerConfig l = w4a16_g128();
  l.k = 1048576;  // a multiple of 128
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (m_range): 1 <= min <= max <= 1048576.
TEST(LayerValidate, MRangeBounds) {
  LayerConfig l = w8a8();
  l.m_min = 0;
  expect_error(l, "layers[7].m_range", {"min 0"});
  l = w8a8();
  l.m_max = 1048577;
  expect_error(l, "layers[7].m_range", {"max 1048577", "1048576"});
  l = w8a8();
  l.m_min = 100;
  l.m_max = 10;
  expect_error(l, "layers[7].m_range", {"100", "10"});
  l = w8a8();
  l.m_min = l.m_max = 1048576;
  expect_valid(l);
}

// docs/plan.md, "Supported combinations": an unsupported pair is named, with the supported list.
TEST(LayerValidate, UnsupportedPairListsTheSupportedOnes) {
  LayerConfig l = w8a8();
  l.weight_quant = QuantType::int4;
  l.activation_quant = QuantType::fp32;
  l.input_dtype = QuantType::fp32;
  l.activation_scaling = ActivationScaling::none;
  expect_error(l, "layers[7]", {"int4", "fp32", "int8/int8", "int4/fp16", "fp8_e5m2/fp8_e4m3"});

  l = w8a8();
  l.activation_quant = QuantType::fp8_e4m3;  // int8 weights with fp8 activations
  expect_error(l, "layers[7]", {"int8", "fp8_e4m3"});
}

// docs/plan.md, "Layer rules" (input_dtype): fp32, fp16 or bf16.
TEST(LayerValidate, InputDtypeMustBeFloat) {
  LayerConfig l = w8a8();
  l.input_dtype = QuantType::int8;
  expect_error(l, "layers[7].input_dtype", {"input_dtype int8", "fp32, fp16, bf16"});
  l.input_dtype = QuantType::fp32;
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (input_dtype): equal to float activations.
TEST(LayerValidate, InputDtypeMustEqualFloatActivations) {
  LayerConfig l = w4a16_g128();
  l.input_dtype = QuantType::bf16;
  expect_error(l, "layers[7].input_dtype", {"bf16", "activation_quant fp16"});
}

// docs/plan.md, "Layer rules" (block_size): required by per_group.
TEST(LayerValidate, PerGroupNeedsABlockSize) {
  LayerConfig l = w4a16_g128();
  l.block_size = 0;
  expect_error(l, "layers[7].block_size", {"per_group", "32, 64, 128, 256"});
}

// docs/plan.md, "Layer rules" (block_size): one of 32, 64, 128, 256.
TEST(LayerValidate, BlockSizeMustBeSupported) {
  for (const int bad : {16, 100, 512, -128}) {
    LayerConfig l = w4a16_g128();
    l.block_size = bad;
    expect_error(l, "layers[7].block_size", {"block_size " + std::to_string(bad)});
  }
  for (const int good : {32, 64, 128, 256}) {
    LayerConfig l = w4a16_g128();
    l.block_size = good;
    expect_valid(l);
  }
}

// docs/plan.md, "Layer rules" (block_size): k is a multiple of it.
TEST(LayerValidate, KMustBeAMultipleOfBlockSize) {
  LayerConfig l = w4a16_g128();
  l.k = 4000;
  expect_error(l, "layers[7].block_size", {"4000", "128"});
}

// docs/plan.md, "Layer rules" (block_size): only with per_group.
TEST(LayerValidate, BlockSizeOnlyWithPerGroup) {
  LayerConfig l = w8a8();
  l.block_size = 128;
  expect_error(l, "layers[7].block_size", {"128", "per_channel"});
  l.weight_granularity = WeightGranularity::per_tensor;
  expect_error(l, "layers[7].block_size", {"128", "per_tensor"});
}

// docs/plan.md, "Layer rules" (weight_granularity): per_group only for w8a16, w4a16, w4a8; w8a8
// and fp8 would need scales on the reduction dimension.
TEST(LayerValidate, PerGroupNotForW8A8) {
  LayerConfig l = w8a8();
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 128;
  expect_error(l, "layers[7].weight_granularity", {"w8a8", "reduction dimension", "w4a16"});
}

TEST(LayerValidate, PerGroupNotForFp8) {
  LayerConfig l = fp8_layer();
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 128;
  expect_error(l, "layers[7].weight_granularity", {"fp8", "reduction dimension"});
}

TEST(LayerValidate, PerGroupNotForFloatWeights) {
  LayerConfig l = fp16_layer();
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 128;
  expect_error(l, "layers[7].weight_granularity", {"fp16", "per_group"});
}

// docs/plan.md, "Layer rules" (weight_symmetric): false only for int4 weights.
TEST(LayerValidate, AsymmetricOnlyForInt4) {
  LayerConfig l = w8a8();
  l.weight_symmetric = false;
  expect_error(l, "layers[7].weight_symmetric", {"false", "int8"});
  LayerConfig f = fp16_layer();
  f.weight_symmetric = false;
  expect_error(f, "layers[7].weight_symmetric", {"false", "fp16"});
  LayerConfig g = w4a8_g128();
  g.weight_symmetric = false;
  expect_valid(g);
}

// docs/plan.md, "Layer rules" (activation_scaling): quantized activations need a scale.
TEST(LayerValidate, QuantizedActivationsNeedAScale) {
  LayerConfig l = w8a8();
  l.activation_scaling = ActivationScaling::none;
  expect_error(l, "layers[7].activation_scaling", {"none", "int8"});
  LayerConfig f = fp8_layer();
  f.activation_scaling = ActivationScaling::none;
  expect_error(f, "layers[7].activation_scaling", {"none", "fp8_e4m3"});
  l.activation_scaling = ActivationScaling::dynamic_per_tensor;
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (activation_scaling): float activations are not scaled.
TEST(LayerValidate, FloatActivationsAreNotScaled) {
  LayerConfig l = w4a16_g128();
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  expect_error(l, "layers[7].activation_scaling", {"dynamic_per_token", "fp16"});
}

// docs/plan.md, "Layer rules" (scale_method): anything but max needs static_per_tensor.
TEST(LayerValidate, ScaleMethodNeedsStaticScaling) {
  LayerConfig l = w8a8();
  l.scale_method = ScaleMethod::entropy;
  expect_error(l, "layers[7].scale_method", {"entropy", "dynamic_per_token"});
  for (const ScaleMethod m :
       {ScaleMethod::max, ScaleMethod::percentile, ScaleMethod::mse, ScaleMethod::entropy}) {
    LayerConfig s = static_percentile();
    s.scale_method = m;
    expect_valid(s);
  }
}

// docs/plan.md, "Layer rules" (percentile): in (0, 100].
TEST(LayerValidate, PercentileRange) {
  const std::pair<double, std::string_view> bad_values[] = {
      {0.0, "percentile 0 "}, {-1.0, "percentile -1 "}, {100.5, "percentile 100.5 "}};
  for (const auto& [bad, shown] : bad_values) {
    LayerConfig l = static_percentile();
    l.percentile = bad;
    expect_error(l, "layers[7].percentile", {shown, "(0, 100]"});
  }
  LayerConfig nan = static_percentile();
  nan.percentile = std::nan("");
  expect_error(nan, "layers[7].percentile", {"nan"});
  LayerConfig l = static_percentile();
  l.percentile = 100.0;
  expect_valid(l);
  l.percentile = 1e-9;
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (smoothquant_alpha): in [0, 1].
TEST(LayerValidate, SmoothQuantAlphaRange) {
  LayerConfig l = w8a8();
  l.smoothquant_alpha = -0.25;
  expect_error(l, "layers[7].smoothquant_alpha", {"-0.25", "[0, 1]"});
  l.smoothquant_alpha = 1.5;
  expect_error(l, "layers[7].smoothquant_alpha", {"1.5", "[0, 1]"});
  l.smoothquant_alpha = 0.0;
  expect_valid(l);
  l.smoothquant_alpha = 1.0;
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (smoothquant_alpha): only with quantized activations.
TEST(LayerValidate, SmoothQuantNeedsQuantizedActivations) {
  LayerConfig l = w4a16_g128();
  l.smoothquant_alpha = 0.5;
  expect_error(l, "layers[7].smoothquant_alpha", {"0.5", "fp16"});
  LayerConfig f = fp8_layer();
  f.smoothquant_alpha = 0.5;
  expect_valid(f);
}

// docs/plan.md, "Epilogue keys" (output_dtype): fp32, fp16, bf16 or int8.
TEST(LayerValidate, EpilogueOutputDtype) {
  for (const QuantType bad : {QuantType::int4, QuantType::fp8_e4m3, QuantType::fp8_e5m2}) {
    LayerConfig l = w8a8();
    l.epilogue.output = bad;
    expect_error(l, "layers[7].epilogue.output_dtype",
                 {std::string(qk::to_string(bad)), "fp32, fp16, bf16, int8"});
  }
  for (const QuantType good :
       {QuantType::fp32, QuantType::fp16, QuantType::bf16, QuantType::int8}) {
    LayerConfig l = w8a8();
    l.epilogue.output = good;
    expect_valid(l);
  }
}

// docs/plan.md, "Layer rules" (int32 accumulation): w8a8 sums k products of at most 127 * 127
// in int32, so k <= INT32_MAX / (127 * 127) = 133144.
TEST(LayerValidate, Int32BoundForW8A8) {
  constexpr std::int64_t kBound = std::int64_t{2147483647} / (127 * 127);
  static_assert(kBound == 133144, "the test's own arithmetic");
  LayerConfig l = w8a8();
  l.k = kBound;
  expect_valid(l);
  l.k = kBound + 1;
  expect_error(l, "layers[7].k", {"k 133145", "133144", "INT32_MAX"});
}

// docs/plan.md, "Layer rules" (int32 accumulation): w4a8 products are at most 127 * 15, so the
// bound (INT32_MAX / 1905 = 1127288) lies above the largest k, and a group is far below it.
TEST(LayerValidate, Int32BoundForW4A8IsAboveTheLargestK) {
  static_assert(std::int64_t{2147483647} / (127 * 15) > 1048576, "the test's own arithmetic");
  LayerConfig l = w4a8_g128();
  l.k = 1048576;
  expect_valid(l);
  l.weight_granularity = WeightGranularity::per_channel;
  l.block_size = 0;
  expect_valid(l);
}

// docs/plan.md, "Layer rules" (int32 accumulation): float families have no such bound.
TEST(LayerValidate, FloatFamiliesHaveNoKBound) {
  LayerConfig l = fp16_layer();
  l.k = 1048576;
  expect_valid(l);
  LayerConfig f = fp8_layer();
  f.k = 1048576;
  expect_valid(f);
}

// docs/plan.md, "Layer rules": enum fields hold a value of their table (C++ casts can break it).
TEST(LayerValidate, InvalidEnumValuesAreReported) {
  LayerConfig l = w8a8();
  l.weight_quant = static_cast<QuantType>(42);
  expect_error(l, "layers[7].weight_quant", {"42", "int8"});
  LayerConfig s = w8a8();
  s.activation_scaling = static_cast<ActivationScaling>(9);
  expect_error(s, "layers[7].activation_scaling", {"9", "dynamic_per_token"});
}

// docs/plan.md, "Errors": every broken rule is reported.
TEST(LayerValidate, AllProblemsAreReported) {
  LayerConfig l = w8a8();
  l.n = 0;
  l.weight_symmetric = false;
  l.epilogue.output = QuantType::int4;
  const std::vector<Error> errors = qk::validate_layer(l, kPath);
  std::set<std::string> where;
  for (const Error& e : errors) where.insert(e.where);
  const std::set<std::string> expected{"layers[7].n", "layers[7].weight_symmetric",
                                       "layers[7].epilogue.output_dtype"};
  EXPECT_EQ(where, expected) << dump(errors);
  EXPECT_EQ(errors.size(), 3u) << dump(errors);
}

}  // namespace
