#include "codegen/cpu_tile.hpp"

#include <limits>

#include <fmt/format.h>

namespace qk::codegen {

std::string canonical_name(const CpuTile& t) {
  return fmt::format("mr{}_nv{}_kc{}_mc{}_nc{}", t.mr, t.nv, t.kc, t.mc, t.nc);
}

Expected<void> validate(const CpuTile& t, GemmFamily family) {
  auto fail = [&](std::string field, std::string rule) {
    return Error{Errc::invalid_argument, "tile " + canonical_name(t) + "." + field,
                 std::move(rule)};
  };
  if (t.mr < 1 || t.nv < 1)
    return fail("mr", fmt::format("mr {} and nv {} must be >= 1", t.mr, t.nv));
  const bool blocks_k = family == GemmFamily::w8a8;
  // w8a8: mr x nv accumulators + nv weight vectors + 1 broadcast. w4a8: int32 and fp32
  // accumulators, two nibble halves per weight vector, 2 broadcasts and the nibble mask.
  // The weight-only and float families: fp32 accumulators, 4 registers per weight vector and 3
  // more (config.hpp).
  const int registers = family == GemmFamily::w4a8   ? 2 * t.mr * t.nv + 2 * t.nv + 3
                        : family == GemmFamily::w8a8 ? t.mr * t.nv + t.nv + 1
                                                     : t.mr * t.nv + 4 * t.nv + 3;
  if (registers > 32)
    return fail("mr", fmt::format("mr {} x nv {} needs {} vector registers for {}, more than the "
                                  "32 of AVX-512",
                                  t.mr, t.nv, registers, to_string(family)));
  if (!blocks_k && t.kc != 0)
    return fail("kc", fmt::format("kc {} must be 0 for {}, which does not block K", t.kc,
                                  to_string(family)));
  if (blocks_k && (t.kc < 4 || t.kc % 4 != 0))
    return fail("kc", fmt::format("kc {} must be a positive multiple of 4", t.kc));
  if (t.mc < t.mr || t.mc % t.mr != 0)
    return fail("mc", fmt::format("mc {} must be a positive multiple of mr {}", t.mc, t.mr));
  if (t.nc < 16 * t.nv || t.nc % (16 * t.nv) != 0)
    return fail("nc",
                fmt::format("nc {} must be a positive multiple of 16 * nv = {}", t.nc, 16 * t.nv));
  return {};
}

std::vector<CpuTileBucket> default_cpu_tiles(GemmFamily family) {
  constexpr std::int64_t kAnyM = std::numeric_limits<std::int64_t>::max();
  if (family == GemmFamily::w4a8)
    return {{4, CpuTile{1, 6, 0, 96, 768}}, {kAnyM, CpuTile{3, 3, 0, 96, 768}}};
  if (family != GemmFamily::w8a8)  // w8a16, w4a16, wfp8a16 and the float baselines
    return {{4, CpuTile{1, 4, 0, 96, 768}}, {kAnyM, CpuTile{8, 2, 0, 96, 768}}};
  return {{4, CpuTile{4, 5, 16384, 96, 960}}, {kAnyM, CpuTile{5, 5, 16384, 100, 960}}};
}

}  // namespace qk::codegen
