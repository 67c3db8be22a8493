// M buckets: the ranges of M (tokens per call) that a layer is tuned for and dispatches by.
// A bucket is named by its upper bound; bucket b holds the M with previous bucket < M <= b.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "qk/error.hpp"

namespace qk::codegen {

/// The default buckets for a layer whose M reaches m_max: the decode sizes 1, 2, 4, 8, 16, then
/// powers of two up to the first one >= m_max. Example: m_buckets(100) == {1, 2, 4, 8, 16, 32,
/// 64, 128}. @pre m_max >= 1
std::vector<std::int64_t> m_buckets(std::int64_t m_max);

/// The buckets of [m_min, m_max] out of `all` (ascending): those holding some M of the range.
std::vector<std::int64_t> buckets_in_range(const std::vector<std::int64_t>& all, std::int64_t m_min,
                                           std::int64_t m_max);

/// Parses a bucket list such as "1,2,4,16,128": positive, strictly ascending integers.
/// The error names the offending item, its position and the rule.
Expected<std::vector<std::int64_t>> parse_m_buckets(std::string_view text);

}  // namespace qk::codegen
