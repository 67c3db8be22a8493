// Where the generic GEMM kernel (gemm.cuh) puts everything: its config enums, the shared-memory
// layout and the index maps of its copies, ldmatrix fragments and accumulators. Plain C++ as well
// as CUDA, so that the host tests check the maps against the PTX ISA's fragment tables
// (tests/templates/cuda_gemm_layout_test.cpp) with the very functions the kernel uses.
//
// The maps are written in bytes: an 8x8 b16 ldmatrix matrix is 8 rows of 16 bytes whatever the
// element type, and the fragments of mma m16n8k32 (8-bit) and m16n8k16 (16-bit) occupy the same
// bytes of their rows (PTX ISA, "Matrix Fragments for mma.m16n8k32" / "mma.m16n8k16"). One map
// therefore serves every family; only how many 32-byte pieces a k32 step has changes.
#pragma once

#ifdef __CUDACC__
#define QK_HD __host__ __device__
#else
#define QK_HD
#endif

namespace qk::cuda {

enum class InputType : int { fp16, bf16 };
/// int8: requantized for the next layer with the run-time output scale (numerics §7.3).
enum class OutputType : int { fp16, bf16, int8 };
/// The epilogue's activation function (numerics §7.2); the names are qk's Activation names.
enum class Act : int { none, relu, gelu, gelu_tanh, silu };
enum class Scaling : int { none, static_per_tensor, dynamic_per_token };
/// Where a dynamically scaled 8-bit A is quantized: by each CTA, from its fp16/bf16 stages after a
/// pre-pass over its rows for their absmax (in_cta), or beforehand by the quantize_rows producer
/// kernel (quantize_rows.cuh), whose int8/fp8 codes the GEMM copies as it copies W (producer).
/// The names are codegen's CudaAQuant names.
enum class AQuant : int { in_cta, producer };
/// What an operand is made of where the tensor cores (or the dequant before them) read it. The
/// enumerator names are qk's QuantType names, so codegen renders them from its own table.
enum class Code : int { int8, int4, fp8_e4m3, fp8_e5m2, fp16, bf16 };

QK_HD constexpr int code_bits(Code c) {
  return c == Code::int4 ? 4 : (c == Code::fp16 || c == Code::bf16) ? 16 : 8;
}

/// The row stride, in bytes, of a shared-memory tile whose rows hold `row_bytes` (a multiple of
/// 16). The stride in 16-byte units is made odd (16 bytes of padding when it would be even): the
/// 8 rows one ldmatrix phase touches then fall in 8 distinct 16-byte bank groups, so the reads of
/// every k-step are conflict-free without the index arithmetic of an XOR swizzle.
QK_HD constexpr int padded_stride(int row_bytes) {
  return row_bytes + ((row_bytes / 16) % 2 == 0 ? 16 : 0);
}

/// The config's derived sizes and maps. Config members: see gemm.cuh.
template <class C>
struct GemmLayout {
  static constexpr int THREADS = 32 * C::WARPS_M * C::WARPS_N;
  static constexpr int WARP_M = C::BLOCK_M / C::WARPS_M;  ///< rows of Y per warp
  static constexpr int WARP_N = C::BLOCK_N / C::WARPS_N;  ///< columns of Y per warp
  static constexpr int MMA_M = WARP_M / 16;               ///< m16 tiles per warp
  static constexpr int MMA_N = WARP_N / 8;                ///< n8 tiles per warp

  /// The mma reads 8-bit A (int8, fp8) with a scale per tensor or token; else 16-bit A as it
  /// arrives.
  static constexpr bool A8 = code_bits(C::A_CODE) == 8;
  /// A arrives as 8-bit codes made by the producer kernel (quantize_rows.cuh): the stages hold
  /// them as stored, and the per-token scales are read from args.a_scale ([M]) in the epilogue.
  static constexpr bool PREQUANTIZED_A = C::A_QUANT == AQuant::producer;
  /// A is quantized in the kernel, each k-tile from its fp16/bf16 stage into one 8-bit tile.
  static constexpr bool QUANTIZE_A = A8 && !PREQUANTIZED_A;
  /// int4 weights: per-group scales (and zero points) staged with the tile, dequant in registers.
  static constexpr bool GROUPED_W = C::W_CODE == Code::int4;
  /// int4 weights x int8 activations: exact int32 sums per group, scaled and summed in fp32
  /// (numerics §6.2).
  static constexpr bool GROUP_SUMS = GROUPED_W && A8;
  /// int8 and fp8 weights carry one scale per channel, applied in the epilogue.
  static constexpr bool CHANNEL_W_SCALE =
      C::W_CODE == Code::int8 || C::W_CODE == Code::fp8_e4m3 || C::W_CODE == Code::fp8_e5m2;

