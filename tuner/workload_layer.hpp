// A workload's JSON (codegen/workload.hpp) read back into a layer that has that workload, so
// that a stored tuning record can be measured again (qk-cache verify --retime).
#pragma once

#include <string_view>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::tuner {

/// The layer whose codegen::workload_of(layer, target) has this JSON (name "workload", m_range
/// [1, 2048]). Errors: text that is not a workload's JSON, naming the key and value
/// (Errc::parse_error), or a layer that is not valid (validate_layer's first error).
/// @post codegen::workload_of(result, target).json == json for every JSON workload_of made
Expected<LayerConfig> layer_of_workload(std::string_view json);

}  // namespace qk::tuner
