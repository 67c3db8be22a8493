// Which cubins a plan needs (`qk-cache build`): the arch list, the default tile per M bucket of
// each layer, each distinct kernel once, unsupported layers skipped with the reason; and running
// the compiles on several threads. No NVRTC compile here but in the last test (two small ones).
#include "runtime/cuda_prebuild.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"

namespace qk::runtime {
namespace {

using codegen::CudaArch;

LayerConfig w8a8_layer(std::string name, std::int64_t m_min, std::int64_t m_max) {
  LayerConfig layer;
  layer.name = std::move(name);
  layer.n = 512;
  layer.k = 512;
  layer.m_min = m_min;
  layer.m_max = m_max;
  return layer;
}

TEST(CudaArchList, ParsesCommaSeparatedNames) {
  auto archs = parse_cuda_archs("sm_80,sm_86,sm_89,sm_90a");
  ASSERT_TRUE(archs) << archs.error().str();
  EXPECT_EQ(*archs, (std::vector<CudaArch>{CudaArch::sm_80, CudaArch::sm_86, CudaArch::sm_89,
                                           CudaArch::sm_90a}));
  EXPECT_EQ(*parse_cuda_archs("sm_90a"), std::vector<CudaArch>{CudaArch::sm_90a});
}

TEST(CudaArchList, BadItemsAreNamedWithTheAllowedValues) {
  struct Case {
    const char* text;
    const char* says;
  };
  for (const Case& c :
       {Case{"sm_80,sm_75",
             "item 2 is 'sm_75', not an arch qk compiles for; "
             "allowed: sm_80, sm_86, sm_89, sm_90a"},
        Case{"sm_90", "item 1 is 'sm_90'"}, Case{"", "item 1 is ''"},
        Case{"sm_80,", "item 2 is ''"}, Case{"sm_86,sm_86", "item 2 ('sm_86') is listed twice"}}) {
    auto archs = parse_cuda_archs(c.text);
    ASSERT_FALSE(archs) << c.text;
    EXPECT_EQ(archs.error().code, Errc::invalid_argument);
    EXPECT_EQ(archs.error().where, "--arch");
    EXPECT_NE(archs.error().message.find(c.says), std::string::npos) << archs.error().str();
  }
}

TEST(CudaBuildList, EachBucketGetsItsDefaultTileAndEachKernelIsBuiltOnce) {
  Plan plan;
  plan.layers = {w8a8_layer("decode", 1, 8), w8a8_layer("all", 1, 2048),
                 w8a8_layer("prefill", 300, 1000)};
  LayerConfig fp32_input = w8a8_layer("fp32 in", 1, 8);
  fp32_input.input_dtype = QuantType::fp32;
  plan.layers.push_back(fp32_input);
  const CudaArch archs[] = {CudaArch::sm_80, CudaArch::sm_90a};
  auto list = cuda_build_list(plan, archs);
  ASSERT_TRUE(list) << list.error().str();

  // 3 tiles x 2 archs, the layers sharing them.
  EXPECT_EQ(list->jobs.size(), 6u);
  for (std::size_t i = 0; i < list->jobs.size(); ++i)
    for (std::size_t j = i + 1; j < list->jobs.size(); ++j) EXPECT_NE(list->jobs[i], list->jobs[j]);

  auto uses_of = [&](std::size_t layer, CudaArch arch) {
    std::vector<std::string> out;
    for (const CudaBuildUse& u : list->uses)
      if (u.layer == layer && u.arch == arch)
        out.push_back(std::to_string(u.m_min) + "-" + std::to_string(u.m_max) + " " +
                      codegen::canonical_name(list->jobs[u.job].tile));
    return out;
  };
  EXPECT_EQ(uses_of(0, CudaArch::sm_80), std::vector<std::string>{"1-8 16x128x128_w1x4_s4_k4"});
  // Per-token scales: the quantize producer past decode (codegen::default_cuda_tiles).
  EXPECT_EQ(uses_of(1, CudaArch::sm_90a),
            (std::vector<std::string>{"1-16 16x128x128_w1x4_s4_k4", "17-256 64x64x64_w2x2_s3_qp",
                                      "257-2048 128x128x64_w2x2_s3_r8_qp"}));
  EXPECT_EQ(uses_of(2, CudaArch::sm_80),
            std::vector<std::string>{"300-1000 128x128x64_w2x2_s3_r8_qp"});
  EXPECT_TRUE(uses_of(3, CudaArch::sm_80).empty());

  ASSERT_EQ(list->skipped.size(), 1u) << "skipped once, not once per arch";
  EXPECT_EQ(list->skipped[0].layer, 3u);
  EXPECT_NE(list->skipped[0].reason.find("input_dtype fp32"), std::string::npos)
      << list->skipped[0].reason;
  EXPECT_EQ(layer_label(plan, 3), "layers[3] (fp32 in)");
}

TEST(CudaBuildList, ALayerAnArchCannotRunIsSkippedOnThatArchOnly) {
  Plan plan;
  LayerConfig fp8 = w8a8_layer("fp8", 1, 8);
  fp8.weight_quant = fp8.activation_quant = QuantType::fp8_e4m3;
  plan.layers = {fp8};
  const CudaArch archs[] = {CudaArch::sm_80, CudaArch::sm_86, CudaArch::sm_89};
  auto list = cuda_build_list(plan, archs);
  ASSERT_TRUE(list) << list.error().str();
  ASSERT_EQ(list->uses.size(), 1u);
  EXPECT_EQ(list->uses[0].arch, CudaArch::sm_89);
  ASSERT_EQ(list->skipped.size(), 1u);
  EXPECT_EQ(list->skipped[0].reason.rfind("on sm_80, sm_86 only: ", 0), 0u)
      << list->skipped[0].reason;
}

TEST(CudaBuildList, LayersNeedingTheSameKernelsAreGrouped) {
  Plan plan;
  plan.layers = {w8a8_layer("q", 1, 2048), w8a8_layer("small", 1, 8), w8a8_layer("k", 1, 2048),
                 w8a8_layer("v", 1, 2048)};
  plan.layers[1].name.clear();
  const CudaArch archs[] = {CudaArch::sm_89};
  auto list = cuda_build_list(plan, archs);
  ASSERT_TRUE(list) << list.error().str();
  EXPECT_EQ(layers_with_same_kernels(*list),
            (std::vector<std::vector<std::size_t>>{{0, 2, 3}, {1}}));
  EXPECT_EQ(layer_label(plan, 1), "layers[1]");
}

TEST(CudaBuild, RunsEveryJobOnceAcrossThreadsAndReportsEach) {
  Plan plan;
  plan.layers = {w8a8_layer("decode", 1, 4)};
  const CudaArch archs[] = {CudaArch::sm_80, CudaArch::sm_89};
  auto list = cuda_build_list(plan, archs);
  ASSERT_TRUE(list) << list.error().str();
  ASSERT_EQ(list->jobs.size(), 2u);
  auto backend = CudaBackend::create();
  ASSERT_TRUE(backend) << backend.error().str();
  test::TempDir dir;
  auto cache = cache::KernelCache::open(dir.path() / "kernels.db");
  ASSERT_TRUE(cache) << cache.error().str();

  std::vector<std::size_t> reported;
  auto results = run_cuda_build(**backend, cache->get(), list->jobs, 4,
                                [&](std::size_t job, const Expected<CudaCubin>& r) {
                                  EXPECT_TRUE(r);
                                  reported.push_back(job);
                                });
  ASSERT_EQ(results.size(), 2u);
  std::sort(reported.begin(), reported.end());
  EXPECT_EQ(reported, (std::vector<std::size_t>{0, 1}));
  for (std::size_t i = 0; i < results.size(); ++i) {
    ASSERT_TRUE(results[i]) << results[i].error().str();
    EXPECT_EQ(results[i]->name, codegen::canonical_name(list->jobs[i]));
    EXPECT_FALSE(results[i]->from_cache);
  }
  EXPECT_EQ((*cache)->stats().stores, 2);
  auto again = run_cuda_build(**backend, cache->get(), list->jobs, 1);
  for (const auto& r : again) EXPECT_TRUE(r && r->from_cache);
  EXPECT_EQ((*cache)->stats().stores, 2);
}

}  // namespace
}  // namespace qk::runtime
