// Short tags of enum values inside kernel names, where the plan's full names would make them long.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

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

/// "_g128", "_g32z" (with zero points), or "" for weights without groups: the weight scale
/// groups in cuda kernel names.
inline std::string weight_group_tag(int group_size, bool zero_points) {
  return group_size == 0 ? "" : fmt::format("_g{}{}", group_size, zero_points ? "z" : "");
}

}  // namespace qk::codegen
