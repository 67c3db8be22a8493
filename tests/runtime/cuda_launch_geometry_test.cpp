// The launch geometry shared by the cuda launcher and cuda-emu: grid sizes from the tile, and the
// argument rules, each error naming the dimension, its value and the limit.
#include "runtime/cuda_launch_geometry.hpp"

#include <gtest/gtest.h>

#include "codegen/cuda_kernel_spec.hpp"

namespace qk::runtime {
namespace {

codegen::CudaKernelSpec spec_with(codegen::CudaTile tile) {
  codegen::CudaKernelSpec spec;
  spec.tile = tile;
  return spec;
}

const codegen::CudaTile kTile{
    .block_m = 64, .block_n = 128, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 3};

TEST(CudaLaunchGeometry, CoversTheOutputWithWholeTiles) {
  const auto spec = spec_with(kTile);
  const auto kernel = codegen::render_cuda(spec);
  auto g = launch_geometry(spec, kernel, 130, 257, 4096);
  ASSERT_TRUE(g) << g.error().str();
  EXPECT_EQ(g->grid_x, 3u);  // 257 columns: two full tiles of 128 and one of 1
  EXPECT_EQ(g->grid_y, 3u);  // 130 rows: 64 + 64 + 2
  EXPECT_EQ(g->grid_z, 1u) << "no split-K";
  EXPECT_EQ(g->workspace_bytes, 0u);
  EXPECT_EQ(g->block_x, 128u);
  EXPECT_EQ(g->smem_bytes, static_cast<unsigned>(kernel.smem_bytes));
  EXPECT_GT(g->smem_bytes, 0u);
}

TEST(CudaLaunchGeometry, RefusesWhatTheKernelCannotRun) {
  const auto spec = spec_with(kTile);
  const auto kernel = codegen::render_cuda(spec);
  struct Case {
    std::int64_t m, n, k;
    const char* where;
  };
  for (const Case& c :
       {Case{0, 8, 16, "m"}, Case{1, 0, 16, "n"}, Case{1, 8, 24, "k"}, Case{1, 8, 0, "k"},
        Case{std::int64_t{1} << 31, 8, 16, "m"}, Case{1, std::int64_t{1} << 31, 16, "n"},
        Case{(std::int64_t{1} << 31) - 1, (std::int64_t{1} << 31) - 1, 16, "m"}}) {
    auto g = launch_geometry(spec, kernel, c.m, c.n, c.k);
    ASSERT_FALSE(g) << c.m << " " << c.n << " " << c.k;
    EXPECT_EQ(g.error().code, Errc::invalid_argument);
    EXPECT_EQ(g.error().where, c.where);
  }
  // M is no longer bound by gridDim.y's 65535 blocks: tile rows past it fold into z.
  auto tall = launch_geometry(spec, kernel, 65535LL * 64 + 1, 8, 16);
  ASSERT_TRUE(tall) << tall.error().str();
  EXPECT_EQ(tall->grid_x, 1u);
  EXPECT_EQ(tall->grid_y, 65535u);
  EXPECT_EQ(tall->grid_z, 2u);
  EXPECT_TRUE(launch_geometry(spec, kernel, (std::int64_t{1} << 31) - 1, 128, 16));
}

TEST(CudaLaunchGeometry, SplitKAddsSlicesAlongZAndAWorkspace) {
  codegen::CudaTile tile = kTile;
  tile.split_k = 4;
  tile.raster = 8;  // changes the order of the blocks, not their number
  const auto spec = spec_with(tile);
  const auto kernel = codegen::render_cuda(spec);
  auto g = launch_geometry(spec, kernel, 130, 257, 4096);
  ASSERT_TRUE(g) << g.error().str();
  EXPECT_EQ(g->grid_x, 9u) << "raster order: every tile along x";
  EXPECT_EQ(g->grid_y, 1u);
  EXPECT_EQ(g->grid_z, 4u);
  // 9 tiles x 4 slices x 64 x 128 four-byte partials, then 9 counters.
  EXPECT_EQ(g->workspace_bytes, 9u * 4 * 64 * 128 * 4 + 9 * 4);
  EXPECT_EQ(gemm_workspace_bytes(spec, 130, 257), g->workspace_bytes);
  EXPECT_EQ(gemm_workspace_bytes(spec, 1, 1), 4u * 64 * 128 * 4 + 4);
  EXPECT_EQ(gemm_workspace_bytes(spec_with(kTile), 130, 257), 0u);
  // Row-major order with split-K: z holds the slices of each fold of tile rows.
  tile.raster = 1;
  auto folded = launch_geometry(spec_with(tile), kernel, 65535LL * 64 * 2 + 1, 8, 16);
  ASSERT_TRUE(folded) << folded.error().str();
  EXPECT_EQ(folded->grid_y, 65535u);
  EXPECT_EQ(folded->grid_z, 3u * 4);
}

TEST(CudaLaunchGeometry, SplitKNeedsAnAlignedWorkspace) {
  codegen::CudaTile tile = kTile;
  tile.split_k = 2;
  codegen::CudaKernelSpec spec = spec_with(tile);
  spec.family = GemmFamily::fp16;
  spec.scaling = ActivationScaling::none;
  const auto kernel = codegen::render_cuda(spec);
  alignas(16) static unsigned char buffer[64];
  QkCudaGemmArgs args{};
  args.a = args.w = args.y = buffer;
  args.m = 3;
  args.n = 8;
  args.k = 16;
  auto g = prepare_launch(spec, kernel, args);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().where, "workspace");
  EXPECT_NE(g.error().message.find("2 slices"), std::string::npos) << g.error().str();
  args.workspace = buffer + 4;
  g = prepare_launch(spec, kernel, args);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().where, "workspace");
  args.workspace = buffer;
  EXPECT_TRUE(prepare_launch(spec, kernel, args));
  spec.tile.split_k = 1;  // no split: no workspace read
  args.workspace = nullptr;
  EXPECT_TRUE(prepare_launch(spec, codegen::render_cuda(spec), args));
}

