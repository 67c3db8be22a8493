// Reading plan.json (docs/plan.md): syntax, types, unknown keys, presence, defaults, duplicate
// names and the rules that exist only in JSON (bits, keys given for the wrong granularity or
// scale method). Every semantic rule of a layer is validate_layer's (layer_validate.cpp).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "qk/plan.hpp"
#include "quant/json_reader.hpp"

namespace qk {
namespace {

using json_reader::describe;
using json_reader::element_path;
using json_reader::Json;
using json_reader::json_quote;
using json_reader::Need;
using json_reader::ObjectReader;
using json_reader::plan_error;

/// The only plan format version this reader knows.
constexpr std::int64_t kPlanVersion = 1;
/// Calibration feeds at most this many samples through the model (a bound against typos such
/// as 5120000 that would make calibration run for days).
constexpr std::int64_t kMaxCalibrationSamples = 1'000'000;

/// A layer as read from JSON, before the semantic rules.
struct ReadLayer {
  LayerConfig config;
  bool has_name = false;  ///< `name` was read as a string
  /// weight_quant and activation_quant are known: only then can validate_layer judge the rest.
  bool formats_known = false;
};

void read_m_range(ObjectReader& r, LayerConfig& layer, std::vector<Error>& errors) {
  const Json* range = r.array("m_range");
  if (!range) return;
  const std::string path = r.path_of("m_range");
  if (range->size() != 2) {
    errors.push_back(plan_error(
        path,
        fmt::format("expected an array of two integers [min, max], found {}", describe(*range))));
    return;
  }
  const auto min = json_reader::read_integer((*range)[0], element_path(path, 0), errors);
  const auto max = json_reader::read_integer((*range)[1], element_path(path, 1), errors);
  if (min && max) {
    layer.m_min = *min;
    layer.m_max = *max;
  }
}

/// `weight_bits` / `activation_bits` only restate the bits of the type; a mismatch means the
/// author had another type in mind.
void check_bits(ObjectReader& r, std::string_view bits_key, std::string_view type_key,
                std::optional<QuantType> type) {
  const auto bits = r.integer(bits_key);
  if (!bits || !type) return;
  if (*bits != bits_of(*type))
    r.error(bits_key, fmt::format("{} {} does not match {} {} ({} bits)", bits_key, *bits, type_key,
                                  to_string(*type), bits_of(*type)));
}

void read_weight_granularity(ObjectReader& r, std::optional<QuantType> weight, LayerConfig& layer) {
  if (weight && is_float(*weight)) {
    for (const std::string_view key : {"weight_granularity", "block_size"}) {
      if (r.has(key))
        r.error(key, fmt::format("{} is not allowed for float weights: weight_quant {} is not "
                                 "quantized and has no scales",
                                 key, to_string(*weight)));
    }
    return;
  }
  if (const auto block = r.integer("block_size")) {
    if (*block < std::numeric_limits<int>::min() || *block > std::numeric_limits<int>::max())
      r.error("block_size", fmt::format("block_size {} is far out of range (see docs/plan.md for "
                                        "the block sizes)",
                                        *block));
    else
      layer.block_size = static_cast<int>(*block);
  }
  layer.weight_granularity =
      r.has("block_size") ? WeightGranularity::per_group : WeightGranularity::per_channel;
  if (const auto g = r.enumeration<WeightGranularity>("weight_granularity"))
    layer.weight_granularity = *g;
}

void read_scaling(ObjectReader& r, std::optional<QuantType> activation, LayerConfig& layer) {
  const bool float_activations = activation && is_float(*activation);
  layer.activation_scaling =
      float_activations ? ActivationScaling::none : ActivationScaling::dynamic_per_token;
  if (const auto s = r.enumeration<ActivationScaling>("activation_scaling"))
    layer.activation_scaling = *s;

  const auto method = r.enumeration<ScaleMethod>("scale_method");
  if (method) layer.scale_method = *method;
  const bool method_known = method || !r.has("scale_method");
  if (const auto p = r.number("percentile")) {
    if (method_known && layer.scale_method != ScaleMethod::percentile)
      r.error("percentile", fmt::format("percentile {} is used only by scale_method percentile "
                                        "(this layer's scale_method is {})",
                                        *p, to_string(layer.scale_method)));
    else
      layer.percentile = *p;
  }
  if (const auto alpha = r.number("smoothquant_alpha")) layer.smoothquant_alpha = *alpha;
}

void read_epilogue(ObjectReader& r, LayerConfig& layer, std::vector<Error>& errors) {
  const Json* object = r.object("epilogue");
  if (!object) return;
  ObjectReader e(*object, r.path_of("epilogue"), {"bias", "activation", "output_dtype"}, errors);
  if (const auto v = e.boolean("bias")) layer.epilogue.bias = *v;
  if (const auto v = e.enumeration<Activation>("activation")) layer.epilogue.activation = *v;
  if (const auto v = e.enumeration<QuantType>("output_dtype")) layer.epilogue.output = *v;
}

ReadLayer read_layer(const Json& object, const std::string& path, std::vector<Error>& errors) {
  ObjectReader r(
      object, path,
      {"name", "n", "k", "m_range", "weight_quant", "activation_quant", "weight_bits",
       "activation_bits", "input_dtype", "weight_granularity", "block_size", "weight_symmetric",
       "activation_scaling", "scale_method", "percentile", "smoothquant_alpha", "epilogue"},
      errors);
  ReadLayer out;
  LayerConfig& layer = out.config;
  if (const auto v = r.string("name", Need::required)) {
    layer.name = *v;
    out.has_name = true;
    // A plan's layers are told apart by name; a C++ LayerConfig may leave it empty.
    if (v->empty()) errors.push_back(plan_error(path + ".name", "name must not be empty"));
  }
  if (const auto v = r.integer("n", Need::required)) layer.n = *v;
  if (const auto v = r.integer("k", Need::required)) layer.k = *v;
  read_m_range(r, layer, errors);

  const auto weight = r.enumeration<QuantType>("weight_quant", Need::required);
  const auto activation = r.enumeration<QuantType>("activation_quant", Need::required);
  if (weight) layer.weight_quant = *weight;
  if (activation) layer.activation_quant = *activation;
  out.formats_known = weight && activation;
  check_bits(r, "weight_bits", "weight_quant", weight);
  check_bits(r, "activation_bits", "activation_quant", activation);

  layer.input_dtype = activation && is_float(*activation) ? *activation : QuantType::fp16;
  if (const auto v = r.enumeration<QuantType>("input_dtype")) layer.input_dtype = *v;

  read_weight_granularity(r, weight, layer);
  if (const auto v = r.boolean("weight_symmetric")) layer.weight_symmetric = *v;
  read_scaling(r, activation, layer);
  read_epilogue(r, layer, errors);
  return out;
}

/// Whether the reader already reported the problem a validate_layer error is about: an error at
/// the same path, inside it (`m_range[0]` for `m_range`) or around it (`epilogue` for
/// `epilogue.output_dtype`). A key that could not be read keeps its default, and judging that
/// default would only repeat the first report in a confusing way.
bool already_reported(const Error& semantic, const std::vector<Error>& reported) {
  for (const Error& e : reported) {
    if (e.where == semantic.where || e.where.starts_with(semantic.where + "[") ||
        semantic.where.starts_with(e.where + "."))
      return true;
  }
  return false;
}

void read_layers(const Json& layers, Plan& plan, std::vector<Error>& errors) {
  std::map<std::string, std::size_t> first_use;  // layer name -> index of its first layer
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string path = element_path("layers", i);
    if (!layers[i].is_object()) {
      errors.push_back(plan_error(path, "expected a layer object, found " + describe(layers[i])));
      continue;
    }
    std::vector<Error> layer_errors;
    ReadLayer layer = read_layer(layers[i], path, layer_errors);
    if (layer.formats_known) {
      for (Error& e : validate_layer(layer.config, path))
        if (!already_reported(e, layer_errors)) layer_errors.push_back(std::move(e));
    }
    if (layer.has_name && !layer.config.name.empty()) {
      const auto [it, inserted] = first_use.emplace(layer.config.name, i);
      if (!inserted)
        layer_errors.push_back(plan_error(
            path + ".name",
            fmt::format("duplicate name {}: already used by {}; layer names must "
                        "be unique",
                        json_quote(layer.config.name), element_path("layers", it->second))));
    }
    errors.insert(errors.end(), std::make_move_iterator(layer_errors.begin()),
                  std::make_move_iterator(layer_errors.end()));
    plan.layers.push_back(std::move(layer.config));
  }
}

/// The layer an error is about (`layers[3].n` -> 3), or -1 for the top level.
std::int64_t layer_index(std::string_view where) {
  constexpr std::string_view prefix = "layers[";
  if (!where.starts_with(prefix)) return -1;
  std::int64_t index = 0;
  for (std::size_t i = prefix.size(); i < where.size() && where[i] >= '0' && where[i] <= '9'; ++i)
    index = index * 10 + (where[i] - '0');
  return index;
}

std::string read_file(const std::filesystem::path& file, std::optional<Error>& error) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    error = Error{Errc::io_error, file.string(), "cannot read plan file: it is a directory"};
    return {};
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    error = Error{Errc::io_error, file.string(),
                  fmt::format("cannot open plan file: {}", std::strerror(errno))};
    return {};
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) error = Error{Errc::io_error, file.string(), "cannot read plan file: read failed"};
  return text;
}

}  // namespace

