// The tile of a CUDA GEMM kernel (what the autotuner will search and what a kernel's canonical
// name records), the architectures qk compiles for, and each one's resource limits. See
// templates/cuda/gemm.cuh for the meaning of each parameter.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"

namespace qk::codegen {

enum class CudaArch : std::uint8_t { sm_80, sm_86, sm_89, sm_90a };

/// Every architecture, in order.
inline constexpr std::array<CudaArch, 4> kCudaArchs{CudaArch::sm_80, CudaArch::sm_86,
                                                    CudaArch::sm_89, CudaArch::sm_90a};

/// Per-architecture limits, from the CUDA C++ Programming Guide, "Compute Capabilities",
/// table "Technical Specifications per Compute Capability" (CC 8.0, 8.6, 8.9, 9.0). Shared
/// memory per block is the opt-in maximum for dynamic shared memory; the system reserves 1 KB
/// per resident block on top of what the block uses (same guide, "Shared Memory" of CC 8.x/9.0).
struct CudaArchLimits {
  int smem_per_sm;         ///< bytes of shared memory per SM
  int smem_per_block;      ///< bytes one block may use (opt-in above 48 KB)
  int registers_per_sm;    ///< 32-bit registers per SM
  int max_threads_per_sm;  ///< resident threads per SM
  int max_blocks_per_sm;   ///< resident blocks per SM
};
inline constexpr int kSmemReservedPerBlock = 1024;  ///< bytes the system keeps per block
inline constexpr int kMaxRegistersPerThread = 255;
inline constexpr int kRegisterAllocationUnit = 256;  ///< registers are allocated per warp in 256s
/// Registers a thread of the GEMM kernels needs beside its accumulators (one step's fragments,
/// addresses, loop state), at least: the shipped tiles use 48-110.
inline constexpr int kRegistersBesideAccumulators = 64;
/// More of them for fp8 on sm_90a, where ptxas emulates mma.sync .e4m3/.e5m2 (Hopper's fp8 tensor
/// cores serve only wgmma): every fp8 operand register is unpacked into two fp16 ones for HMMA.
inline constexpr int kRegistersOfEmulatedFp8Mma = 128;

CudaArchLimits limits(CudaArch arch);

/// Where a dynamically per-token scaled 8-bit A is quantized (templates/cuda/gemm_layout.cuh,
/// AQuant): by each CTA after a pre-pass over its rows (in_cta), or by the quantize_rows producer
/// kernel launched before the GEMM (producer). A choice the tuner searches.
enum class CudaAQuant : std::uint8_t { in_cta, producer };

/// No defaults for the shape: codegen never guesses a tile. split_k, raster and a_quant default
/// to what every tile had before they existed (and keep its name).
struct CudaTile {
  int block_m = 0;  ///< rows of Y per CTA
  int block_n = 0;  ///< columns of Y per CTA
  int block_k = 0;  ///< K per pipeline stage, a multiple of 32
  int warps_m = 0;  ///< warps along M
  int warps_n = 0;  ///< warps along N
  int stages = 0;   ///< cp.async pipeline depth
  /// Slices of K per output tile, each a CTA of its own (grid z), summed by the last to arrive
  /// through a workspace (templates/cuda/split_k.cuh): 1 (none) to kMaxSplitK. More CTAs for
  /// shapes with few output tiles (decode), at the price of the partials' traffic.
  int split_k = 1;
  /// Tile rows per group of the CTA order (templates/cuda/gemm_grid.cuh): CTAs running together
  /// share A's row blocks and W's column blocks in L2. 1 (row-major) to kMaxRaster.
  int raster = 1;
  /// producer: only for an 8-bit A with dynamic per-token scaling (validate())
  CudaAQuant a_quant = CudaAQuant::in_cta;

