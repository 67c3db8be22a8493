// Split-K and rasterization (templates/cuda/gemm_grid.cuh, split_k.cuh) executed under cuda-emu
// against the reference: every family, slices that split K evenly, unevenly, and into more slices
// than there are k-tiles (empty slices), int4 groups shorter and longer than BLOCK_K, raster
// groups that do and do not divide the tile rows; m = 1, 7, 33, 130 and n, k that are not
// multiples of any tile. Each kernel runs several calls in a row on one workspace, so a counter
// left non-zero by a launch breaks the next one.
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "codegen/cuda_tile.hpp"
#include "reference_check.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk {
namespace {

namespace fs = std::filesystem;
using codegen::CudaTile;

fs::path fresh_cache() {
  const fs::path dir = fs::temp_directory_path() / ("qk_emu_split_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "kernels.db";
}

const fs::path& cache_file() {
  static const fs::path path = fresh_cache();
  return path;
}

/// `tile` with split_k and raster set.
CudaTile with(CudaTile tile, int split_k, int raster) {
  tile.split_k = split_k;
  tile.raster = raster;
  return tile;
}

/// The tiles the tests vary: decode-like (16 rows, 128 k: few k-tiles), mid (64 x 64 x 64) and
/// a 16-bit family's mid (64 x 64 x 32).
constexpr CudaTile kDecode{16, 128, 128, 1, 4, 4};
constexpr CudaTile kDecode16{16, 128, 64, 1, 4, 4};
constexpr CudaTile kMid{64, 64, 64, 2, 2, 3};
constexpr CudaTile kMid16{64, 64, 32, 2, 2, 4};

/// `layer` compiled for cuda-emu with `tile` for every M.
Kernel compile_with(const LayerConfig& layer, const CudaTile& tile) {
  auto kernel =
      runtime::compile_cuda_emu_with_tiles(layer, {.target = Target::cuda_emu, .cache = cache_file()},
                                           {{std::numeric_limits<std::int64_t>::max(), tile}});
  EXPECT_TRUE(kernel) << kernel.error().str();
  return *kernel;
}

LayerConfig layer(QuantType input, QuantType weights, QuantType activations,
                  ActivationScaling scaling, std::int64_t k) {
  LayerConfig l;
  l.name = "fc";
  l.n = 200;  // 1.56 tiles of 128, 3.1 of 64
  l.k = k;
  l.input_dtype = input;
  l.weight_quant = weights;
  l.activation_quant = activations;
  l.activation_scaling = scaling;
  l.weight_granularity = WeightGranularity::per_channel;
  l.epilogue = {true, Activation::none, QuantType::fp16};
  l.m_min = 1;
  l.m_max = 256;
  return l;
}

LayerConfig grouped(LayerConfig l, int group, bool symmetric) {
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = group;
  l.weight_symmetric = symmetric;
  return l;
}

/// Every m of the split-K contract, in a row on one kernel (and so one workspace).
void check_tile(const LayerConfig& l, const CudaTile& tile, unsigned seed) {
  SCOPED_TRACE(codegen::canonical_name(tile));
  const Kernel kernel = compile_with(l, tile);
  for (std::int64_t m : {1, 7, 33, 130}) test::check_against_reference(kernel, m, seed++, 0);
}

TEST(CudaEmuSplitK, W8A8StaticAndPerTokenMatchTheReference) {
  // k = 208: 2 k-tiles of 128 (the second partial), 4 of 64.
  for (ActivationScaling scaling :
       {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_token}) {
    const LayerConfig l = layer(QuantType::fp16, QuantType::int8, QuantType::int8, scaling, 208);
    check_tile(l, with(kDecode, 2, 1), 10);  // one k-tile per slice
    check_tile(l, with(kDecode, 3, 8), 20);  // an empty slice; 9 tile rows at m = 130: 8 + 1
    check_tile(l, with(kMid, 4, 2), 30);     // 3 tile rows at m = 130: 2 + 1
    check_tile(l, with(kMid, 7, 1), 40);     // 3 empty slices
  }
}

TEST(CudaEmuSplitK, Fp16MatchesTheReference) {
  const LayerConfig l =
      layer(QuantType::fp16, QuantType::fp16, QuantType::fp16, ActivationScaling::none, 208);
  check_tile(l, with(kDecode16, 4, 1), 100);  // 4 k-tiles of 64, the last partial
  check_tile(l, with(kMid16, 7, 2), 110);     // 7 k-tiles of 32 (6.5), one each
  check_tile(l, with(kMid16, 3, 8), 120);
}

TEST(CudaEmuSplitK, W4A8GroupsShorterAndLongerThanBlockKStayWhole) {
  // Groups of 32 with BLOCK_K 64 and 128 (a k-tile holds several groups); groups of 128 with
  // BLOCK_K 64 (a group spans two k-tiles: slices cut at whole groups) and 128.
  LayerConfig g32 = grouped(layer(QuantType::fp16, QuantType::int4, QuantType::int8,
                                  ActivationScaling::dynamic_per_token, 224),
                            32, false);
  check_tile(g32, with(kMid, 3, 2), 200);  // 4 k-tiles (3.5)
  check_tile(g32, with(kDecode, 2, 8), 210);
  LayerConfig g128 = grouped(layer(QuantType::bf16, QuantType::int4, QuantType::int8,
                                   ActivationScaling::static_per_tensor, 384),
                             128, true);
  check_tile(g128, with(kMid, 2, 1), 220);  // 3 groups of 2 k-tiles: 1 + 2 groups
  check_tile(g128, with(kMid, 4, 2), 230);  // 3 groups in 4 slices: one empty
  check_tile(g128, with(kDecode, 3, 1), 240);
}

TEST(CudaEmuSplitK, W4A16MatchesTheReference) {
  LayerConfig l =
      layer(QuantType::bf16, QuantType::int4, QuantType::bf16, ActivationScaling::none, 384);
  check_tile(grouped(l, 64, false), with(kMid, 2, 2), 300);
  check_tile(grouped(l, 128, true), with(kMid, 3, 8), 310);  // groups of two k-tiles
  check_tile(grouped(l, 128, true), with(kDecode, 4, 1), 320);
}

TEST(CudaEmuSplitK, Fp8MatchesTheReference) {
  const LayerConfig l = layer(QuantType::fp16, QuantType::fp8_e4m3, QuantType::fp8_e4m3,
                              ActivationScaling::dynamic_per_token, 208);
  check_tile(l, with(kDecode, 4, 2), 400);
  check_tile(l, with(kMid, 3, 8), 410);
}

/// The output bytes of one call of `kernel` on fixed random data.
std::vector<std::uint8_t> run_bytes(const Kernel& kernel, std::int64_t m, unsigned seed) {
  const LayerConfig& l = kernel.layer();
  const auto w = test::random_matrix(l.n, l.k, seed + 1, 0.05f);
  auto qw = quant::quantize_weights(w, l.n, l.k, quant::weight_format_of(l));
  EXPECT_TRUE(qw);
  auto packed = kernel.pack(*qw);
  EXPECT_TRUE(packed);
  const auto a = test::random_matrix(m, l.k, seed, 1.0f, 9, 25.0f);
  std::vector<std::uint16_t> a16(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) a16[i] = quant::float_to_fp16(a[i]);
  const auto bias = test::random_matrix(1, l.n, seed + 2, 0.5f);
  std::vector<std::uint8_t> y(static_cast<std::size_t>(m * l.n) * 2, 0xEE);
  auto ran = kernel({a16.data(), QuantType::fp16, m, l.k, l.k}, *packed,
                    {y.data(), QuantType::fp16, m, l.n, l.n}, {bias, 0.04f, 0.0f});
  EXPECT_TRUE(ran) << ran.error().str();
  return y;
}

// The int32 partials are exact, so split-K changes nothing of an integer family's output: the
// same bytes as without it, call after call (the counters were reset by each launch).
TEST(CudaEmuSplitK, IntegerSumsAreBitExactAndCallsRepeat) {
  const LayerConfig l = layer(QuantType::fp16, QuantType::int8, QuantType::int8,
                              ActivationScaling::dynamic_per_token, 1024);
  const auto plain = run_bytes(compile_with(l, kDecode), 33, 7);
  for (const CudaTile& tile : {with(kDecode, 5, 1), with(kDecode, 16, 2)}) {
    SCOPED_TRACE(codegen::canonical_name(tile));
    const Kernel split = compile_with(l, tile);
    for (int call = 0; call < 3; ++call) EXPECT_EQ(run_bytes(split, 33, 7), plain) << call;
  }
}

// fp32 partials are added in slice order 0 .. S-1 whichever CTA arrives last: calls repeat bit
// for bit (the emulator's blocks finish in a different order from run to run).
TEST(CudaEmuSplitK, FloatSumsAreDeterministic) {
  const LayerConfig l =
      layer(QuantType::fp16, QuantType::fp16, QuantType::fp16, ActivationScaling::none, 1024);
  const Kernel split = compile_with(l, with(kMid16, 7, 2));
  const auto first = run_bytes(split, 130, 9);
  for (int call = 0; call < 3; ++call) EXPECT_EQ(run_bytes(split, 130, 9), first) << call;
}

}  // namespace
}  // namespace qk
