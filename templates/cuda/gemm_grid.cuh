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

/// The split-K workspace of a launch with `tiles` output tiles (the grid's x), each of
/// block_m x block_n elements, in `split_k` slices (the grid's z). Layout, in bytes from the
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