  bool operator==(const CudaTile&) const = default;
  int threads() const { return 32 * warps_m * warps_n; }
};

inline constexpr int kMaxSplitK = 16;  ///< beyond it the partials' traffic outweighs more CTAs
inline constexpr int kMaxRaster = 16;  ///< groups taller than a wave of CTAs gain nothing more

/// "128x128x64_w2x2_s3": the tile's part of kernel names, logs and keys; "_k4" (split_k), "_r8"
/// (raster) and "_qp" (the producer) follow only when not the default, so tiles without them
/// keep their names.
std::string canonical_name(const CudaTile& tile);

/// What a kernel's shared memory, copies and tile rules depend on besides the tile: the operand
/// types where the mma reads them and the scales that travel with them.
struct CudaOperands {
  /// A as the mma reads it: int8 or fp8 (quantized in the kernel), or fp16/bf16 as it arrives
  QuantType a_code = QuantType::int8;
  QuantType w_code = QuantType::int8;  ///< W as stored: int8, fp8_e4m3, fp16, bf16, int4
  ActivationScaling scaling = ActivationScaling::static_per_tensor;  ///< of a quantized A
  int group_size = 0;        ///< int4: k per scale group (staged with the tile); else 0
  bool zero_points = false;  ///< int4 with zero points

