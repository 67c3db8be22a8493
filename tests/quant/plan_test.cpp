// Tests of reading plan.json: the JSON layer of docs/plan.md (syntax, types, unknown keys,
// presence, defaults, duplicate names, bits, keys given for the wrong granularity) and the
// error reporting of "Errors". The semantic rules are layer_validate_test.cpp's.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>
#include <unistd.h>

#include "qk/plan.hpp"

namespace {

using qk::Errc;
using qk::Error;

/// A plan with one layer: the minimal valid layer plus `extra` keys (text placed after a comma).
std::string plan_with_layer(std::string_view extra = "") {
  std::string layer = R"("name": "fc", "n": 64, "k": 128, "weight_quant": "int8", )"
                      R"("activation_quant": "int8")";
  if (!extra.empty()) layer += std::string(", ") + std::string(extra);
  return R"({"layers": [{)" + layer + "}]}";
}

/// A plan with one layer made of exactly `body` (no minimal keys added).
std::string plan_with_layer_body(std::string_view body) {
  return R"({"layers": [{)" + std::string(body) + "}]}";
}

std::set<std::string> wheres(const std::vector<Error>& errors) {
  std::set<std::string> out;
  for (const Error& e : errors) out.insert(e.where);
  return out;
}

std::string dump(const std::vector<Error>& errors) {
  std::string out;
  for (const Error& e : errors) out += "  " + e.str() + "\n";
  return out;
}

/// The one error that `text` must produce; fails the test when there is not exactly one.
Error single_error(std::string_view text) {
  const std::vector<Error> errors = qk::check_plan(text);
  EXPECT_EQ(errors.size(), 1u) << "errors:\n" << dump(errors);
  return errors.empty() ? Error{} : errors.front();
}

void expect_contains(const std::string& message, std::string_view part) {
  EXPECT_NE(message.find(part), std::string::npos)
      << "message: " << message << "\nexpected to contain: " << part;
}

qk::Plan parse_ok(std::string_view text) {
  qk::Plan plan;
  const std::vector<Error> errors = qk::check_plan(text, &plan);
  EXPECT_TRUE(errors.empty()) << "errors:\n" << dump(errors);
  return plan;
}

std::filesystem::path examples_dir() {
  return std::filesystem::path(QK_SOURCE_DIR) / "examples" / "plans";
}

// docs/plan.md, "Top-level keys" and "Layer keys": the defaults of every optional key.
TEST(PlanJson, MinimalPlanGetsDocumentedDefaults) {
  const qk::Plan plan = parse_ok(plan_with_layer());
  EXPECT_EQ(plan.model, "");
  EXPECT_EQ(plan.calibration_samples, 512);
  EXPECT_DOUBLE_EQ(plan.accuracy_threshold, 0.99);
  ASSERT_EQ(plan.layers.size(), 1u);
  const qk::LayerConfig& l = plan.layers[0];
  EXPECT_EQ(l.name, "fc");
  EXPECT_EQ(l.n, 64);
  EXPECT_EQ(l.k, 128);
  EXPECT_EQ(l.m_min, 1);
  EXPECT_EQ(l.m_max, 2048);
  EXPECT_EQ(l.weight_quant, qk::QuantType::int8);
  EXPECT_EQ(l.activation_quant, qk::QuantType::int8);
  EXPECT_EQ(l.input_dtype, qk::QuantType::fp16);
  EXPECT_EQ(l.weight_granularity, qk::WeightGranularity::per_channel);
  EXPECT_EQ(l.block_size, 0);
  EXPECT_TRUE(l.weight_symmetric);
  EXPECT_EQ(l.activation_scaling, qk::ActivationScaling::dynamic_per_token);
  EXPECT_EQ(l.scale_method, qk::ScaleMethod::max);
  EXPECT_DOUBLE_EQ(l.percentile, 99.99);
  EXPECT_FALSE(l.smoothquant_alpha.has_value());
  EXPECT_FALSE(l.epilogue.bias);
  EXPECT_EQ(l.epilogue.activation, qk::Activation::none);
  EXPECT_EQ(l.epilogue.output, qk::QuantType::fp16);
}

// docs/plan.md, "Layer keys": input_dtype follows float activations, activation_scaling is none
// for them, and block_size alone means per_group.
TEST(PlanJson, FloatActivationDefaults) {
  const qk::Plan plan = parse_ok(plan_with_layer_body(
      R"("name": "w4", "n": 64, "k": 256, "weight_quant": "int4", "activation_quant": "bf16", )"
      R"("block_size": 64)"));
  ASSERT_EQ(plan.layers.size(), 1u);
  const qk::LayerConfig& l = plan.layers[0];
  EXPECT_EQ(l.input_dtype, qk::QuantType::bf16);
  EXPECT_EQ(l.activation_scaling, qk::ActivationScaling::none);
  EXPECT_EQ(l.weight_granularity, qk::WeightGranularity::per_group);
  EXPECT_EQ(l.block_size, 64);
}

// docs/plan.md, "Layer keys" and "Epilogue keys": every key lands in its LayerConfig field.
TEST(PlanJson, ExplicitValuesAreRead) {
  const qk::Plan plan = parse_ok(R"({
    "version": 1, "model": "tiny", "calibration_samples": 64, "accuracy_threshold": 0.5,
    "layers": [{
      "name": "fc1", "n": 96, "k": 512, "m_range": [4, 64],
      "weight_quant": "int8", "weight_bits": 8, "activation_quant": "int8", "activation_bits": 8,
      "input_dtype": "bf16", "weight_granularity": "per_tensor",
      "activation_scaling": "static_per_tensor", "scale_method": "percentile", "percentile": 99.5,
      "smoothquant_alpha": 0.75,
      "epilogue": {"bias": true, "activation": "gelu_tanh", "output_dtype": "int8"}
    }]})");
  EXPECT_EQ(plan.model, "tiny");
  EXPECT_EQ(plan.calibration_samples, 64);
  EXPECT_DOUBLE_EQ(plan.accuracy_threshold, 0.5);
  ASSERT_EQ(plan.layers.size(), 1u);
  const qk::LayerConfig& l = plan.layers[0];
  EXPECT_EQ(l.name, "fc1");
  EXPECT_EQ(l.n, 96);
  EXPECT_EQ(l.k, 512);
  EXPECT_EQ(l.m_min, 4);
  EXPECT_EQ(l.m_max, 64);
  EXPECT_EQ(l.input_dtype, qk::QuantType::bf16);
  EXPECT_EQ(l.weight_granularity, qk::WeightGranularity::per_tensor);
  EXPECT_EQ(l.activation_scaling, qk::ActivationScaling::static_per_tensor);
  EXPECT_EQ(l.scale_method, qk::ScaleMethod::percentile);
  EXPECT_DOUBLE_EQ(l.percentile, 99.5);
  ASSERT_TRUE(l.smoothquant_alpha.has_value());
  EXPECT_DOUBLE_EQ(*l.smoothquant_alpha, 0.75);
  EXPECT_TRUE(l.epilogue.bias);
  EXPECT_EQ(l.epilogue.activation, qk::Activation::gelu_tanh);
  EXPECT_EQ(l.epilogue.output, qk::QuantType::int8);
}

