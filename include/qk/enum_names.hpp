// One table per enum maps values to the names used in plan.json, logs, kernel names and keys.
// Every name qk prints or parses for an enum goes through these tables (never ad-hoc strings).
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace qk {

/// Specialize with `static constexpr std::array<std::pair<E, std::string_view>, N> table`.
template <class E>
struct EnumNames;

template <class E>
constexpr std::string_view to_string(E value) {
  for (const auto& [v, name] : EnumNames<E>::table)
    if (v == value) return name;
  return "?";
}

template <class E>
constexpr std::optional<E> from_string(std::string_view name) {
  for (const auto& [v, n] : EnumNames<E>::table)
    if (n == name) return v;
  return std::nullopt;
}

/// "a, b, c": the accepted names, for error messages.
template <class E>
std::string allowed_names() {
  std::string out;
  for (const auto& [v, name] : EnumNames<E>::table) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

}  // namespace qk
