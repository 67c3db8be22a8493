// Short tags of enum values inside kernel names, where the plan's full names would make them long.
#pragma once

#include <array>
#include <string_view>
#include <utility>

#include "qk/layer_config.hpp"

namespace qk::codegen {

/// "st", "tok", "ten", "none": the activation scaling in kernel names (cpu and cuda alike).
constexpr std::string_view scaling_tag(ActivationScaling s) {
  constexpr std::array<std::pair<ActivationScaling, std::string_view>, 4> kTags{{
      {ActivationScaling::none, "none"},
      {ActivationScaling::static_per_tensor, "st"},
      {ActivationScaling::dynamic_per_token, "tok"},
      {ActivationScaling::dynamic_per_tensor, "ten"},
  }};
  for (const auto& [value, tag] : kTags)
    if (value == s) return tag;
  return "?";
}

}  // namespace qk::codegen