// docs/plan.md, "Examples": every shipped plan is valid, with the layers it describes.
TEST(PlanJson, EveryExamplePlanParses) {
  const std::map<std::string, std::size_t> expected_layers{
      {"llama2_7b_w8a8_smoothquant.json", 7},
      {"bert_base_encoder.json", 6},
      {"mixed_precision.json", 8},
  };
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(examples_dir())) {
    if (entry.path().extension() != ".json") continue;
    const std::string file = entry.path().filename().string();
    seen.insert(file);
    const qk::Expected<qk::Plan> plan = qk::load_plan(entry.path());
    ASSERT_TRUE(plan.has_value()) << plan.error().str();
    const auto it = expected_layers.find(file);
    if (it != expected_layers.end()) {
      EXPECT_EQ(plan->layers.size(), it->second) << file;
    }
  }
  for (const auto& [file, layers] : expected_layers)
    EXPECT_TRUE(seen.contains(file)) << file << " not found in " << examples_dir();
}

// docs/plan.md, "Errors": a syntax error is one parse_error at LINE:COLUMN (1-based), here the
// `}` that follows a trailing comma on line 3, column 13.
TEST(PlanJson, MalformedJsonReportsLineAndColumn) {
  const Error e = single_error("{\n  \"layers\": [\n    {\"n\": 1,}\n  ]\n}\n");
  EXPECT_EQ(e.code, Errc::parse_error);
  EXPECT_EQ(e.where, "3:13");
  EXPECT_FALSE(e.message.empty());
}

