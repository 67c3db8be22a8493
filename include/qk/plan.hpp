// A plan: the layers of a model to quantize and how, read from plan.json (docs/plan.md).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk {

struct Plan {
  std::string model;  ///< free text, optional
  std::vector<LayerConfig> layers;
  int calibration_samples = 512;     ///< samples the calibration pipeline feeds through the model
  double accuracy_threshold = 0.99;  ///< in (0, 1]: the planner's accuracy budget vs. float
};

/// Parses and validates plan JSON text. A syntax error is an Errc::parse_error whose `where` is
/// "SOURCE:LINE:COL"; any other problems make one Errc::invalid_plan whose `where` is `source`
/// and whose message lists every problem, one "path: message" per line.
Expected<Plan> parse_plan(std::string_view json_text, const std::string& source = "plan.json");

/// Every problem of a plan text, separately: JSON syntax (`where` = "LINE:COL"), unknown keys,
/// wrong types and every rule of validate_layer, each at its JSON path (`layers[3].block_size`).
/// Empty when the plan is valid; then, and only then, *plan_out is filled.
std::vector<Error> check_plan(std::string_view json_text, Plan* plan_out = nullptr);

/// Reads and parses a plan file. An unreadable file is an Errc::io_error naming the path.
Expected<Plan> load_plan(const std::filesystem::path& file);

}  // namespace qk
