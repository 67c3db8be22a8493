// AMX building blocks of the W8A8 kernel (W8A8Config::amx, templates/cpu/w8a8.hpp): the tile
// configuration and one K block of a tdpbusd register tile.
//
// tdpbusd adds A[16 rows][64 u8] x B[16 k-quads][16 columns x 4 s8] into C[16][16] int32, 4 k per
// product as vpdpbusd does, without saturation. The operands are already in memory in that form:
// - A: the activation codes (u8 = a + 128), quantized per 16-row tile into its 64-k blocks in K
//   order (CodeLayout::amx_tiles, templates/cpu/quantize_rows.hpp): 1024 contiguous bytes per
//   A tile, 16 rows of 64 at stride 64, consecutive K steps 1024 bytes apart;
// - B: a packed weight panel (quant/pack_cpu.hpp), byte kq * 64 + j * 4 + t = w[16p + j][4kq + t]:
//   16 k-quads of one panel are 1024 contiguous bytes, 16 rows of 64 at stride 64.
// So the wrapping int32 sums equal vpdpbusd's and the epilogue's u8-offset compensation applies
// unchanged.
#pragma once

#include <immintrin.h>
#include <stdint.h>

namespace qk::cpu::amx {

constexpr int TILE_ROWS = 16;               ///< rows of A and C tiles, k-quads of a B tile
constexpr int TILE_K = 64;                  ///< bytes of K one tdpbusd consumes per row (64 k)
constexpr int TILE_REGISTERS = 8;           ///< tmm0..tmm7
constexpr int PANEL_STEP = TILE_ROWS * 64;  ///< bytes of one A or B tile: one K step of a panel

/// Tile registers an mt x nt register tile needs: mt A tiles, nt B tiles and mt * nt C tiles.
constexpr int tile_registers(int mt, int nt) {
  return mt + nt + mt * nt;
}

/// The 64-byte operand of ldtilecfg (palette 1).
struct alignas(64) TileConfig {
  uint8_t palette;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];  ///< bytes per row of tile i
  uint8_t rows[16];    ///< rows of tile i
};

/// Configures every tile register as 16 rows of 64 bytes: A, B and C tiles all have that shape,
/// so one configuration serves every register tile and edge (edges use fewer tiles, not smaller
/// ones). The state is per thread: call it in the thread that runs the tiles.
inline void configure_tiles() {
  TileConfig config{};
  config.palette = 1;
  for (int i = 0; i < TILE_REGISTERS; ++i) {
    config.colsb[i] = 64;
    config.rows[i] = TILE_ROWS;
  }
  _tile_loadconfig(&config);
}

/// Returns the tile registers to their initial state, so that the thread's AMX state need not
/// be saved on context switches while it runs other code.
inline void release_tiles() {
  _tile_release();
}

/// Where one K block of an MT x NT register tile reads and writes.
struct BlockRefs {
  const uint8_t* a;       // the first A tile at the block's first k (CodeLayout::amx_tiles)
  int64_t a_tile_stride;  // bytes between 16-row tiles of codes (amx_row_tile_bytes)
  const int8_t* b;        // the first panel at the block's first k
  int64_t panel_stride;   // bytes between panels (16 * k_padded)
  int64_t k_steps;        // 64-byte K steps in the block
  int32_t* c;             // [16 MT][16 NT] int32 sums, rows c_stride bytes apart
  int64_t c_stride;
  bool first;  // whether the sums start at zero (the first K block) or are read from c
};

// Tile instructions name their registers by immediate, so each step below is unrolled by
// compile-time recursion over the register index. C tile i (row tile i / NT, column tile i % NT)
// is tmm i, A tile r tmm(MT * NT + r), B tile n tmm(MT * NT + MT + n).

template <int NT>
inline int32_t* sums_of(const BlockRefs& t, int i) {
  return t.c + (i / NT) * TILE_ROWS * (t.c_stride / 4) + (i % NT) * 16;
}

template <int MT, int NT, int I = 0>
__attribute__((always_inline)) inline void start_sums(const BlockRefs& t) {
  if constexpr (I < MT * NT) {
    if (t.first) {
      _tile_zero(I);
    } else {
      _tile_loadd(I, sums_of<NT>(t, I), t.c_stride);
    }
    start_sums<MT, NT, I + 1>(t);
  }
}

template <int MT, int NT, int I = 0>
__attribute__((always_inline)) inline void store_sums(const BlockRefs& t) {
  if constexpr (I < MT * NT) {
    _tile_stored(I, sums_of<NT>(t, I), t.c_stride);
    store_sums<MT, NT, I + 1>(t);
  }
}

/// One K step: A tile r is loaded just before its first product and B tile n just before
/// product (0, n), so each tdpbusd waits only for the load it needs (the tile registers are
/// reused every step, and a load cannot overtake the products still reading its register).
template <int MT, int NT, int I = 0>
__attribute__((always_inline)) inline void step(const BlockRefs& t, int64_t s) {
  if constexpr (I < MT * NT) {
    constexpr int R = I / NT, N = I % NT;
    if constexpr (N == 0) {
      _tile_loadd(MT * NT + R, t.a + R * t.a_tile_stride + s * PANEL_STEP, 64);
    }
    if constexpr (R == 0) {
      _tile_loadd(MT * NT + MT + N, t.b + N * t.panel_stride + s * PANEL_STEP, 64);
    }
    _tile_dpbusd(I, MT * NT + R, MT * NT + MT + N);
    step<MT, NT, I + 1>(t, s);
  }
}

/// c += (or =, first block) sum over k_steps * 64 k of a[r, k] * b[n, k] for MT * 16 rows and
/// NT * 16 columns. @pre configure_tiles() in this thread
template <int MT, int NT>
__attribute__((always_inline)) inline void tile_block(const BlockRefs& t) {
  static_assert(tile_registers(MT, NT) <= TILE_REGISTERS,
                "An MT x NT AMX tile needs MT A tiles, NT B tiles and MT * NT C tiles; there are "
                "8 tile registers.");
  start_sums<MT, NT>(t);
  for (int64_t s = 0; s < t.k_steps; ++s) step<MT, NT>(t, s);
  store_sums<MT, NT>(t);
}

}  // namespace qk::cpu::amx
