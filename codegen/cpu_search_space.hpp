// The autotuner's search space on the cpu target: the valid CpuTiles worth timing for a kernel
// family, a bucket of M and a layer shape (docs/tuning.md, "Search spaces").
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "codegen/cpu_tile.hpp"

namespace qk::codegen {

/// The tiles to try for calls of up to `bucket_m` rows of an n x k layer of `family`, in
/// canonical-name order, each passing validate(tile, family), the heuristic default for the
/// bucket (default_cpu_tile) always among them. The space is the cross product of:
/// - register shapes mr x nv within the 32 zmm registers, with mr <= bucket_m (more rows than a
///   call has only repeat a row), mr <= 8, nv <= 6, and at least 4 accumulators (fewer cannot
///   cover vpdpbusd's latency);
/// - K blocks (w8a8): 512 (the weight micro-panel stays in L1) or unblocked (16384);
/// - row blocks mc: the multiple of mr nearest 96, and near 48 and 192 when bucket_m exceeds 96
///   (mc does not matter to calls with fewer rows);
/// - column blocks nc: the multiple of 16 * nv nearest 480, 960 and 1920, at most n rounded up.
/// On avx2 the register shapes are those within its 16 ymm (validate(tile, family, isa)).
/// On amx, w8a8 buckets of 8 rows and more also try AMX tiles: 16 x 16..48, 32 x 16..32 and
/// 48 x 16 (no taller than the bucket needs), K blocks 256, 512, 1024 or unblocked, row blocks
/// near 64 (and 128, 256 for buckets above 64), column blocks near 256, 512 and 960.
/// Example: cpu_search_space(GemmFamily::w8a8, 1, 4096, 4096) holds the 1-row and decode tiles.
std::vector<CpuTile> cpu_search_space(GemmFamily family, std::int64_t bucket_m, std::int64_t n,
                                      std::int64_t k, CpuIsa isa = CpuIsa::avx512);

/// The heuristic default tile for calls of `m` rows (default_cpu_tiles' bucket holding m).
CpuTile default_cpu_tile(GemmFamily family, std::int64_t m, CpuIsa isa = CpuIsa::avx512);

/// The tile whose canonical_name is `name` ("mr5_nv5_kc16384_mc100_nc960", or with "_amx"),
/// validated for `family` on `isa`; the error names the text and what is wrong with it.
Expected<CpuTile> parse_cpu_tile(std::string_view name, GemmFamily family,
                                 CpuIsa isa = CpuIsa::avx512);

}  // namespace qk::codegen