// int4 weights come in groups of K: a K that splits a group has no scale for its tail.
TEST(CudaLaunchGeometry, GroupedWeightsNeedWholeGroups) {
  auto spec = spec_with(kTile);
  spec.family = GemmFamily::w4a16;
  spec.scaling = ActivationScaling::none;
  spec.group_size = 128;
  const auto kernel = codegen::render_cuda(spec);
  EXPECT_TRUE(launch_geometry(spec, kernel, 1, 8, 4096));
  auto g = launch_geometry(spec, kernel, 1, 8, 4096 + 64);
  ASSERT_FALSE(g);
  EXPECT_EQ(g.error().where, "k");
  EXPECT_NE(g.error().message.find("group size 128"), std::string::npos) << g.error().str();
}

TEST(CudaLaunchGeometry, ChecksTheOperandsAlignment) {
  alignas(16) static unsigned char buffer[64];
  QkCudaGemmArgs args{};
  args.a = buffer;
  args.w = reinterpret_cast<const int8_t*>(buffer + 16);
  args.y = buffer + 32;
  EXPECT_TRUE(check_alignment(args));
  args.w = reinterpret_cast<const int8_t*>(buffer + 8);
  auto bad = check_alignment(args);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().where, "w");
  args.w = reinterpret_cast<const int8_t*>(buffer);
  args.y = nullptr;
  EXPECT_FALSE(check_alignment(args));
}

