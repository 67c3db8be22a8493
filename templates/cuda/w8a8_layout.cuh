// Where the W8A8 kernel (w8a8.cuh) puts everything: its config enums, shared-memory layout and
// the index maps of its copies, ldmatrix fragments and accumulators. Plain C++ as well as CUDA,
// so that the host tests check the maps against the PTX ISA's fragment tables
// (tests/templates/cuda_w8a8_layout_test.cpp) with the very functions the kernel uses.
#pragma once

#ifdef __CUDACC__
#define QK_HD __host__ __device__
#else
#define QK_HD
#endif

namespace qk::cuda {

enum class InputType : int { fp16, bf16 };
enum class OutputType : int { fp16, bf16 };
enum class Scaling : int { static_per_tensor, dynamic_per_token };

/// Where everything sits in shared memory, in bytes. Every row of a tile is padded by 16 bytes:
/// the row stride in 16-byte units is then odd (BLOCK_K is a multiple of 32), so the 8 rows one
/// ldmatrix phase touches fall in 8 distinct 16-byte bank groups: no bank conflicts on the reads
/// of every k-step, without the index arithmetic of an XOR swizzle (cp.async's writes conflict
/// at most 2-way, where a row has fewer than 8 chunks; the layout test checks both).
template <class C>
struct W8A8Layout {
  static constexpr int THREADS = 32 * C::WARPS_M * C::WARPS_N;
  static constexpr int WARP_M = C::BLOCK_M / C::WARPS_M;  ///< rows of Y per warp
  static constexpr int WARP_N = C::BLOCK_N / C::WARPS_N;  ///< columns of Y per warp
  static constexpr int MMA_M = WARP_M / 16;               ///< m16 tiles per warp
  static constexpr int MMA_N = WARP_N / 8;                ///< n8 tiles per warp
  static constexpr int A16_STRIDE = 2 * C::BLOCK_K + 16;  ///< bytes per row, fp16/bf16 A tile
  static constexpr int I8_STRIDE = C::BLOCK_K + 16;       ///< bytes per row, int8 A and W tiles
  static constexpr int A16_STAGE = C::BLOCK_M * A16_STRIDE;
  static constexpr int W_STAGE = C::BLOCK_N * I8_STRIDE;
  static constexpr int A8_OFFSET = C::STAGES * (A16_STAGE + W_STAGE);  ///< the quantized A tile
  static constexpr int SCALE_OFFSET = A8_OFFSET + C::BLOCK_M * I8_STRIDE;
  /// Dynamic per-token: each row's scale and inverse scale (fp32).
  static constexpr int SCALE_BYTES = C::SCALING == Scaling::dynamic_per_token ? 8 * C::BLOCK_M : 0;
  static constexpr int SMEM_BYTES = SCALE_OFFSET + SCALE_BYTES;
  static constexpr int A_CHUNKS = C::BLOCK_M * C::BLOCK_K / 8;   ///< 16-byte pieces of the A tile
  static constexpr int W_CHUNKS = C::BLOCK_N * C::BLOCK_K / 16;  ///< 16-byte pieces of the W tile

  /// The warp's first row and column within the CTA's tile (warps in row-major order).
  static constexpr QK_HD int warp_row0(int warp) { return (warp / C::WARPS_N) * WARP_M; }
  static constexpr QK_HD int warp_col0(int warp) { return (warp % C::WARPS_N) * WARP_N; }

  /// The 16-byte piece `chunk` of a stage's A tile: its row and its first k (8 elements).
  static constexpr QK_HD int a_chunk_row(int chunk) { return chunk / (C::BLOCK_K / 8); }
  static constexpr QK_HD int a_chunk_k(int chunk) { return 8 * (chunk % (C::BLOCK_K / 8)); }
  /// The 16-byte piece `chunk` of a stage's W tile: its row (n) and its first k (16 elements).
  static constexpr QK_HD int w_chunk_row(int chunk) { return chunk / (C::BLOCK_K / 16); }
  static constexpr QK_HD int w_chunk_k(int chunk) { return 16 * (chunk % (C::BLOCK_K / 16)); }

  /// ldmatrix.x4 of the A fragment of m16 tile i at k-step kk: the tile row and first k of the
  /// 16 bytes whose address lane `lane` gives. Lane l addresses matrix l / 8; the matrices are
  /// rows 0-7 k 0-15, rows 8-15 k 0-15, rows 0-7 k 16-31, rows 8-15 k 16-31 (a[0..3]).
  static constexpr QK_HD int a_frag_row(int warp_m, int i, int lane) {
    return warp_m + 16 * i + 8 * ((lane / 8) & 1) + lane % 8;
  }
  static constexpr QK_HD int a_frag_k(int kk, int lane) { return kk + 16 * ((lane / 8) >> 1); }
  /// ldmatrix.x4 of the B fragments of n8 tiles 2p and 2p + 1: matrices n 0-7 k 0-15, n 0-7
  /// k 16-31 (b[0], b[1] of tile 2p), n 8-15 k 0-15, n 8-15 k 16-31 (of tile 2p + 1).
  static constexpr QK_HD int w_frag_row(int warp_n, int p, int lane) {
    return warp_n + 16 * p + 8 * ((lane / 8) >> 1) + lane % 8;
  }
  static constexpr QK_HD int w_frag_k(int kk, int lane) { return kk + 16 * ((lane / 8) & 1); }
  /// Accumulator element e (0..3) of `lane` in an m16n8 tile: its row and column.
  static constexpr QK_HD int acc_row(int e, int lane) { return lane / 4 + 8 * (e / 2); }
  static constexpr QK_HD int acc_col(int e, int lane) { return 2 * (lane % 4) + e % 2; }

  static_assert(C::BLOCK_K % 32 == 0, "BLOCK_K must be a multiple of 32, the k of one mma.");
  static_assert(C::BLOCK_M % (16 * C::WARPS_M) == 0,
                "BLOCK_M must split into WARPS_M warps of whole m16 mma tiles.");
  static_assert(C::BLOCK_N % (16 * C::WARPS_N) == 0,
                "BLOCK_N must split into WARPS_N warps of whole pairs of n8 mma tiles (one "
                "ldmatrix.x4 loads two).");
  static_assert(C::STAGES >= 2, "The pipeline needs at least two stages to overlap anything.");
  static_assert(A_CHUNKS % THREADS == 0 && W_CHUNKS % THREADS == 0,
                "Every thread must copy the same number of 16-byte pieces per stage.");
};

/// Dynamic shared memory of w8a8_gemm<C>, in bytes (codegen checks its own figure against it).
template <class C>
QK_HD constexpr int w8a8_smem_bytes() {
  return W8A8Layout<C>::SMEM_BYTES;
}

}  // namespace qk::cuda
