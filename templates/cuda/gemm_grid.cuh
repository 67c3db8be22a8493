// Which part of Y and of K a CTA of the generic GEMM (gemm.cuh) computes: the order of the output
// tiles over a 1-D grid (rasterization), the k-tiles of a split-K slice, and where split-K's
// partial sums and arrival counters live in the workspace. Plain C++ as well as CUDA: the host
// sizes the workspace with the same functions (runtime/cuda_launch_geometry.cpp), and the tests
// check the maps by their algebraic properties over many small cases
// (tests/templates/cuda_gemm_grid_test.cpp).
#pragma once

// Self-contained (the host includes it from runtime/), so it defines QK_HD as gemm_layout.cuh
// does.
#ifndef QK_HD
#ifdef __CUDACC__
#define QK_HD __host__ __device__
#else
#define QK_HD
#endif
#endif

namespace qk::cuda {

/// An output tile: its index along M (rows of Y, BLOCK_M each) and along N.
struct TileCoord {
  int m, n;
};

/// The output tile of linear block `block` (blockIdx.x) on a grid of tiles_m x tiles_n tiles,
/// in groups of `raster` tile rows: block indices run down the `raster` rows of a group (column
/// by column), then to the next group; the last group may have fewer rows. CTAs that run at the
/// same time then read `raster` row blocks of A and few column blocks of W, which L2 holds,
/// instead of one row block of A and every column block of W (Triton's "GROUP_M" order,
/// CUTLASS's threadblock swizzle). raster 1 is plain row-major order (N fastest).
/// @pre 0 <= block < tiles_m * tiles_n; raster >= 1; raster * tiles_n < 2^31
QK_HD constexpr TileCoord tile_of_block(int block, int tiles_m, int tiles_n, int raster) {
  const int per_group = raster * tiles_n;  // blocks of one full group
  const int first_m = block / per_group * raster;
  const int rows = tiles_m - first_m < raster ? tiles_m - first_m : raster;  // this group's
  const int in_group = block % per_group;
  return {first_m + in_group % rows, in_group / rows};
}

/// gridDim.y's limit (CUDA C++ Programming Guide, "Compute Capabilities"): beyond it a grid of
/// row-major tiles folds its tile rows into z.
inline constexpr int kMaxGridY = 65535;

/// A launch's grid of CTAs.
struct GridDims {
  long long x, y, z;
};

/// What one CTA computes: an output tile, its index in row-major order (tile.m · tiles_n +
/// tile.n: where its split-K partials and counter live), and its split-K slice. `in_grid` is
/// false for the blocks of a folded grid's last z layer that lie past the tile rows: they exit.
struct BlockWork {
  TileCoord tile;
  int tile_index;
  int slice;
  bool in_grid;
};

/// The grid of a launch with tiles_m x tiles_n output tiles and `split_k` slices each.
/// raster 1: (tiles_n, tile rows, slices) — two hardware indices name the tile, so the kernel
/// keeps no computed coordinate in a register (ptxas rematerializes blockIdx where it needs it;
/// a tile computed by divisions costs its tightest kernels a register or two, and spills);
/// tile rows past 65535 fold into z: y = min(tiles_m, 65535), z = ceil(tiles_m / 65535) ·
/// split_k. raster > 1: (tiles_m · tiles_n, 1, split_k), tiles in tile_of_block's order.
/// @pre tiles_m, tiles_n, split_k, raster >= 1
QK_HD constexpr GridDims grid_dims(long long tiles_m, long long tiles_n, int split_k, int raster) {
  if (raster > 1) return {tiles_m * tiles_n, 1, split_k};
  const long long folds = (tiles_m + kMaxGridY - 1) / kMaxGridY;
  return {tiles_n, tiles_m < kMaxGridY ? tiles_m : kMaxGridY, folds * split_k};
}

/// The work of block (bx, by, bz) of grid_dims(tiles_m, tiles_n, split_k, raster).
QK_HD constexpr BlockWork block_work(int bx, int by, int bz, int tiles_m, int tiles_n, int split_k,
                                     int raster) {
  if (raster > 1) {
    const TileCoord t = tile_of_block(bx, tiles_m, tiles_n, raster);
    return {t, t.m * tiles_n + t.n, bz, true};
  }
  const TileCoord t{by + kMaxGridY * (bz / split_k), bx};
  return {t, t.m * tiles_n + t.n, bz % split_k, t.m < tiles_m};
}

/// The k-tiles [begin, end) of a split-K slice.
struct KTileRange {
  int begin, end;
};

/// The k-tiles of slice `slice` of `split_k` over `k_tiles` k-tiles, cut only at multiples of
/// `unit` k-tiles (int4 weights whose group spans several k-tiles: a slice holds whole groups, so
/// that every group's scale is applied once and w4a8's per-group int32 sums end inside a slice).
/// Units are spread evenly (slices differ by at most one unit); with more slices than units some
/// slices are empty (begin == end). @pre k_tiles % unit == 0; 0 <= slice < split_k
QK_HD constexpr KTileRange slice_k_tiles(int slice, int split_k, int k_tiles, int unit) {
  const int units = k_tiles / unit;
  return {slice * units / split_k * unit, (slice + 1) * units / split_k * unit};
}

/// The split-K workspace of a launch with `tiles` output tiles, each of block_m x block_n
/// elements, in `split_k` slices. Layout, in bytes from the
/// workspace's start (16-byte aligned):
///   [0, partials)          partial sums: for tile t and slice s, one block of block_m · block_n
///                          4-byte values (int32 for integer accumulators, fp32 otherwise) at
///                          (t · split_k + s) · block_m · block_n · 4, in the kernel's fragment
///                          order (thread-major 16-byte pieces; only the kernel reads them);
///   [partials, +4 · tiles) one arrival counter (uint32) per tile, zero between launches.
/// No workspace without split-K.
QK_HD constexpr long long split_partials_bytes(long long tiles, int split_k, int block_m,
                                               int block_n) {
  return split_k > 1 ? tiles * split_k * block_m * block_n * 4 : 0;
}
QK_HD constexpr long long split_workspace_bytes(long long tiles, int split_k, int block_m,
                                                int block_n) {
  return split_k > 1 ? split_partials_bytes(tiles, split_k, block_m, block_n) + 4 * tiles : 0;
}

}  // namespace qk::cuda
