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

/// Every problem found in a plan text: JSON syntax (with line and column), unknown keys, wrong
/// types, and every rule of validate_layer, each naming its JSON path.
struct PlanDiagnostics {
  std::vector<Error> errors;
};

/// Parses and validates plan JSON text. On failure the Error's message lists every problem found,
/// one per line, each as "path: message"; `source` (a file name) prefixes `where`.
Expected<Plan> parse_plan(std::string_view json_text, const std::string& source = "plan.json");

/// Like parse_plan, but returns every problem separately (empty when the plan is valid).
std::vector<Error> check_plan(std::string_view json_text, Plan* plan_out = nullptr);

/// Reads and parses a plan file. An unreadable file is an Errc::io_error naming the path.
Expected<Plan> load_plan(const std::filesystem::path& file);

}  // namespace qk