// docs/plan.md, "Errors": the column counts from the start of the line; a bad first character of
// a line is column 1.
TEST(PlanJson, SyntaxErrorAtStartOfLine) {
  const Error e = single_error("{\n\"layers\": [1,\n]\n}");
  EXPECT_EQ(e.code, Errc::parse_error);
  EXPECT_EQ(e.where, "3:1");
}

// docs/plan.md, "Errors": a truncated file reports the position just past its end.
TEST(PlanJson, TruncatedJsonPointsPastTheEnd) {
  const Error e = single_error(R"({"layers": [)");  // 12 characters
  EXPECT_EQ(e.code, Errc::parse_error);
  EXPECT_EQ(e.where, "1:13");
}

// docs/plan.md, "Errors": a UTF-8 byte-order mark does not count as columns of line 1.
TEST(PlanJson, ByteOrderMarkIsNotAColumn) {
  const Error e = single_error("\xEF\xBB\xBF{\"layers\": [1,]}");
  EXPECT_EQ(e.code, Errc::parse_error);
  EXPECT_EQ(e.where, "1:15");  // the `]`
}

// docs/plan.md, "Unknown keys": at the top level, with the closest known key.
TEST(PlanJson, UnknownTopLevelKeySuggestsClosest) {
  const Error e =
      single_error(R"({"calibation_samples": 100, "layers": [{"name": "fc", "n": 64, "k": 128, )"
                   R"("weight_quant": "int8", "activation_quant": "int8"}]})");
  EXPECT_EQ(e.code, Errc::invalid_plan);
  EXPECT_EQ(e.where, "calibation_samples");
  expect_contains(e.message, "unknown key");
  expect_contains(e.message, "did you mean calibration_samples?");
}

// docs/plan.md, "Unknown keys": inside a layer.
TEST(PlanJson, UnknownLayerKeySuggestsClosest) {
  const Error e = single_error(plan_with_layer(R"("blocksize": 128)"));
  EXPECT_EQ(e.where, "layers[0].blocksize");
  expect_contains(e.message, "unknown key");
  expect_contains(e.message, "did you mean block_size?");
}

// docs/plan.md, "Unknown keys": inside the epilogue.
TEST(PlanJson, UnknownEpilogueKeySuggestsClosest) {
  const Error e = single_error(plan_with_layer(R"("epilogue": {"activaton": "relu"})"));
  EXPECT_EQ(e.where, "layers[0].epilogue.activaton");
  expect_contains(e.message, "did you mean activation?");
}

// docs/plan.md, "Unknown keys": short keys get a suggestion for up to two edits (a swap).
TEST(PlanJson, ShortTypoGetsASuggestion) {
  const Error e = single_error(plan_with_layer(R"("epilogue": {"bais": true})"));
  EXPECT_EQ(e.where, "layers[0].epilogue.bais");
  expect_contains(e.message, "did you mean bias?");
}

