// A tuning workload: what a tuning record is about (docs/tuning.md, "Keys"). It is the layer's
// kernel spec without its tile and without its name, plus what changes the best tile without
// changing the generated code (the shape, the weight grouping).
#pragma once

#include <cstdint>
#include <string>

#include "qk/layer_config.hpp"

namespace qk::codegen {

struct Workload {
  /// Canonical JSON, keys in a fixed order, e.g. {"target":"cpu","family":"w8a8",
  /// "weights":"int8","activations":"int8","input":"fp32","scaling":"dynamic_per_token","bias":false,"activation":"none",
  /// "output":"fp16","weight_granularity":"per_channel","block_size":0,"symmetric":true,
  /// "n":4096,"k":4096}
  std::string json;
  std::string hash;  ///< 16 hex digits of XXH3-64 of json
  std::int64_t n = 0, k = 0;
};

/// The workload of `layer` on the target named `target` ("cpu"). Two layers that differ only in
/// name, m_range or SmoothQuant alpha share a workload. @pre validate_layer(layer) is empty
Workload workload_of(const LayerConfig& layer, std::string_view target);

}  // namespace qk::codegen
