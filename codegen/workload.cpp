#include "codegen/workload.hpp"

#include <fmt/format.h>
#include <xxhash.h>

namespace qk::codegen {

Workload workload_of(const LayerConfig& layer, std::string_view target) {
  Workload w;
  w.n = layer.n;
  w.k = layer.k;
  // Only enum names from qk's tables and integers: no text of the plan's.
  w.json = fmt::format(
      R"({{"target":"{}","family":"{}","weights":"{}","activations":"{}","input":"{}",)"
      R"("scaling":"{}","bias":{},"activation":"{}",)"
      R"("output":"{}","weight_granularity":"{}","block_size":{},"symmetric":{},"n":{},"k":{}}})",
      target, to_string(*family_of(layer.weight_quant, layer.activation_quant)),
      to_string(layer.weight_quant), to_string(layer.activation_quant),
      to_string(layer.input_dtype), to_string(layer.activation_scaling),
      layer.epilogue.bias ? "true" : "false", to_string(layer.epilogue.activation),
      to_string(layer.epilogue.output), to_string(layer.weight_granularity),
      layer.weight_granularity == WeightGranularity::per_group ? layer.block_size : 0,
      layer.weight_symmetric ? "true" : "false", layer.n, layer.k);
  w.hash = fmt::format("{:016x}", XXH3_64bits(w.json.data(), w.json.size()));
  return w;
}

}  // namespace qk::codegen