// docs/plan.md, "Unknown keys": no suggestion when nothing is close.
TEST(PlanJson, UnknownKeyFarFromEveryKeyHasNoSuggestion) {
  const Error e = single_error(plan_with_layer(R"("xyzzy": 1)"));
  EXPECT_EQ(e.where, "layers[0].xyzzy");
  expect_contains(e.message, "xyzzy");
  EXPECT_EQ(e.message.find("did you mean"), std::string::npos) << e.message;
}

// docs/plan.md, "Paths": a key that is not an identifier is written quoted in brackets.
TEST(PlanJson, OddKeyIsQuotedInThePath) {
  const Error e = single_error(plan_with_layer(R"("block size": 128)"));
  EXPECT_EQ(e.where, R"(layers[0]["block size"])");
}

// docs/plan.md, "Layer keys": enum names come from the tables; an unknown one lists them.
TEST(PlanJson, UnknownEnumNameListsTheAllowedNames) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "fc", "n": 64, "k": 128, "weight_quant": "fp8_e4m", "activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].weight_quant");
  expect_contains(e.message, "\"fp8_e4m\"");
  expect_contains(e.message, "int4");
  expect_contains(e.message, "fp8_e5m2");
  expect_contains(e.message, "did you mean fp8_e4m3?");
}

// docs/plan.md, "Types": a fraction is not an integer, even when it is .0.
TEST(PlanJson, IntegerKeysRejectFractions) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "fc", "n": 4096.5, "k": 128, "weight_quant": "int8", "activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].n");
  expect_contains(e.message, "expected an integer");
  expect_contains(e.message, "4096.5");

  const Error whole = single_error(plan_with_layer_body(
      R"("name": "fc", "n": 64, "k": 128.0, "weight_quant": "int8", "activation_quant": "int8")"));
  EXPECT_EQ(whole.where, "layers[0].k");
  expect_contains(whole.message, "128.0");
}

// docs/plan.md, "Types": strings are not integers.
TEST(PlanJson, IntegerKeysRejectStrings) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "fc", "n": "4096", "k": 128, "weight_quant": "int8", "activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].n");
  expect_contains(e.message, "expected an integer");
  expect_contains(e.message, "string \"4096\"");
}

// docs/plan.md, "Types": booleans are not numbers, and numbers are not booleans.
TEST(PlanJson, BooleansAndNumbersDoNotMix) {
  const std::string layer = R"({"name": "fc", "n": 64, "k": 128, "weight_quant": "int8", )"
                            R"("activation_quant": "int8"})";
  const Error threshold =
      single_error(R"({"accuracy_threshold": true, "layers": [)" + layer + "]}");
  EXPECT_EQ(threshold.where, "accuracy_threshold");
  expect_contains(threshold.message, "expected a number");
  expect_contains(threshold.message, "boolean true");

  const Error bias = single_error(plan_with_layer(R"("epilogue": {"bias": 1})"));
  EXPECT_EQ(bias.where, "layers[0].epilogue.bias");
  expect_contains(bias.message, "expected a boolean");
  expect_contains(bias.message, "number 1");
}

// docs/plan.md, "Types": containers of the wrong kind.
TEST(PlanJson, ContainersOfTheWrongKind) {
  const Error layers = single_error(R"({"layers": {"name": "fc"}})");
  EXPECT_EQ(layers.where, "layers");
  expect_contains(layers.message, "expected an array");

  const Error layer = single_error(R"({"layers": [42]})");
  EXPECT_EQ(layer.where, "layers[0]");
  expect_contains(layer.message, "42");

  const Error epilogue = single_error(plan_with_layer(R"("epilogue": "relu")"));
  EXPECT_EQ(epilogue.where, "layers[0].epilogue");
  expect_contains(epilogue.message, "\"relu\"");

  const Error root = single_error("[1, 2]");
  EXPECT_EQ(root.where, "");
  expect_contains(root.message, "array of 2 elements");
}

