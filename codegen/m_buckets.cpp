#include "codegen/m_buckets.hpp"

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

namespace qk::codegen {

std::vector<std::int64_t> m_buckets(std::int64_t m_max) {
  std::vector<std::int64_t> buckets;
  for (std::int64_t b = 1;; b *= 2) {
    buckets.push_back(b);
    if (b >= m_max) return buckets;
  }
}

std::vector<std::int64_t> buckets_in_range(const std::vector<std::int64_t>& all, std::int64_t m_min,
                                           std::int64_t m_max) {
  std::vector<std::int64_t> in_range;
  std::int64_t previous = 0;
  for (std::int64_t b : all) {
    // Bucket b holds (previous, b]; it meets [m_min, m_max] unless one lies wholly past the other.
    if (b >= m_min && previous < m_max) in_range.push_back(b);
    previous = b;
  }
  return in_range;
}

Expected<std::vector<std::int64_t>> parse_m_buckets(std::string_view text) {
  std::vector<std::int64_t> buckets;
  std::size_t position = 0;
  while (position <= text.size()) {
    const std::size_t comma = std::min(text.find(',', position), text.size());
    const std::string_view item = text.substr(position, comma - position);
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    const std::string where = fmt::format("buckets[{}]", buckets.size());
    if (item.empty() || ec != std::errc() || end != item.data() + item.size())
      return Error{Errc::invalid_argument, where,
                   fmt::format("\"{}\" is not an integer (expected e.g. \"1,2,4,16,128\")", item)};
    if (value < 1)
      return Error{Errc::invalid_argument, where, fmt::format("{} must be >= 1", value)};
    if (!buckets.empty() && value <= buckets.back())
      return Error{
          Errc::invalid_argument, where,
          fmt::format("{} must be larger than the bucket before it, {}", value, buckets.back())};
    buckets.push_back(value);
    position = comma + 1;
  }
  return buckets;
}

}  // namespace qk::codegen
