#include "codegen/cuda_tile.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "codegen/m_buckets.hpp"

namespace qk::codegen {
namespace {

struct ArchRow {
  CudaArch arch;
  CudaArchLimits limits;
};
// CUDA C++ Programming Guide, "Technical Specifications per Compute Capability":
// shared memory per SM 164 / 100 / 100 / 228 KB, per block 163 / 99 / 99 / 227 KB; 64 K
// registers per SM; 2048 / 1536 / 1536 / 2048 threads and 32 / 16 / 24 / 32 blocks per SM.
constexpr std::array<ArchRow, 4> kArchs{{
    {CudaArch::sm_80, {164 * 1024, 163 * 1024, 65536, 2048, 32}},
    {CudaArch::sm_86, {100 * 1024, 99 * 1024, 65536, 1536, 16}},
    {CudaArch::sm_89, {100 * 1024, 99 * 1024, 65536, 1536, 24}},
    {CudaArch::sm_90a, {228 * 1024, 227 * 1024, 65536, 2048, 32}},
}};

const ArchRow& row(CudaArch arch) {
  for (const ArchRow& r : kArchs)
    if (r.arch == arch) return r;
  return kArchs[0];
}

}  // namespace

CudaArchLimits limits(CudaArch arch) {
  return row(arch).limits;
}

std::string canonical_name(const CudaTile& t) {
  std::string name = fmt::format("{}x{}x{}_w{}x{}_s{}", t.block_m, t.block_n, t.block_k, t.warps_m,
                                 t.warps_n, t.stages);
  if (t.split_k != 1) name += fmt::format("_k{}", t.split_k);
  if (t.raster != 1) name += fmt::format("_r{}", t.raster);
  if (t.a_quant == CudaAQuant::producer) name += "_qp";
  return name;
}

CudaTile with_producer(CudaTile tile) {
  tile.a_quant = CudaAQuant::producer;
  return tile;
}

std::vector<CudaTile> cuda_tiles(GemmFamily family) {
  switch (family) {
    // {block_m, block_n, block_k, warps_m, warps_n, stages, split_k, raster}
    case GemmFamily::w8a8:
      return {{128, 128, 64, 2, 2, 3, 1, kPrefillRaster},
              {64, 64, 64, 2, 2, 3},
              {16, 128, 128, 1, 4, 4, kDecodeSplitK}};
    case GemmFamily::fp8:  // w4a8's, without raster: see cuda_tiles' comment
      return {
          {128, 128, 64, 2, 4, 3}, {64, 64, 64, 2, 2, 3}, {16, 128, 128, 1, 4, 4, kDecodeSplitK}};
    case GemmFamily::w4a8:
      return {{128, 128, 64, 2, 4, 3, 1, kPrefillRaster},
              {64, 64, 64, 2, 2, 3},
              {16, 128, 128, 1, 4, 4, kDecodeSplitK}};
    case GemmFamily::fp16:
    case GemmFamily::bf16:
      return {{128, 128, 32, 2, 2, 4, 1, kPrefillRaster},
              {64, 64, 32, 2, 2, 4},
              {16, 128, 64, 1, 4, 4, kDecodeSplitK}};
    case GemmFamily::w4a16:
      return {{128, 128, 32, 2, 2, 4, 1, kPrefillRaster},
              {64, 64, 64, 2, 2, 3},
              {16, 128, 128, 1, 4, 4, kDecodeSplitK}};
    default:
      return {};
  }
}

std::vector<CudaTileBucket> default_cuda_tiles(GemmFamily family, ActivationScaling scaling) {
  const std::vector<CudaTile> tiles = cuda_tiles(family);
  if (tiles.empty()) return {};
  // The header says why the producer from the mid bucket on.
  const bool producer =
      scaling == ActivationScaling::dynamic_per_token &&
      (family == GemmFamily::w8a8 || family == GemmFamily::w4a8 || family == GemmFamily::fp8);
  auto a = [&](const CudaTile& t) { return producer ? with_producer(t) : t; };
  return {
      {16, tiles[2]}, {256, a(tiles[1])}, {std::numeric_limits<std::int64_t>::max(), a(tiles[0])}};
}

namespace {

int code_bits(QuantType q) {
  return q == QuantType::int4 ? 4 : (q == QuantType::fp16 || q == QuantType::bf16) ? 16 : 8;
}

// templates/cuda/gemm_layout.cuh, padded_stride: rows padded to an odd number of 16-byte units.
int padded_stride(int row_bytes) {
  return row_bytes + ((row_bytes / 16) % 2 == 0 ? 16 : 0);
}

// templates/cuda/gemm_layout.cuh, GROUPS_PER_TILE: int4 scale groups one k-tile touches.
int groups_per_tile(const CudaTile& t, const CudaOperands& o) {
  if (o.w_code != QuantType::int4) return 0;
  return o.group_size >= t.block_k ? 1 : t.block_k / o.group_size;
}

int group_param_bytes(const CudaTile& t, const CudaOperands& o) {
  return 4 * groups_per_tile(t, o) * t.block_n * (o.zero_points ? 2 : 1);
}

}  // namespace

int gemm_smem_bytes(const CudaTile& t, const CudaOperands& o) {
  // templates/cuda/gemm_layout.cuh, GemmLayout: per stage the A tile as it arrives (fp16/bf16,
  // or the producer's 8-bit codes), the W tile and int4's group scales and zero points; then,
  // for an 8-bit A quantized in the CTA, its 8-bit tile and the per-token scales and inverses.
  const bool prequantized = t.a_quant == CudaAQuant::producer;
  const bool quantize_a = code_bits(o.a_code) == 8 && !prequantized;
  const int a_stage = t.block_m * padded_stride((prequantized ? 1 : 2) * t.block_k);
  const int w_stage =
      t.block_n * padded_stride(t.block_k * code_bits(o.w_code) / 8) + group_param_bytes(t, o);
  const int a8 = quantize_a ? t.block_m * padded_stride(t.block_k) : 0;
  const int scales =
      quantize_a && o.scaling == ActivationScaling::dynamic_per_token ? 8 * t.block_m : 0;
  return t.stages * (a_stage + w_stage) + a8 + scales;
}

int intended_blocks_per_sm(const CudaTile& t, const CudaOperands& o, CudaArch arch) {
  const CudaArchLimits l = limits(arch);
  const int by_smem = l.smem_per_sm / (gemm_smem_bytes(t, o) + kSmemReservedPerBlock);
  const int by_threads = l.max_threads_per_sm / t.threads();
  // A thread keeps its accumulators (one register per element of its share of the warp tile)
  // plus fragments, addresses and loop state: asking ptxas for more CTAs than that allows makes
  // it spill (w4a16's 128x128 tile would get 170 registers for 3 CTAs on sm_90a).
  // w4a8 keeps two sets: the group's int32 sums and the fp32 sum over groups.
  const bool group_sums = o.a_code == QuantType::int8 && o.w_code == QuantType::int4;
  const int accumulators =
      (group_sums ? 2 : 1) * (t.block_m / t.warps_m) * (t.block_n / t.warps_n) / 32;
  const bool emulated_fp8 = arch == CudaArch::sm_90a &&
                            (o.a_code == QuantType::fp8_e4m3 || o.a_code == QuantType::fp8_e5m2);
  const int beside = kRegistersBesideAccumulators + (emulated_fp8 ? kRegistersOfEmulatedFp8Mma : 0);
  const int by_registers = l.registers_per_sm / (t.threads() * (accumulators + beside));
  return std::min({by_smem, by_threads, by_registers, l.max_blocks_per_sm});
}

Expected<void> validate(const CudaTile& t, const CudaOperands& o, CudaArch arch) {
  auto fail = [&](std::string field, std::string rule) {
    return Error{Errc::invalid_argument,
                 fmt::format("tile {} ({}).{}", canonical_name(t), to_string(arch), field),
                 std::move(rule)};
  };
  if (t.warps_m < 1 || t.warps_n < 1)
    return fail("warps_m",
                fmt::format("warps_m {} and warps_n {} must be >= 1", t.warps_m, t.warps_n));
  if (t.threads() > 1024)
    return fail("warps_m", fmt::format("{} warps make {} threads, more than 1024 per block",
                                       t.warps_m * t.warps_n, t.threads()));
  if (t.block_m < 16 * t.warps_m || t.block_m % (16 * t.warps_m) != 0)
    return fail("block_m", fmt::format("block_m {} must be a positive multiple of 16 * warps_m = "
                                       "{} (whole m16 mma tiles per warp)",
                                       t.block_m, 16 * t.warps_m));
  if (t.block_n < 16 * t.warps_n || t.block_n % (16 * t.warps_n) != 0)
    return fail("block_n", fmt::format("block_n {} must be a positive multiple of 16 * warps_n = "
                                       "{} (whole pairs of n8 mma tiles per warp)",
                                       t.block_n, 16 * t.warps_n));
  if (o.w_code == QuantType::int4 && (t.block_n / t.warps_n) % 32 != 0)
    return fail("block_n", fmt::format("block_n {} / warps_n {} must be a multiple of 32 for int4 "
                                       "weights (one ldmatrix.x4 loads four n8 tiles)",
                                       t.block_n, t.warps_n));
  if (t.block_k < 32 || t.block_k % 32 != 0)
    return fail("block_k", fmt::format("block_k {} must be a positive multiple of 32 (the k of "
                                       "one main-loop step: one m16n8k32 mma or two m16n8k16)",
                                       t.block_k));
  if (o.w_code == QuantType::int4 &&
      (o.group_size < 32 || o.group_size % 32 != 0 ||
       (o.group_size % t.block_k != 0 && t.block_k % o.group_size != 0)))
    return fail("block_k", fmt::format("block_k {} and the weights' group size {} must divide one "
                                       "another, the group a multiple of 32 (a k-tile holds whole "
                                       "groups or lies in one)",
                                       t.block_k, o.group_size));
  if (t.stages < 2)
    return fail("stages",
                fmt::format("stages {} must be >= 2 to overlap copies with mma", t.stages));
  const bool prequantized = t.a_quant == CudaAQuant::producer;
  if (prequantized &&
      (code_bits(o.a_code) != 8 || o.scaling != ActivationScaling::dynamic_per_token))
    return fail("a_quant",
                fmt::format("a_quant producer needs an 8-bit A (int8, fp8) with dynamic_per_token "
                            "scaling; this layer's A is {} with {} scaling (in_cta is the only "
                            "choice: a static scale needs no pre-pass, 16-bit A no quantization)",
                            to_string(o.a_code), to_string(o.scaling)));
  const int a_chunks = t.block_m * t.block_k * (prequantized ? 1 : 2) / 16;
  const int w_chunks = t.block_n * t.block_k * code_bits(o.w_code) / 8 / 16;
  if (a_chunks % t.threads() != 0 || w_chunks % t.threads() != 0)
    return fail("block_k", fmt::format("the {} (A) and {} (W) 16-byte copies per stage must split "
                                       "evenly over {} threads",
                                       a_chunks, w_chunks, t.threads()));
  // int4 slices need no rule: they are cut at whole groups (templates/cuda/gemm_grid.cuh).
  if (t.split_k < 1 || t.split_k > kMaxSplitK)
    return fail("split_k", fmt::format("split_k {} must be in [1, {}] (1: K is not split)",
                                       t.split_k, kMaxSplitK));
  if (t.raster < 1 || t.raster > kMaxRaster)
    return fail("raster", fmt::format("raster {} must be in [1, {}] (1: row-major block order)",
                                      t.raster, kMaxRaster));
  const int smem = gemm_smem_bytes(t, o);
  if (smem > limits(arch).smem_per_block)
    return fail("stages", fmt::format("{} bytes of shared memory exceed the {} bytes a block may "
                                      "use on {}",
                                      smem, limits(arch).smem_per_block, to_string(arch)));
  return {};
}

std::vector<CudaTileBucket> cuda_tile_buckets(const LayerConfig& layer) {
  const std::vector<CudaTileBucket> defaults = default_cuda_tiles(
      *family_of(layer.weight_quant, layer.activation_quant), layer.activation_scaling);
  std::vector<CudaTileBucket> tiles;
  for (std::int64_t bucket : buckets_in_range(m_buckets(layer.m_max), layer.m_min, layer.m_max)) {
    const CudaTile& tile = std::find_if(defaults.begin(), defaults.end(), [&](const auto& d) {
                             return bucket <= d.max_m;
                           })->tile;
    if (!tiles.empty() && tiles.back().tile == tile)
      tiles.back().max_m = bucket;
    else
      tiles.push_back({bucket, tile});
  }
  return tiles;
}

}  // namespace qk::codegen
