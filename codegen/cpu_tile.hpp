// The blocking parameters of a CPU GEMM kernel: what the autotuner searches and what a kernel's
// canonical name records. See templates/cpu/config.hpp for the meaning of each parameter.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "qk/error.hpp"

namespace qk::codegen {

struct CpuTile {
  int mr = 8;    ///< micro-tile rows
  int nv = 3;    ///< micro-tile width in 16-column vectors (N = 16 * nv)
  int kc = 512;  ///< K per cache block, a multiple of 4
  int mc = 96;   ///< rows per cache block, a multiple of mr
  int nc = 768;  ///< columns per cache block, a multiple of 16 * nv

  bool operator==(const CpuTile&) const = default;
};

/// "mr8_nv3_kc512_mc96_nc768": the tile's part of kernel names, logs and keys.
std::string canonical_name(const CpuTile& tile);

/// The rules a tile must satisfy (register budget of 32 zmm, divisibility); the error names the
/// parameter, its value and the rule.
Expected<void> validate(const CpuTile& tile);

/// The documented default for a layer when no tuned tile is recorded (docs/cpu.md): an 8 x 48
/// micro-tile (24 accumulators) with a 512-deep K block, whose 24 KiB weight micro-panel stays in
/// the 48 KiB L1 while 96 activation rows (48 KiB) stream from L2.
CpuTile default_cpu_tile();

}  // namespace qk::codegen