// docs/plan.md, "Layer keys" (m_range): exactly two integers, each checked at its own path.
TEST(PlanJson, MRangeShape) {
  const Error three = single_error(plan_with_layer(R"("m_range": [1, 2, 3])"));
  EXPECT_EQ(three.where, "layers[0].m_range");
  expect_contains(three.message, "array of 3 elements");

  const Error element = single_error(plan_with_layer(R"("m_range": [1, "64"])"));
  EXPECT_EQ(element.where, "layers[0].m_range[1]");
  expect_contains(element.message, "\"64\"");
}

// docs/plan.md, "Types": integers beyond int64 are refused, not wrapped.
TEST(PlanJson, HugeIntegersAreRefused) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "fc", "n": 18446744073709551615, "k": 128, "weight_quant": "int8", )"
      R"("activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].n");
  expect_contains(e.message, "18446744073709551615");
}

// docs/plan.md, "Layer keys": the required keys, each reported at its own path.
TEST(PlanJson, MissingRequiredLayerKeys) {
  const std::vector<Error> errors = qk::check_plan(R"({"layers": [{}]})");
  const std::set<std::string> expected{"layers[0].name", "layers[0].n", "layers[0].k",
                                       "layers[0].weight_quant", "layers[0].activation_quant"};
  EXPECT_EQ(wheres(errors), expected) << dump(errors);
  EXPECT_EQ(errors.size(), expected.size()) << dump(errors);
  for (const Error& e : errors) expect_contains(e.message, "missing required key");
}

// docs/plan.md, "Top-level keys": layers is required and not empty.
TEST(PlanJson, LayersAreRequiredAndNotEmpty) {
  const Error missing = single_error("{}");
  EXPECT_EQ(missing.where, "layers");
  expect_contains(missing.message, "missing required key");

  const Error empty = single_error(R"({"layers": []})");
  EXPECT_EQ(empty.where, "layers");
  expect_contains(empty.message, "at least one layer");
}

// docs/plan.md, "Layer rules" (name): plan.json requires a non-empty name.
TEST(PlanJson, EmptyNameIsRejected) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "", "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].name");
  expect_contains(e.message, "empty");
}

// docs/plan.md, "Layer keys" (name): names are unique; the error names the earlier layer.
TEST(PlanJson, DuplicateLayerNames) {
  const Error e = single_error(R"({"layers": [
      {"name": "a", "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8"},
      {"name": "b", "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8"},
      {"name": "a", "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8"}]})");
  EXPECT_EQ(e.where, "layers[2].name");
  expect_contains(e.message, "\"a\"");
  expect_contains(e.message, "layers[0]");
}

// docs/plan.md, "Errors": a key written twice in one object would silently lose a value.
TEST(PlanJson, RepeatedJsonKeyIsAnError) {
  const Error e = single_error(plan_with_layer(R"("n": 64)"));
  EXPECT_EQ(e.where, "layers[0].n");
  expect_contains(e.message, "duplicate key");
}

// docs/plan.md, "Layer keys" (weight_bits, activation_bits): they must restate the type's bits.
TEST(PlanJson, BitsMustMatchTheQuantType) {
  const Error weight = single_error(plan_with_layer_body(
      R"("name": "fc", "n": 64, "k": 128, "weight_quant": "int4", "weight_bits": 8, )"
      R"("activation_quant": "int8")"));
  EXPECT_EQ(weight.where, "layers[0].weight_bits");
  expect_contains(weight.message, "8 does not match weight_quant int4 (4 bits)");

  const Error activation = single_error(plan_with_layer(R"("activation_bits": 16)"));
  EXPECT_EQ(activation.where, "layers[0].activation_bits");
  expect_contains(activation.message, "16 does not match activation_quant int8 (8 bits)");

  parse_ok(plan_with_layer(R"("weight_bits": 8, "activation_bits": 8)"));
}

