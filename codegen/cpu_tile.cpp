#include "codegen/cpu_tile.hpp"

#include <array>
#include <limits>

#include <fmt/format.h>

namespace qk::codegen {
namespace {

struct IsaInfo {
  CpuIsa isa;
  std::string_view name;
  int registers;
};
constexpr std::array<IsaInfo, 3> kIsas{
    {{CpuIsa::avx512, "avx512", 32}, {CpuIsa::avx2, "avx2", 16}, {CpuIsa::amx, "amx", 32}}};

// AMX tiles (templates/cpu/amx.hpp): 16-row A and C tiles, 64 bytes of K per tdpbusd, 8 registers.
constexpr int kAmxTileRows = 16;
constexpr int kAmxTileK = 64;
constexpr int kAmxTileRegisters = 8;

const IsaInfo& info(CpuIsa isa) {
  for (const IsaInfo& i : kIsas)
    if (i.isa == isa) return i;
  return kIsas[0];
}

}  // namespace

std::string_view to_string(CpuIsa isa) {
  return info(isa).name;
}

int vector_registers(CpuIsa isa) {
  return info(isa).registers;
}

CpuIsa code_isa(CpuIsa isa) {
  return isa == CpuIsa::amx ? CpuIsa::avx512 : isa;
}

std::string canonical_name(const CpuTile& t) {
  return fmt::format("mr{}_nv{}_kc{}_mc{}_nc{}{}", t.mr, t.nv, t.kc, t.mc, t.nc,
                     t.amx ? "_amx" : "");
}

Expected<void> validate(const CpuTile& t, GemmFamily family, CpuIsa isa) {
  auto fail = [&](std::string field, std::string rule) {
    return Error{Errc::invalid_argument, "tile " + canonical_name(t) + "." + field,
                 std::move(rule)};
  };
  if (t.mr < 1 || t.nv < 1)
    return fail("mr", fmt::format("mr {} and nv {} must be >= 1", t.mr, t.nv));
  if (t.amx) {
    if (family != GemmFamily::w8a8)
      return fail(
          "amx", fmt::format("AMX tiles are implemented for w8a8 only, not {}", to_string(family)));
    if (isa != CpuIsa::amx)
      return fail("amx", fmt::format("AMX tiles need the amx level (amx-tile, amx-int8), not {}",
                                     to_string(isa)));
    if (t.mr % kAmxTileRows != 0)
      return fail("mr", fmt::format("mr {} must be a multiple of {}, the rows of an AMX tile", t.mr,
                                    kAmxTileRows));
    const int row_tiles = t.mr / kAmxTileRows;
    const int tiles = row_tiles + t.nv + row_tiles * t.nv;
    if (tiles > kAmxTileRegisters)
      return fail("mr", fmt::format("mr {} x nv {} needs {} AMX tile registers ({} A, {} B, {} C), "
                                    "more than its {}",
                                    t.mr, t.nv, tiles, row_tiles, t.nv, row_tiles * t.nv,
                                    kAmxTileRegisters));
    if (t.kc < kAmxTileK || t.kc % kAmxTileK != 0)
      return fail("kc", fmt::format("kc {} must be a positive multiple of {}, the K of one "
                                    "tdpbusd",
                                    t.kc, kAmxTileK));
  }
  const bool blocks_k = family == GemmFamily::w8a8;
  // w8a8: mr x nv accumulators + nv weight vectors + 1 broadcast. w4a8: int32 and fp32
  // accumulators, two nibble halves per weight vector, 2 broadcasts and the nibble mask.
  // The weight-only and float families: fp32 accumulators, 4 registers per weight vector and 3
  // more (config.hpp). avx2 holds a 16-column vector in two ymm: w8a8 needs its accumulators,
  // the weights and their absolute values, a broadcast, a product and the int16 ones; w4a8 its
  // int32 accumulators and one int16 chain per row, one step's bytes and nibble halves, 2
  // broadcasts, the nibble mask and the ones (its fp32 sums, touched once per group, may live in
  // memory: templates/cpu/config.hpp, avx2_w4a8_tile_registers); the weight-only families their
  // accumulators, per ymm of weights its packed and dequantized values, a broadcast and a scratch
  // register (scales, zero points and constants are memory operands: config.hpp,
  // avx2_weight_only_tile_registers).
  const bool avx2 = isa == CpuIsa::avx2;
  const int registers = family == GemmFamily::w4a8
                            ? (avx2 ? 2 * t.mr * t.nv + t.mr + 7 : 2 * t.mr * t.nv + 2 * t.nv + 3)
                        : family == GemmFamily::w8a8
                            ? (avx2 ? 2 * t.mr * t.nv + 4 * t.nv + 3 : t.mr * t.nv + t.nv + 1)
                        : avx2 ? 2 * t.mr * t.nv + 4 * t.nv + 2
                               : t.mr * t.nv + 4 * t.nv + 3;
  if (!t.amx && registers > vector_registers(isa))
    return fail("mr", fmt::format("mr {} x nv {} needs {} vector registers for {} on {}, more "
                                  "than its {}",
                                  t.mr, t.nv, registers, to_string(family), to_string(isa),
                                  vector_registers(isa)));
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

std::vector<CpuTileBucket> default_cpu_tiles(GemmFamily family, CpuIsa isa) {
  constexpr std::int64_t kAnyM = std::numeric_limits<std::int64_t>::max();
  if (isa == CpuIsa::avx2 && family == GemmFamily::w4a8)
    return {{1, CpuTile{1, 4, 0, 96, 768}}, {kAnyM, CpuTile{2, 1, 0, 96, 768}}};
  // avx2 w8a8: a tile of exactly the call's rows up to M = 2 (a 4-row tile computes two repeated
  // rows there: 2x slower with the weights in L3, about 1.1x from DRAM), then 4 x 16 (docs/cpu.md,
  // "Tiles").
  if (isa == CpuIsa::avx2 && family == GemmFamily::w8a8)
    return {{1, CpuTile{1, 2, 16384, 96, 960}},
            {2, CpuTile{2, 1, 16384, 96, 960}},
            {kAnyM, CpuTile{4, 1, 16384, 96, 960}}};
  // w8a16, w4a16, wfp8a16 and the float baselines: up to M = 4 the rows fit one register tile,
  // which decodes the weights in registers once for all of them (docs/cpu.md, "Tiles").
  if (isa == CpuIsa::avx2)
    return {{1, CpuTile{1, 2, 0, 96, 768}},
            {2, CpuTile{2, 1, 0, 96, 768}},
            {kAnyM, CpuTile{4, 1, 0, 96, 768}}};
  if (family == GemmFamily::w4a8)
    return {{4, CpuTile{1, 6, 0, 96, 768}}, {kAnyM, CpuTile{3, 3, 0, 96, 768}}};
  if (family != GemmFamily::w8a8)
    return {{1, CpuTile{1, 4, 0, 96, 768}},
            {2, CpuTile{2, 4, 0, 96, 768}},
            {4, CpuTile{4, 2, 0, 96, 768}},
            {kAnyM, CpuTile{8, 2, 0, 96, 768}}};
  if (isa == CpuIsa::amx)  // docs/cpu.md, "AMX": 32 x 32 runs one A tile where M <= 16
    return {{4, CpuTile{4, 5, 16384, 96, 960}},
            {8, CpuTile{5, 5, 16384, 100, 960}},
            {kAnyM, CpuTile{32, 2, 16384, 64, 256, true}}};
  return {{4, CpuTile{4, 5, 16384, 96, 960}}, {kAnyM, CpuTile{5, 5, 16384, 100, 960}}};
}

}  // namespace qk::codegen