  /// Bytes per element of A in global memory and in the stages: 2 (fp16/bf16), 1 (the codes).
  static constexpr int A_ELEM_BYTES = PREQUANTIZED_A ? 1 : 2;
  static constexpr int A_ROW_BYTES = C::BLOCK_K * A_ELEM_BYTES;
  static constexpr int A_STRIDE = padded_stride(A_ROW_BYTES);  ///< A stage rows
  static constexpr int W_ROW_BYTES = C::BLOCK_K * code_bits(C::W_CODE) / 8;
  static constexpr int W_STRIDE = padded_stride(W_ROW_BYTES);  ///< W stage rows
  static constexpr int A8_STRIDE = padded_stride(C::BLOCK_K);  ///< the quantized A tile's rows

  /// Weight scale groups a k-tile touches (int4 only): one when a group spans whole k-tiles.
  static constexpr int GROUPS_PER_TILE =
      !GROUPED_W ? 0 : (C::GROUP_SIZE >= C::BLOCK_K ? 1 : C::BLOCK_K / C::GROUP_SIZE);
  /// Floats per stage of group scales, then as many zero points when the weights have them.
  static constexpr int WS_FLOATS = GROUPS_PER_TILE * C::BLOCK_N;
  static constexpr int WS_ARRAYS = C::W_ZERO ? 2 : 1;

  static constexpr int A_STAGE = C::BLOCK_M * A_STRIDE;
  static constexpr int W_STAGE = C::BLOCK_N * W_STRIDE;
  static constexpr int WS_STAGE = 4 * WS_FLOATS * WS_ARRAYS;
  static constexpr int STAGE = A_STAGE + W_STAGE + WS_STAGE;  ///< bytes of one pipeline stage
  static constexpr int W_OFFSET = A_STAGE;                    ///< within a stage
  static constexpr int WS_OFFSET = A_STAGE + W_STAGE;         ///< within a stage
  static constexpr int A8_OFFSET = C::STAGES * STAGE;         ///< the quantized A tile
  static constexpr int A8_BYTES = QUANTIZE_A ? C::BLOCK_M * A8_STRIDE : 0;
  static constexpr int SCALE_OFFSET = A8_OFFSET + A8_BYTES;
  /// Dynamic per-token, quantized in the CTA: each row's scale and inverse scale (fp32). The
  /// producer's scales stay in global memory.
  static constexpr int SCALE_BYTES =
      C::SCALING == Scaling::dynamic_per_token && QUANTIZE_A ? 8 * C::BLOCK_M : 0;
  static constexpr int SMEM_BYTES = SCALE_OFFSET + SCALE_BYTES;
  /// Row stride of the tile the mma reads A from: the 8-bit tile, or the stage itself.
  static constexpr int A_MMA_STRIDE = QUANTIZE_A ? A8_STRIDE : A_STRIDE;

  static constexpr int A_ROW_CHUNKS = A_ROW_BYTES / 16;        ///< 16-byte pieces per A row
  static constexpr int A_CHUNKS = C::BLOCK_M * A_ROW_CHUNKS;   ///< of A's tile
  static constexpr int W_ROW_CHUNKS = W_ROW_BYTES / 16;        ///< 16-byte pieces per W row
  static constexpr int W_CHUNKS = C::BLOCK_N * W_ROW_CHUNKS;   ///< of W's tile
  static constexpr int WS_CHUNKS = WS_FLOATS * WS_ARRAYS / 4;  ///< of the group scales

  /// Bytes of an mma operand's row per k-tile (in A's type: W is converted to it). The main
  /// loop's mma steps are 32 bytes of it: m16n8k32 for 8-bit operands, m16n8k16 for 16-bit ones.
  static constexpr int MMA_ROW_BYTES = C::BLOCK_K * code_bits(C::A_CODE) / 8;
  static constexpr int MMA_K = 256 / code_bits(C::A_CODE);  ///< k of one mma step: 32 or 16
  static constexpr int MMA_PER_K32 = 32 / MMA_K;            ///< mma steps per 32 k

  /// The warp's first row and column within the CTA's tile (warps in row-major order).
  static constexpr QK_HD int warp_row0(int warp) { return (warp / C::WARPS_N) * WARP_M; }
  static constexpr QK_HD int warp_col0(int warp) { return (warp % C::WARPS_N) * WARP_N; }

  /// The 16-byte piece `chunk` of a stage's A tile: its row and its first k (8 fp16/bf16
  /// elements, or 16 codes).
  static constexpr QK_HD int a_chunk_row(int chunk) { return chunk / A_ROW_CHUNKS; }
  static constexpr QK_HD int a_chunk_k(int chunk) {
    return 16 / A_ELEM_BYTES * (chunk % A_ROW_CHUNKS);
  }
  /// The 16-byte piece `chunk` of a stage's W tile: its row (n) and its first byte in the row.
  static constexpr QK_HD int w_chunk_row(int chunk) { return chunk / W_ROW_CHUNKS; }
  static constexpr QK_HD int w_chunk_byte(int chunk) { return 16 * (chunk % W_ROW_CHUNKS); }
  /// The 16-byte piece `chunk` of a stage's group scales (4 floats): which array (0 scales,
  /// 1 zero points), the group within the k-tile, and the first column.
  static constexpr QK_HD int ws_chunk_array(int chunk) { return chunk / (WS_FLOATS / 4); }
  static constexpr QK_HD int ws_chunk_group(int chunk) {
    return (chunk % (WS_FLOATS / 4)) / (C::BLOCK_N / 4);
  }
  static constexpr QK_HD int ws_chunk_col(int chunk) { return 4 * (chunk % (C::BLOCK_N / 4)); }