// docs/plan.md, "Layer keys" (block_size): block_size with an explicit non-grouped granularity.
TEST(PlanJson, BlockSizeGivenForPerChannel) {
  const Error e =
      single_error(plan_with_layer(R"("weight_granularity": "per_channel", "block_size": 128)"));
  EXPECT_EQ(e.where, "layers[0].block_size");
  expect_contains(e.message, "128");
  expect_contains(e.message, "per_channel");
}

// docs/plan.md, "Layer keys" (weight_granularity, block_size): float weights take neither.
TEST(PlanJson, FloatWeightsTakeNoGranularityKeys) {
  const std::vector<Error> errors = qk::check_plan(plan_with_layer_body(
      R"("name": "fc", "n": 64, "k": 128, "weight_quant": "fp16", "activation_quant": "fp16", )"
      R"("weight_granularity": "per_channel", "block_size": 64)"));
  const std::set<std::string> expected{"layers[0].weight_granularity", "layers[0].block_size"};
  EXPECT_EQ(wheres(errors), expected) << dump(errors);
  EXPECT_EQ(errors.size(), 2u) << dump(errors);
  for (const Error& e : errors) expect_contains(e.message, "fp16");
}

// docs/plan.md, "Layer keys" (percentile): only with scale_method percentile.
TEST(PlanJson, PercentileNeedsThePercentileMethod) {
  const Error e = single_error(plan_with_layer(
      R"("activation_scaling": "static_per_tensor", "scale_method": "mse", "percentile": 99.9)"));
  EXPECT_EQ(e.where, "layers[0].percentile");
  expect_contains(e.message, "99.9");
  expect_contains(e.message, "mse");
}

// docs/plan.md, "Top-level keys" (version).
TEST(PlanJson, VersionMustBeOne) {
  const std::string layers = R"("layers": [{"name": "fc", "n": 64, "k": 128, )"
                             R"("weight_quant": "int8", "activation_quant": "int8"}])";
  const Error e = single_error(R"({"version": 2, )" + layers + "}");
  EXPECT_EQ(e.where, "version");
  expect_contains(e.message, "2");
  parse_ok(R"({"version": 1, )" + layers + "}");
}

// docs/plan.md, "Top-level keys" (calibration_samples): [1, 1000000].
TEST(PlanJson, CalibrationSamplesRange) {
  const std::string layers = R"("layers": [{"name": "fc", "n": 64, "k": 128, )"
                             R"("weight_quant": "int8", "activation_quant": "int8"}])";
  for (const char* bad : {"0", "1000001", "-3"}) {
    const Error e =
        single_error(std::string(R"({"calibration_samples": )") + bad + ", " + layers + "}");
    EXPECT_EQ(e.where, "calibration_samples");
    expect_contains(e.message, bad);
    expect_contains(e.message, "1000000");
  }
  EXPECT_EQ(parse_ok(R"({"calibration_samples": 1, )" + layers + "}").calibration_samples, 1);
  EXPECT_EQ(parse_ok(R"({"calibration_samples": 1000000, )" + layers + "}").calibration_samples,
            1000000);
}

// docs/plan.md, "Top-level keys" (accuracy_threshold): (0, 1].
TEST(PlanJson, AccuracyThresholdRange) {
  const std::string layers = R"("layers": [{"name": "fc", "n": 64, "k": 128, )"
                             R"("weight_quant": "int8", "activation_quant": "int8"}])";
  for (const char* bad : {"0", "1.5", "-0.5"}) {
    const Error e =
        single_error(std::string(R"({"accuracy_threshold": )") + bad + ", " + layers + "}");
    EXPECT_EQ(e.where, "accuracy_threshold");
    expect_contains(e.message, bad);
  }
  EXPECT_DOUBLE_EQ(parse_ok(R"({"accuracy_threshold": 1, )" + layers + "}").accuracy_threshold,
                   1.0);
}

