// The blocking parameters of a CPU GEMM kernel: what the autotuner searches and what a kernel's
// canonical name records. See templates/cpu/config.hpp for the meaning of each parameter.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::codegen {

/// The instruction set of a cpu kernel (templates/cpu/config.hpp, Isa; docs/cpu.md, "ISAs"):
/// avx512 = x86-64-v4 + AVX-512 VNNI, 32 zmm; avx2 = x86-64-v3, 16 ymm (every family);
/// amx = avx512 plus AMX-TILE and AMX-INT8: the avx512 kernels, and W8A8 may also run AMX tiles
/// (CpuTile::amx). A backend's level and the tile rules use all three; a kernel's code is avx512
/// or avx2 (code_isa).
enum class CpuIsa : std::uint8_t { avx512, avx2, amx };

/// "avx512", "avx2", "amx": the enumerator's name (the template's Isa enumerator, a name tag).
std::string_view to_string(CpuIsa isa);

/// Vector registers of `isa`: 32 zmm (avx512, amx) or 16 ymm (avx2).
int vector_registers(CpuIsa isa);

/// The ISA of the vector code the templates generate on a level: amx's kernels are avx512 code,
/// some with AMX tiles.
CpuIsa code_isa(CpuIsa isa);

/// No default values: the defaults depend on the family and the M bucket (default_cpu_tiles).
struct CpuTile {
  int mr = 0;  ///< micro-tile rows
  int nv = 0;  ///< micro-tile width in 16-column vectors (N = 16 * nv)
  int kc = 0;  ///< K per cache block: a multiple of 4 (w8a8); 0, K not blocked (the others)
  int mc = 0;  ///< rows per cache block, a multiple of mr
  int nc = 0;  ///< columns per cache block, a multiple of 16 * nv
  /// W8A8 on the amx level: the int8 product on AMX tiles (tdpbusd, templates/cpu/amx.hpp). mr is
  /// then a multiple of 16 (A tiles of 16 rows), nv the B tiles of 16 columns, kc a multiple of
  /// 64; mr / 16 + nv + (mr / 16) * nv tile registers of 8.
  bool amx = false;

  bool operator==(const CpuTile&) const = default;
};

/// "mr8_nv3_kc512_mc96_nc768", "mr32_nv2_kc16384_mc128_nc512_amx": the tile's part of kernel
/// names, logs and keys.
std::string canonical_name(const CpuTile& tile);

/// The rules a tile of `family` must satisfy on `isa` (its register budget within 32 zmm, or 16
/// ymm on avx2 where each 16-column vector takes two, or 8 tile registers for an AMX tile, which
/// only w8a8 on the amx level has; divisibility; the families but w8a8 do not block K, so their
/// kc is 0); the error names the parameter, its value and the rule.
Expected<void> validate(const CpuTile& tile, GemmFamily family, CpuIsa isa = CpuIsa::avx512);

/// The tile for calls with M up to `max_m`.
struct CpuTileBucket {
  std::int64_t max_m;
  CpuTile tile;
};

/// The documented defaults when no tuned tile is recorded (docs/cpu.md, "Tiles"), ascending by
/// max_m, the last bucket unbounded. Both leave K unblocked (up to 16384), so each thread streams
/// its weight panels end to end:
/// - M <= 4 (decode, bound by weight bandwidth): 4 x 80, one register tile covers every row,
///   five concurrent weight streams per thread;
/// - larger M: 5 x 80 (25 accumulators), the weight micro-panel reused from L2 by each group of
///   five rows of a 100-row block.
/// w4a8 needs twice the accumulators (int32 per group, fp32 across groups). Its decode reads half
/// the bytes, so wasted multiplies show: M <= 4 runs 1 x 96 tiles (one row, six concurrent weight
/// streams; a 4-row tile was 1.4x slower at M = 1), larger M 3 x 48.
/// w8a16/w4a16/wfp8a16 dequantize each weight vector once per register tile, so a tile's rows
/// share that cost: M <= 4 runs 1 x 64 (no wasted rows at M = 1), larger M 8 x 32. The float
/// baselines run the same template and tiles.
/// On avx2, within 16 ymm: w8a8 runs 1 x 32 at M = 1 (no wasted rows) and 4 x 16 above (15
/// registers each); w4a8 1 x 64 at M = 1 (four weight streams per thread, 16 registers with its
/// int16-chained loop) and 2 x 16 above (13); the weight-only and float families 1 x 32 at M <= 4
/// (12 registers) and 4 x 16 above (14).
/// On amx, w8a8 keeps the VNNI tiles up to M = 8 (decode is bound by weight bandwidth, and a
/// 16-row AMX tile would mostly multiply repeated rows) and runs 32 x 32 AMX tiles above, K
/// unblocked, 64-row blocks (docs/cpu.md, "AMX"); the other families run their avx512 tiles.
std::vector<CpuTileBucket> default_cpu_tiles(GemmFamily family, CpuIsa isa = CpuIsa::avx512);

}  // namespace qk::codegen
