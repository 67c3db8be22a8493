#include "tuner/workload_layer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace qk::tuner {
namespace {

Error bad(std::string_view key, std::string_view why) {
  return Error{Errc::parse_error, fmt::format("workload.{}", key), std::string(why)};
}

template <class E>
Expected<E> read_enum(const nlohmann::json& w, const char* key) {
  const auto it = w.find(key);
  if (it == w.end() || !it->is_string()) return bad(key, "missing or not a string");
  const auto value = from_string<E>(it->get<std::string>());
  if (!value)
    return bad(key,
               fmt::format("\"{}\" is not one of {}", it->get<std::string>(), allowed_names<E>()));
  return *value;
}

Expected<std::int64_t> read_int(const nlohmann::json& w, const char* key) {
  const auto it = w.find(key);
  if (it == w.end() || !it->is_number_integer()) return bad(key, "missing or not an integer");
  return it->get<std::int64_t>();
}

Expected<bool> read_bool(const nlohmann::json& w, const char* key) {
  const auto it = w.find(key);
  if (it == w.end() || !it->is_boolean()) return bad(key, "missing or not true/false");
  return it->get<bool>();
}

}  // namespace

Expected<LayerConfig> layer_of_workload(std::string_view json) {
  const auto w = nlohmann::json::parse(json, nullptr, false);
  if (w.is_discarded() || !w.is_object()) return bad("", "is not a JSON object");
  LayerConfig layer;
  layer.name = "workload";
  auto weights = read_enum<QuantType>(w, "weights");
  auto activations = read_enum<QuantType>(w, "activations");
  auto input = read_enum<QuantType>(w, "input");
  auto scaling = read_enum<ActivationScaling>(w, "scaling");
  auto activation = read_enum<Activation>(w, "activation");
  auto output = read_enum<QuantType>(w, "output");
  auto granularity = read_enum<WeightGranularity>(w, "weight_granularity");
  auto bias = read_bool(w, "bias");
  auto symmetric = read_bool(w, "symmetric");
  auto block = read_int(w, "block_size");
  auto n = read_int(w, "n");
  auto k = read_int(w, "k");
  for (const Error* e :
       {weights ? nullptr : &weights.error(), activations ? nullptr : &activations.error(),
        input ? nullptr : &input.error(), scaling ? nullptr : &scaling.error(),
        activation ? nullptr : &activation.error(), output ? nullptr : &output.error(),
        granularity ? nullptr : &granularity.error(), bias ? nullptr : &bias.error(),
        symmetric ? nullptr : &symmetric.error(), block ? nullptr : &block.error(),
        n ? nullptr : &n.error(), k ? nullptr : &k.error()})
    if (e) return *e;
  layer.weight_quant = *weights;
  layer.activation_quant = *activations;
  layer.input_dtype = *input;
  layer.activation_scaling = *scaling;
  layer.epilogue = {*bias, *activation, *output};
  layer.weight_granularity = *granularity;
  layer.block_size = static_cast<int>(*block);
  layer.weight_symmetric = *symmetric;
  layer.n = *n;
  layer.k = *k;
  if (auto errors = validate_layer(layer, "workload"); !errors.empty()) return errors.front();
  return layer;
}

}  // namespace qk::tuner