// docs/plan.md, "Layer rules": the semantic rules run on every layer, at the layer's path.
TEST(PlanJson, LayerRulesApplyAtTheLayerPath) {
  const Error e = single_error(R"({"layers": [
      {"name": "a", "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8"},
      {"name": "b", "n": 64, "k": 128, "weight_quant": "int4", "activation_quant": "fp16",
       "block_size": 96}]})");
  EXPECT_EQ(e.where, "layers[1].block_size");
  expect_contains(e.message, "96");
}

// docs/plan.md, "Errors": a key that could not be read is reported once, not again by the rules
// that would judge its default.
TEST(PlanJson, UnreadableKeyIsReportedOnce) {
  const Error e = single_error(plan_with_layer_body(
      R"("name": "fc", "n": "big", "k": 128, "weight_quant": "int8", "activation_quant": "int8")"));
  EXPECT_EQ(e.where, "layers[0].n");
}

// docs/plan.md, "Errors": every problem is reported, each at its own path.
TEST(PlanJson, AllProblemsAreCollected) {
  const std::vector<Error> errors = qk::check_plan(R"({"modle": "x", "layers": [
      {"name": "a", "n": "64", "k": 128, "weight_quant": "int8", "activation_quant": "int8"},
      {"name": "b", "n": 64, "k": 128, "weight_quant": "int4", "activation_quant": "fp16",
       "block_size": 100}]})");
  const std::set<std::string> expected{"modle", "layers[0].n", "layers[1].block_size"};
  EXPECT_EQ(wheres(errors), expected) << dump(errors);
  EXPECT_EQ(errors.size(), 3u) << dump(errors);
  for (const Error& e : errors) EXPECT_EQ(e.code, Errc::invalid_plan);
}

// docs/plan.md, "Errors": parse_plan returns one Error naming the source, one problem per line.
TEST(PlanJson, ParsePlanJoinsEveryProblem) {
  const qk::Expected<qk::Plan> bad = qk::parse_plan(R"({"layers": [{"name": "fc"}]})", "x.json");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, Errc::invalid_plan);
  EXPECT_EQ(bad.error().where, "x.json");
  expect_contains(bad.error().message, "layers[0].n: ");
  expect_contains(bad.error().message, "\nlayers[0].k: ");

  const qk::Expected<qk::Plan> syntax =
      qk::parse_plan("{\n  \"layers\": [\n    {\"n\": 1,}\n]}", "x.json");
  ASSERT_FALSE(syntax.has_value());
  EXPECT_EQ(syntax.error().code, Errc::parse_error);
  EXPECT_EQ(syntax.error().where, "x.json:3:13");
}

// docs/plan.md, "Errors": an unreadable file is an io_error naming it.
TEST(PlanJson, LoadPlanOfMissingFileIsAnIoError) {
  const std::filesystem::path missing = "/nonexistent/qk/plan.json";
  const qk::Expected<qk::Plan> plan = qk::load_plan(missing);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, Errc::io_error);
  expect_contains(plan.error().where, missing.string());
}

// docs/plan.md, "Errors": load_plan names the file in the errors of its content.
TEST(PlanJson, LoadPlanNamesTheFile) {
  const auto file = std::filesystem::temp_directory_path() /
                    ("qk_plan_test_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream out(file);
    out << R"({"layers": [{"name": "fc", "n": 0, "k": 128, "weight_quant": "int8", )"
           R"("activation_quant": "int8"}]})";
  }
  const qk::Expected<qk::Plan> plan = qk::load_plan(file);
  std::filesystem::remove(file);
  ASSERT_FALSE(plan.has_value());
  EXPECT_EQ(plan.error().code, Errc::invalid_plan);
  EXPECT_EQ(plan.error().where, file.string());
  expect_contains(plan.error().message, "layers[0].n: ");
}

}  // namespace
