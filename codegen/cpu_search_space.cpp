#include "codegen/cpu_search_space.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <fmt/format.h>

namespace qk::codegen {
namespace {

constexpr int kMaxRows = 8;     // taller tiles leave too few registers for more than one vector
constexpr int kMaxVectors = 6;  // wider tiles leave too few registers for more than four rows
constexpr int kMinAccumulators = 4;  // fewer cannot cover vpdpbusd's latency of several cycles
constexpr int kUnblockedK = 16384;
// AMX register tiles (rows x 16-column tiles) within the 8 tile registers: 1 A tile with up to 3
// B tiles, 2 x 2 (oneDNN's brgemm shape), 3 x 1.
constexpr std::array<std::pair<int, int>, 6> kAmxShapes{
    {{16, 1}, {16, 2}, {16, 3}, {32, 1}, {32, 2}, {48, 1}}};
constexpr std::int64_t kAmxMinBucket = 8;  // below, a 16-row tile multiplies mostly repeated rows

/// The positive multiple of `step` nearest `target` (ties round up), at least `step`.
int nearest_multiple(int target, int step) {
  return std::max(step, (target + step / 2) / step * step);
}

}  // namespace

CpuTile default_cpu_tile(GemmFamily family, std::int64_t m, CpuIsa isa) {
  const std::vector<CpuTileBucket> buckets = default_cpu_tiles(family, isa);
  for (const CpuTileBucket& b : buckets)
    if (m <= b.max_m) return b.tile;
  return buckets.back().tile;
}

std::vector<CpuTile> cpu_search_space(GemmFamily family, std::int64_t bucket_m, std::int64_t n,
                                      std::int64_t k, CpuIsa isa) {
  const bool blocks_k = family == GemmFamily::w8a8;
  std::vector<int> k_blocks{0};
  if (blocks_k) {
    k_blocks = {kUnblockedK};
    if (k > 512) k_blocks.push_back(512);
  }
  std::vector<CpuTile> space{default_cpu_tile(family, bucket_m, isa)};
  for (int mr = 1; mr <= std::min<std::int64_t>(kMaxRows, bucket_m); ++mr) {
    for (int nv = 1; nv <= kMaxVectors; ++nv) {
      // avx2 holds a 16-column vector in two ymm accumulators.
      const int accumulators = mr * nv * (isa == CpuIsa::avx2 ? 2 : 1);
      if (accumulators < std::min<std::int64_t>(kMinAccumulators, bucket_m * kMaxVectors)) continue;
      std::vector<int> row_blocks{nearest_multiple(96, mr)};
      if (bucket_m > 96) {
        row_blocks.push_back(nearest_multiple(48, mr));
        row_blocks.push_back(nearest_multiple(192, mr));
      }
      const int n_rounded = static_cast<int>((n + 15) / 16 * 16);
      for (int kc : k_blocks)
        for (int mc : row_blocks)
          for (int nc_target : {480, 960, 1920}) {
            const int nc = nearest_multiple(std::min(nc_target, n_rounded), 16 * nv);
            const CpuTile tile{mr, nv, kc, mc, nc};
            if (validate(tile, family, isa)) space.push_back(tile);
          }
    }
  }
  if (isa == CpuIsa::amx && family == GemmFamily::w8a8 && bucket_m >= kAmxMinBucket) {
    const int n_rounded = static_cast<int>((n + 15) / 16 * 16);
    for (const auto& [mr, nv] : kAmxShapes) {
      if (mr > std::max<std::int64_t>(16, bucket_m)) continue;  // only repeated rows
      // K blocks: the B tiles' kc x 16 nv bytes in L1 (256, 512) or L2 (1024), or unblocked.
      std::vector<int> amx_k_blocks{kUnblockedK};
      for (int kc : {256, 512, 1024})
        if (k > kc) amx_k_blocks.push_back(kc);
      std::vector<int> row_blocks{nearest_multiple(64, mr)};
      if (bucket_m > 64) {
        row_blocks.push_back(nearest_multiple(128, mr));
        row_blocks.push_back(nearest_multiple(256, mr));
      }
      for (int kc : amx_k_blocks)
        for (int mc : row_blocks)
          for (int nc_target : {256, 512, 960}) {
            const int nc = nearest_multiple(std::min(nc_target, n_rounded), 16 * nv);
            const CpuTile tile{mr, nv, kc, mc, nc, true};
            if (validate(tile, family, isa)) space.push_back(tile);
          }
    }
  }
  std::sort(space.begin(), space.end(), [](const CpuTile& a, const CpuTile& b) {
    return canonical_name(a) < canonical_name(b);
  });
  space.erase(std::unique(space.begin(), space.end()), space.end());
  return space;
}

Expected<CpuTile> parse_cpu_tile(std::string_view name, GemmFamily family, CpuIsa isa) {
  CpuTile tile;
  const std::array<std::pair<std::string_view, int*>, 5> fields{
      {{"mr", &tile.mr}, {"nv", &tile.nv}, {"kc", &tile.kc}, {"mc", &tile.mc}, {"nc", &tile.nc}}};
  std::string_view rest = name;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto [prefix, value] = fields[i];
    const auto bad = [&] {
      return Error{Errc::invalid_argument, fmt::format("tile \"{}\"", name),
                   fmt::format("expected {}<integer> at \"{}\" (tile names look like "
                               "mr5_nv5_kc16384_mc100_nc960)",
                               prefix, rest)};
    };
    if (!rest.starts_with(prefix)) return bad();
    rest.remove_prefix(prefix.size());
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), *value);
    if (ec != std::errc() || end == rest.data()) return bad();
    rest.remove_prefix(static_cast<std::size_t>(end - rest.data()));
    if (i + 1 < fields.size()) {
      if (!rest.starts_with('_')) return bad();
      rest.remove_prefix(1);
    } else if (rest == "_amx") {
      tile.amx = true;
      rest = {};
    } else if (!rest.empty()) {
      return bad();
    }
  }
  if (auto ok = validate(tile, family, isa); !ok) return ok.error();
  return tile;
}

}  // namespace qk::codegen