std::vector<Error> check_plan(std::string_view json_text, Plan* plan_out) {
  std::vector<Error> errors;
  const auto document = json_reader::parse_document(json_text, errors);
  if (!document) return errors;
  if (!document->is_object()) {
    errors.push_back(plan_error(
        "", "a plan must be a JSON object with a \"layers\" array, found " + describe(*document)));
    return errors;
  }

  ObjectReader top(*document, "",
                   {"layers", "model", "version", "calibration_samples", "accuracy_threshold"},
                   errors);
  Plan plan;
  if (const auto v = top.string("model")) plan.model = *v;
  if (const auto v = top.integer("version"); v && *v != kPlanVersion)
    top.error("version", fmt::format("version {} is not supported: this qk reads plan version {}",
                                     *v, kPlanVersion));
  if (const auto v = top.integer("calibration_samples")) {
    if (*v < 1 || *v > kMaxCalibrationSamples)
      top.error("calibration_samples", fmt::format("calibration_samples {} is out of range [1, {}]",
                                                   *v, kMaxCalibrationSamples));
    else
      plan.calibration_samples = static_cast<int>(*v);
  }
  if (const auto v = top.number("accuracy_threshold")) {
    if (!(*v > 0.0 && *v <= 1.0))
      top.error("accuracy_threshold",
                fmt::format("accuracy_threshold {} is out of range (0, 1]", *v));
    else
      plan.accuracy_threshold = *v;
  }
  if (const Json* layers = top.array("layers", Need::required)) {
    if (layers->empty())
      top.error("layers", "layers must hold at least one layer (found an empty array)");
    read_layers(*layers, plan, errors);
  }

  // The document scan reports repeated keys before anything else: put every error with the
  // others of its layer, keeping the order within a layer.
  std::stable_sort(errors.begin(), errors.end(), [](const Error& a, const Error& b) {
    return layer_index(a.where) < layer_index(b.where);
  });
  if (errors.empty() && plan_out) *plan_out = std::move(plan);
  return errors;
}

Expected<Plan> parse_plan(std::string_view json_text, const std::string& source) {
  Plan plan;
  const std::vector<Error> errors = check_plan(json_text, &plan);
  if (errors.empty()) return plan;
  // A syntax error is always alone: "SOURCE:LINE:COL" + the parser's description.
  if (errors.front().code == Errc::parse_error) {
    const Error& e = errors.front();
    return Error{Errc::parse_error, source.empty() ? e.where : source + ":" + e.where, e.message};
  }
  std::string message;
  for (const Error& e : errors) {
    if (!message.empty()) message += '\n';
    message += e.str();
  }
  return Error{Errc::invalid_plan, source, std::move(message)};
}

Expected<Plan> load_plan(const std::filesystem::path& file) {
  std::optional<Error> error;
  const std::string text = read_file(file, error);
  if (error) return *error;
  return parse_plan(text, file.string());
}

}  // namespace qk