// The quantize producer's launch (a_quant producer): a CTA per row; its arguments' rules; the
// GEMM after it requires the [M] scales; the workspace that carries codes and scales between them.
TEST(CudaQuantizeLaunch, ACtaPerRowAndTheRulesOfItsArguments) {
  LayerConfig l;
  l.n = 256;
  l.k = 256;
  l.input_dtype = QuantType::fp16;
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  l.epilogue = {false, Activation::none, QuantType::fp16};
  auto in_cta = codegen::cuda_kernel_spec(l, kTile, codegen::CudaArch::sm_80);
  ASSERT_TRUE(in_cta) << in_cta.error().str();
  alignas(16) std::uint8_t buffer[64] = {};
  float scales[1];
  const QkCudaQuantizeArgs args{buffer, buffer, scales, 1, 16};
  auto none = prepare_quantize_launch(codegen::render_cuda(*in_cta), args);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().where, "kernel");

  auto producer =
      codegen::cuda_kernel_spec(l, codegen::with_producer(kTile), codegen::CudaArch::sm_80);
  ASSERT_TRUE(producer) << producer.error().str();
  const codegen::RenderedCudaKernel k = codegen::render_cuda(*producer);
  QkCudaQuantizeArgs rows = args;
  rows.m = 300;
  auto g = prepare_quantize_launch(k, rows);
  ASSERT_TRUE(g) << g.error().str();
  EXPECT_EQ(g->grid_x, 300u);
  EXPECT_EQ(g->grid_y, 1u);
  EXPECT_EQ(g->block_x, 128u);
  EXPECT_EQ(g->smem_bytes, 16u);

  struct Case {
    QkCudaQuantizeArgs args;
    const char* where;
    const char* says;
  };
  const Case cases[] = {
      {{buffer, buffer + 8, scales, 1, 16}, "codes", "16-byte aligned"},
      {{buffer + 4, buffer, scales, 1, 16}, "a", "16-byte aligned"},
      {{buffer, buffer, nullptr, 1, 16}, "scales", "non-null"},
      {{buffer, buffer, scales, 1, 24}, "k", "multiple of 16"},
      {{buffer, buffer, scales, 0, 16}, "m", "[1, 2^31 - 1]"},
  };
  for (const Case& c : cases) {
    auto bad = prepare_quantize_launch(k, c.args);
    ASSERT_FALSE(bad) << c.where;
    EXPECT_EQ(bad.error().code, Errc::invalid_argument);
    EXPECT_EQ(bad.error().where, c.where);
    EXPECT_NE(bad.error().message.find(c.says), std::string::npos) << bad.error().str();
  }

  // The GEMM that consumes the producer reads its scales through a_scale.
  QkCudaGemmArgs gemm{};
  gemm.a = gemm.w = gemm.y = buffer;
  gemm.w_scale = scales;
  gemm.m = gemm.n = 1;
  gemm.k = 16;
  auto no_scales = prepare_launch(*producer, k, gemm);
  ASSERT_FALSE(no_scales);
  EXPECT_EQ(no_scales.error().where, "a_scale");
  EXPECT_TRUE(prepare_launch(*in_cta, codegen::render_cuda(*in_cta), gemm)) << "the pre-pass's own";
  gemm.a_scale = scales;
  EXPECT_TRUE(prepare_launch(*producer, k, gemm));
}

TEST(CudaQuantizeLaunch, WorkspaceHoldsCodesThenAlignedScales) {
  EXPECT_EQ(quantize_workspace_bytes(3, 16), 48u + 12u);
  EXPECT_EQ(quantize_workspace_bytes(1, 24), 32u + 4u);  // 24 codes, padded to 32
  alignas(16) std::uint8_t base[64];
  const QuantizeWorkspace ws = quantize_workspace(base, 1, 24);
  EXPECT_EQ(ws.codes, static_cast<void*>(base));
  EXPECT_EQ(reinterpret_cast<std::uint8_t*>(ws.scales), base + 32);

  QkCudaGemmArgs gemm{};
  float static_scale = 0.5f;
  gemm.a = base + 48;
  gemm.a_scale = &static_scale;
  gemm.m = 1;
  gemm.k = 24;
  const QkCudaQuantizeArgs q = quantize_args(gemm, ws);
  EXPECT_EQ(q.a, gemm.a);
  EXPECT_EQ(q.codes, ws.codes);
  EXPECT_EQ(q.scales, ws.scales);
  EXPECT_EQ(q.m, 1);
  EXPECT_EQ(q.k, 24);
  const QkCudaGemmArgs consumed = consume_quantized(gemm, ws);
  EXPECT_EQ(consumed.a, ws.codes);
  EXPECT_EQ(consumed.a_scale, ws.scales);
}

}  // namespace
}  // namespace qk::runtime
