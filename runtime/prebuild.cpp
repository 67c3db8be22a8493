#include "runtime/prebuild.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace qk::runtime {

Expected<std::vector<std::string>> parse_list(std::string_view text, std::string_view option,
                                              std::string_view what,
                                              std::span<const std::string_view> allowed) {
  std::vector<std::string> out;
  std::size_t position = 0;
  for (std::string_view rest = text;;) {
    const std::size_t comma = std::min(rest.find(','), rest.size());
    const std::string_view item = rest.substr(0, comma);
    ++position;
    if (std::find(allowed.begin(), allowed.end(), item) == allowed.end())
      return Error{Errc::invalid_argument, std::string(option),
                   fmt::format("item {} is '{}', not {}; allowed: {}", position, item, what,
                               fmt::join(allowed, ", "))};
    if (std::find(out.begin(), out.end(), item) != out.end())
      return Error{Errc::invalid_argument, std::string(option),
                   fmt::format("item {} ('{}') is listed twice", position, item)};
    out.emplace_back(item);
    if (comma == rest.size()) return out;
    rest = rest.substr(comma + 1);
  }
}

std::string layer_label(const Plan& plan, std::size_t layer) {
  const std::string& name = plan.layers[layer].name;
  return name.empty() ? fmt::format("layers[{}]", layer)
                      : fmt::format("layers[{}] ({})", layer, name);
}

std::string skip_reason(const std::vector<std::string>& refused, std::size_t targets,
                        const std::string& first_reason) {
  if (refused.empty()) return {};
  if (refused.size() == targets) return first_reason;
  return fmt::format("on {} only: {}", fmt::join(refused, ", "), first_reason);
}

}  // namespace qk::runtime