  bool operator==(const CudaOperands&) const = default;
};

/// The decode tile's split-K. With M <= 16 a layer has one tile row, so only ceil(N / 128) CTAs:
/// 32 for N = 4096, a third of an A100's 108 SMs (a quarter of an H100's 132), each streaming
/// 128 rows of W; decode is bound by W's bytes, and idle SMs are idle memory pipes. Four slices
/// make 128 CTAs, about one per SM. The price is the partials' round trip, 16 x 128 x 4 bytes
/// per slice and tile: 4 x 8 KB beside the tile's 512 KB of int8 W at K = 4096 (6 %), and a
/// per-token pre-pass that each slice repeats over all of K for its 16 rows (32 KB of fp16).
inline constexpr int kDecodeSplitK = 4;
/// The prefill tile's rasterization. In row-major order a wave of ~100-130 CTAs covers a few
/// tile rows and all of W's column blocks (86 of them at N = 11008); in groups of 8 rows it
/// covers 8 row blocks of A and ~16 column blocks of W, several times less to keep in L2. 8 is
/// Triton's customary GROUP_M; a tuner can search the value.
inline constexpr int kPrefillRaster = 8;

/// The tiles qk ships per family (every one is compiled for every arch by the tests):
/// - w8a8: 128x128x64_w2x2_s3, prefill: 64 x 64 warp tiles (128 int32 accumulators a thread),
///   the largest tile whose 3 stages fit the 99 KB a block may use on sm_86/sm_89;
///   64x64x64_w2x2_s3, mid-size M: 2 to 4 CTAs per SM hide each other's barriers;
///   16x128x128_w1x4_s4, decode (M <= 16): no wasted m16 rows, four warps split N, long K
///   stages and a deep pipeline keep enough weight bytes in flight.
/// - fp16, bf16: the same roles with half the k per stage (W's rows are twice as wide, so the
///   same bytes per stage): 128x128x32_w2x2_s4, 64x64x32_w2x2_s4, 16x128x64_w1x4_s4.
/// - fp8: w8a8's, the prefill one with 8 warps (128x128x64_w2x4_s3): 64 accumulators a thread
///   leave room for sm_90a's emulation of the fp8 mma (kRegistersOfEmulatedFp8Mma).
/// - w4a8: fp8's: its int32 group sums and fp32 sum over groups are two sets of accumulators,
///   64 each a thread in the 8-warp prefill tile.
/// - w4a16: w8a8's tiles (a quarter of the A stage's bytes for W, so 3-4 stages fit easily);
///   every warp tile is a whole n32 quad (one ldmatrix.x4 of int4 serves four n8 tiles).
/// - every family's decode tile splits K in kDecodeSplitK slices, and its prefill tile orders
///   its CTAs in groups of kPrefillRaster tile rows (below) — except fp8's: on sm_90a its
///   emulated mma leaves no register for the raster order's two computed tile coordinates
///   (255 registers and 12 bytes of spills; row-major order reads them from blockIdx).
/// Each list is {prefill, mid, decode}. Errc-free: a family the cuda target does not implement
/// has none (an empty list).
std::vector<CudaTile> cuda_tiles(GemmFamily family);

/// `tile` with A quantized by the producer kernel.
CudaTile with_producer(CudaTile tile);

/// The tile for calls with M up to `max_m`.
struct CudaTileBucket {
  std::int64_t max_m;
  CudaTile tile;
};

/// The tiles a layer runs where nothing was tuned for the device (no GPU has tuned qk yet),
/// ascending by max_m, the last unbounded: the decode tile up to M = 16, the mid one up to
/// M = 256 (a 4096-wide layer then still makes 64 x 4 CTAs, enough for every SM of the largest
/// GPU), and the prefill one above. Every entry is one of cuda_tiles(family).
///
/// With `scaling` dynamic_per_token (w8a8, w4a8, fp8) the mid and prefill tiles take A from the
/// producer kernel, the decode tile quantizes in the CTA. The pre-pass re-reads each CTA's rows
/// of A ceil(N / BLOCK_N) times and quantizes every A tile as often, beside the fp16/bf16 A
/// stages it copies (twice the bytes of the codes); the producer costs one more launch (a few
/// µs) and writing then reading M·K bytes once. For a 4096 x 4096 layer: at M <= 16 A is 128 KB
/// and its 32 re-reads are L2 hits worth well under a µs, less than the launch; at M = 256 with
/// 64-wide tiles, A's 2 MB is read by 64 columns of CTAs for the pre-pass alone (128 MB of L2
/// traffic, tens of µs beside a GEMM of about as many), so the producer pays from the mid bucket
/// on. A guess until a GPU has measured it: a_quant is a tile dimension for tuning to search.
std::vector<CudaTileBucket> default_cuda_tiles(GemmFamily family, ActivationScaling scaling);

/// The default tile of every M bucket `layer`'s m_range reaches (codegen::m_buckets), adjacent
/// buckets with the same tile merged: calls with M up to max_m run its tile, calls past the last
/// bucket the last tile. What compile() runs for the cuda targets. @pre validate_layer(layer) is
/// empty and its family has CUDA tiles
std::vector<CudaTileBucket> cuda_tile_buckets(const LayerConfig& layer);

/// Dynamic shared memory of the kernel with `tile` and `operands`, in bytes: the same figure as
/// gemm_smem_bytes<Config>() in templates/cuda/gemm_layout.cuh (the rendered source
/// static_asserts it). With the producer the A stages hold the 8-bit codes and there is neither
/// an 8-bit A tile nor per-token scales in shared memory. split_k and raster add none: split-K's
/// one shared word (the last-arrival verdict) reuses the first stage after the main loop, and its
/// partials go to global memory.
int gemm_smem_bytes(const CudaTile& tile, const CudaOperands& operands);

/// CTAs of `tile` one SM of `arch` can hold, as far as shared memory, threads and registers (the
/// accumulators plus kRegistersBesideAccumulators a thread) allow: the occupancy the kernel is
/// compiled for (its registers are bounded to allow it, __launch_bounds__).
int intended_blocks_per_sm(const CudaTile& tile, const CudaOperands& operands, CudaArch arch);

/// The rules a tile must satisfy on `arch`: warp tiles of whole m16 x n16 mma pairs (int4: n32
/// quads), BLOCK_K a multiple of 32 (int4: one that divides the group size or is a multiple of
/// it), at least 2 stages, copies that split evenly over the threads, at most 1024 threads,
/// split_k in [1, kMaxSplitK] and raster in [1, kMaxRaster] (int4 slices need no rule: they are
/// cut at whole groups), shared memory within the arch's per-block limit, and a_quant producer
/// only for an 8-bit A with dynamic per-token scaling. The error names the parameter, its value
/// and the rule.
Expected<void> validate(const CudaTile& tile, const CudaOperands& operands, CudaArch arch);

}  // namespace qk::codegen

namespace qk {
/// "sm_80", …, "sm_90a": NVRTC's --gpu-architecture value and the arch's part of kernel names.
template <>
struct EnumNames<codegen::CudaArch> {
  static constexpr std::array<std::pair<codegen::CudaArch, std::string_view>, 4> table{{
      {codegen::CudaArch::sm_80, "sm_80"},
      {codegen::CudaArch::sm_86, "sm_86"},
      {codegen::CudaArch::sm_89, "sm_89"},
      {codegen::CudaArch::sm_90a, "sm_90a"},
  }};
};
template <>
struct EnumNames<codegen::CudaAQuant> {
  static constexpr std::array<std::pair<codegen::CudaAQuant, std::string_view>, 2> table{{
      {codegen::CudaAQuant::in_cta, "in_cta"},
      {codegen::CudaAQuant::producer, "producer"},
  }};
};
}  // namespace qk
