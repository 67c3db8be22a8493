// The CUDA GEMM's block order and split-K slices (templates/cuda/gemm_grid.cuh), checked on the
// CPU by their algebraic properties over every small case: the raster order is a bijection onto
// the tiles that visits groups of `raster` tile rows one after another, and the slices partition
// the k-tiles at whole units, evenly.
#include "cuda/gemm_grid.cuh"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

namespace qk::cuda {
namespace {

TEST(CudaGemmGrid, RasterOrderIsABijectionThatVisitsGroupsOfTileRows) {
  for (int tiles_m = 1; tiles_m <= 19; ++tiles_m)
    for (int tiles_n = 1; tiles_n <= 13; ++tiles_n)
      for (int raster = 1; raster <= 16; ++raster) {
        SCOPED_TRACE(testing::Message() << tiles_m << "x" << tiles_n << " raster " << raster);
        std::vector<int> seen(tiles_m * tiles_n, 0);
        for (int b = 0; b < tiles_m * tiles_n; ++b) {
          const TileCoord t = tile_of_block(b, tiles_m, tiles_n, raster);
          ASSERT_TRUE(t.m >= 0 && t.m < tiles_m && t.n >= 0 && t.n < tiles_n) << "block " << b;
          ++seen[t.m * tiles_n + t.n];
          // Group g's blocks are exactly those of its tile rows [g·raster, g·raster + raster).
          const int group = b / (raster * tiles_n);
          EXPECT_EQ(t.m / raster, group) << "block " << b;
          // Within a group the order runs down the group's rows, column after column.
          const int first = group * raster;
          const int rows = std::min(raster, tiles_m - first);
          const int in_group = b - group * raster * tiles_n;
          EXPECT_EQ(t.m, first + in_group % rows) << "block " << b;
          EXPECT_EQ(t.n, in_group / rows) << "block " << b;
        }
        for (int count : seen) ASSERT_EQ(count, 1);
      }
}

TEST(CudaGemmGrid, RasterOneIsRowMajor) {
  for (int b = 0; b < 7 * 5; ++b) {
    const TileCoord t = tile_of_block(b, 7, 5, 1);
    EXPECT_EQ(t.m, b / 5);
    EXPECT_EQ(t.n, b % 5);
  }
  // Example: 4 x 3 tiles in groups of 2 rows: (0,0) (1,0) (0,1) (1,1) (0,2) (1,2) (2,0) …
  const TileCoord expected[] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {0, 2}, {1, 2},
                                {2, 0}, {3, 0}, {2, 1}, {3, 1}, {2, 2}, {3, 2}};
  for (int b = 0; b < 12; ++b) {
    const TileCoord t = tile_of_block(b, 4, 3, 2);
    EXPECT_EQ(t.m, expected[b].m) << b;
    EXPECT_EQ(t.n, expected[b].n) << b;
  }
}

// Every (tile, slice) is the work of exactly one block of the grid; the only blocks without work
// are those past the tile rows in the last fold of a row-major grid taller than 65535 tiles.
TEST(CudaGemmGrid, TheGridCoversEveryTileAndSliceOnce) {
  for (int tiles_m : {1, 7, kMaxGridY, kMaxGridY + 1, 2 * kMaxGridY + 5})
    for (int tiles_n : {1, 3})
      for (int split : {1, 3})
        for (int raster : {1, 4}) {
          SCOPED_TRACE(testing::Message()
                       << tiles_m << "x" << tiles_n << " split " << split << " raster " << raster);
          const GridDims g = grid_dims(tiles_m, tiles_n, split, raster);
          ASSERT_TRUE(g.x >= 1 && g.x < (1LL << 31) && g.y >= 1 && g.y <= kMaxGridY && g.z >= 1 &&
                      g.z <= kMaxGridY);
          std::vector<char> seen(static_cast<std::size_t>(tiles_m) * tiles_n * split, 0);
          long long idle = 0;
          for (int z = 0; z < g.z; ++z)
            for (int y = 0; y < g.y; ++y)
              for (int x = 0; x < g.x; ++x) {
                const BlockWork w = block_work(x, y, z, tiles_m, tiles_n, split, raster);
                if (!w.in_grid) {
                  ++idle;
                  continue;
                }
                ASSERT_TRUE(w.tile.m < tiles_m && w.tile.n < tiles_n && w.slice < split);
                ASSERT_EQ(w.tile_index, w.tile.m * tiles_n + w.tile.n);
                char& s = seen[static_cast<std::size_t>(w.tile_index) * split + w.slice];
                ASSERT_EQ(s, 0) << "block " << x << "," << y << "," << z << " repeats work";
                s = 1;
              }
          for (char s : seen) ASSERT_EQ(s, 1);
          EXPECT_LT(idle, kMaxGridY * static_cast<long long>(tiles_n) * split)
              << "idle blocks only in the last fold";
        }
}

TEST(CudaGemmGrid, SlicesPartitionTheKTilesAtWholeUnitsEvenly) {
  for (int unit : {1, 2, 4})
    for (int units = 1; units <= 40; ++units)
      for (int split = 1; split <= 16; ++split) {
        SCOPED_TRACE(testing::Message() << units << " units of " << unit << ", split " << split);
        const int k_tiles = units * unit;
        int next = 0, smallest = k_tiles, largest = 0;
        for (int s = 0; s < split; ++s) {
          const KTileRange r = slice_k_tiles(s, split, k_tiles, unit);
          ASSERT_EQ(r.begin, next) << "slice " << s << " must start where the last ended";
          ASSERT_LE(r.begin, r.end);
          EXPECT_EQ(r.begin % unit, 0) << "slice " << s << " cuts a unit";
          smallest = std::min(smallest, r.end - r.begin);
          largest = std::max(largest, r.end - r.begin);
          next = r.end;
        }
        EXPECT_EQ(next, k_tiles) << "the slices must cover every k-tile";
        EXPECT_LE(largest - smallest, unit) << "slices differ by at most one unit";
        if (split > units) {
          EXPECT_EQ(smallest, 0) << "more slices than units leaves some empty";
        }
      }
}

TEST(CudaGemmGrid, WorkspaceHoldsEverySlicesPartialAndOneCounterPerTile) {
  EXPECT_EQ(split_workspace_bytes(32, 1, 16, 128), 0) << "no split, no workspace";
  // 32 tiles x 4 slices x 16 x 128 values of 4 bytes, then 32 counters.
  EXPECT_EQ(split_partials_bytes(32, 4, 16, 128), 32LL * 4 * 16 * 128 * 4);
  EXPECT_EQ(split_workspace_bytes(32, 4, 16, 128), 32LL * 4 * 16 * 128 * 4 + 32 * 4);
  EXPECT_EQ(split_partials_bytes(3, 2, 16, 16) % 16, 0) << "the counters follow 16-byte pieces";
  // Past 2^31 bytes without overflow.
  EXPECT_EQ(split_workspace_bytes(1 << 20, 16, 128, 128),
            (1LL << 20) * 16 * 128 * 128 * 4 + (1LL << 20) * 4);
}

}  // namespace
}  // namespace qk::cuda