  /// ldmatrix.x4 of an A fragment piece of m16 tile i at byte `kb` of the rows: the tile row and
  /// the byte whose address lane `lane` gives. Lane l addresses matrix l / 8; the matrices are
  /// rows 0-7 bytes 0-15, rows 8-15 bytes 0-15, rows 0-7 bytes 16-31, rows 8-15 bytes 16-31
  /// (a[0..3] of m16n8k32 8-bit, and of m16n8k16 16-bit alike).
  static constexpr QK_HD int a_frag_row(int warp_m, int i, int lane) {
    return warp_m + 16 * i + 8 * ((lane / 8) & 1) + lane % 8;
  }
  static constexpr QK_HD int a_frag_byte(int kb, int lane) { return kb + 16 * ((lane / 8) >> 1); }
  /// ldmatrix.x4 of the B fragment pieces of n8 tiles 2p and 2p + 1 (8- and 16-bit W): matrices
  /// n 0-7 bytes 0-15, n 0-7 bytes 16-31 (b[0], b[1] of tile 2p), n 8-15 bytes 0-15, n 8-15 bytes
  /// 16-31 (of tile 2p + 1).
  static constexpr QK_HD int w_frag_row(int warp_n, int p, int lane) {
    return warp_n + 16 * p + 8 * ((lane / 8) >> 1) + lane % 8;
  }
  static constexpr QK_HD int w_frag_byte(int kb, int lane) { return kb + 16 * ((lane / 8) & 1); }
  /// int4 W (the k32-interleaved layout of docs/cuda.md): ldmatrix.x4 of n8 tiles 4q..4q+3 at a
  /// k32 step, one matrix (8 rows x the step's 16 bytes) per tile: lane l addresses row l of the
  /// 32, and receives 32-bit word l % 4 of row l / 4 of each matrix.
  static constexpr QK_HD int w4_frag_row(int warp_n, int q, int lane) {
    return warp_n + 32 * q + lane;
  }
  static constexpr QK_HD int w4_frag_byte(int kk) { return kk / 2; }
  /// Accumulator element e (0..3) of `lane` in an m16n8 tile: its row and column.
  static constexpr QK_HD int acc_row(int e, int lane) { return lane / 4 + 8 * (e / 2); }
  static constexpr QK_HD int acc_col(int e, int lane) { return 2 * (lane % 4) + e % 2; }

  static_assert(C::BLOCK_K % 32 == 0, "BLOCK_K must be a multiple of 32, the k of one mma step.");
  static_assert(C::BLOCK_M % (16 * C::WARPS_M) == 0,
                "BLOCK_M must split into WARPS_M warps of whole m16 mma tiles.");
  static_assert(C::BLOCK_N % (16 * C::WARPS_N) == 0,
                "BLOCK_N must split into WARPS_N warps of whole pairs of n8 mma tiles (one "
                "ldmatrix.x4 loads two).");
  static_assert(!GROUPED_W || WARP_N % 32 == 0,
                "int4 weights need warp tiles of whole n32 quads (one ldmatrix.x4 loads four).");
  static_assert(!GROUPED_W || (C::GROUP_SIZE % 32 == 0 && (C::GROUP_SIZE % C::BLOCK_K == 0 ||
                                                           C::BLOCK_K % C::GROUP_SIZE == 0)),
                "GROUP_SIZE must be a multiple of 32 that divides or is divided by BLOCK_K.");
  static_assert(C::STAGES >= 2, "The pipeline needs at least two stages to overlap anything.");
  static_assert(!PREQUANTIZED_A || (A8 && C::SCALING == Scaling::dynamic_per_token),
                "Only a dynamically per-token scaled 8-bit A comes from the producer kernel: a "
                "static scale needs no pre-pass, and 16-bit A is not quantized.");
  static_assert(A_CHUNKS % THREADS == 0 && W_CHUNKS % THREADS == 0,
                "Every thread must copy the same number of 16-byte pieces of A and W per stage.");
};

/// Dynamic shared memory of gemm<C>, in bytes (codegen checks its own figure against it).
template <class C>
QK_HD constexpr int gemm_smem_bytes() {
  return GemmLayout<C>::SMEM_BYTES;
}

}  // namespace qk::cuda
