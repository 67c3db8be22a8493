// Prebuilt cpu kernels (`qk-cache build --cpu-level`): the level list, the tiles each level's
// machines pick per M bucket (defaults, and the winners of that level's devices in the cache), a
// compile-only backend for levels this machine cannot run, and the contract that matters: what it
// stores is exactly what qk::jit::compile at that level then finds, so that it compiles nothing.
// Four small compiles (one kernel per level, each with its precompiled header).
#include "runtime/cpu_prebuild.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "codegen/cpu_search_space.hpp"
#include "codegen/workload.hpp"
#include "qk/jit.hpp"
#include "reference_check.hpp"
#include "runtime/cpu_device.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

using codegen::CpuIsa;

LayerConfig w8a8_layer(std::string name, std::int64_t m_min, std::int64_t m_max) {
  LayerConfig layer;
  layer.name = std::move(name);
  layer.n = 40;
  layer.k = 72;
  layer.m_min = m_min;
  layer.m_max = m_max;
  layer.input_dtype = QuantType::fp32;
  layer.epilogue.output = QuantType::fp32;
  return layer;
}

std::unique_ptr<CpuBackend> compile_only(const std::string& level) {
  auto backend = CpuBackend::compile_only(level);
  EXPECT_TRUE(backend) << backend.error().str();
  return backend ? std::move(*backend) : nullptr;
}

TEST(CpuLevelList, ParsesCommaSeparatedPortableLevels) {
  auto levels = parse_cpu_levels("avx512,avx2,amx");
  ASSERT_TRUE(levels) << levels.error().str();
  EXPECT_EQ(*levels, (std::vector<std::string>{"avx512", "avx2", "amx"}));
}

TEST(CpuLevelList, BadItemsAreNamedWithTheAllowedValues) {
  for (const auto& [text, says] : std::vector<std::pair<std::string, std::string>>{
           {"avx2,avx9", "item 2 is 'avx9', not a portable cpu level; allowed: avx512, avx2, amx"},
           {"host", "item 1 is 'host'"},
           {"", "item 1 is ''"},
           {"avx2,avx2", "item 2 ('avx2') is listed twice"}}) {
    auto levels = parse_cpu_levels(text);
    ASSERT_FALSE(levels) << text;
    EXPECT_EQ(levels.error().code, Errc::invalid_argument);
    EXPECT_EQ(levels.error().where, "--cpu-level");
    EXPECT_NE(levels.error().message.find(says), std::string::npos) << levels.error().str();
  }
}

TEST(CpuCompileOnlyBackend, TakesTheIsaOfAMachineOfItsLevelAndRunsNothing) {
  struct Case {
    const char* level;
    CpuIsa isa;
  };
  for (const Case& c :
       {Case{"avx512", CpuIsa::avx512}, Case{"avx2", CpuIsa::avx2}, Case{"amx", CpuIsa::amx}}) {
    auto backend = compile_only(c.level);
    ASSERT_TRUE(backend);
    EXPECT_EQ(backend->isa(), c.isa) << c.level;
    EXPECT_EQ(backend->level(), c.level);
    EXPECT_EQ(backend->target(), *CpuTarget::portable(c.level));
    auto spec = codegen::cpu_kernel_spec(
        w8a8_layer("", 1, 1), codegen::default_cpu_tile(GemmFamily::w8a8, 1, c.isa), c.isa);
    ASSERT_TRUE(spec) << spec.error().str();
    Supply supply;
    auto loaded = backend->kernel(*spec, nullptr, &supply);
    ASSERT_FALSE(loaded) << c.level;
    EXPECT_EQ(loaded.error().code, Errc::unsupported);
    EXPECT_NE(loaded.error().message.find("only compiles"), std::string::npos)
        << loaded.error().str();
  }
  auto host = CpuBackend::compile_only("host");
  ASSERT_FALSE(host);
  EXPECT_NE(host.error().message.find("unknown portable level 'host'"), std::string::npos)
      << host.error().str();
}

TEST(CpuBuildList, EachBucketGetsItsLevelsDefaultTileAndEachKernelIsBuiltOnce) {
  Plan plan;
  plan.layers = {w8a8_layer("q", 1, 2048), w8a8_layer("decode", 1, 1), w8a8_layer("k", 1, 2048)};
  plan.layers[2].n = 4096;  // the shape is not part of a cpu kernel: q and k share theirs
  const auto avx512 = compile_only("avx512");
  const auto avx2 = compile_only("avx2");
  const CpuBackend* backends[] = {avx512.get(), avx2.get()};
  auto list = cpu_build_list(plan, backends, nullptr);
  ASSERT_TRUE(list) << list.error().str();
  EXPECT_TRUE(list->skipped.empty());

  auto uses_of = [&](std::size_t layer, std::size_t level) {
    std::vector<std::string> out;
    for (const CpuBuildUse& u : list->uses)
      if (u.layer == layer && u.level == level) {
        EXPECT_FALSE(u.tuned);
        EXPECT_EQ(list->jobs[u.job].level, level);
        out.push_back(std::to_string(u.m_min) + "-" + std::to_string(u.m_max) + " " +
                      codegen::canonical_name(list->jobs[u.job].spec.tile));
      }
    return out;
  };
  auto tile = [](std::int64_t m, CpuIsa isa) {
    return codegen::canonical_name(codegen::default_cpu_tile(GemmFamily::w8a8, m, isa));
  };
  // docs/cpu.md, "Tiles": avx512 runs one tile up to M = 4 and another above; avx2 one at M = 1,
  // one at M = 2 and another above.
  EXPECT_EQ(uses_of(0, 0), (std::vector<std::string>{"1-4 " + tile(4, CpuIsa::avx512),
                                                     "5-2048 " + tile(2048, CpuIsa::avx512)}));
  EXPECT_EQ(uses_of(0, 1), (std::vector<std::string>{"1-1 " + tile(1, CpuIsa::avx2),
                                                     "2-2 " + tile(2, CpuIsa::avx2),
                                                     "3-2048 " + tile(2048, CpuIsa::avx2)}));
  EXPECT_EQ(uses_of(1, 1), std::vector<std::string>{"1-1 " + tile(1, CpuIsa::avx2)});
  EXPECT_EQ(uses_of(2, 0), uses_of(0, 0));
  ASSERT_EQ(list->jobs.size(), 5u) << "2 avx512 tiles and 3 avx2 tiles, shared by the layers";
  EXPECT_EQ(list->jobs[0].spec.isa, CpuIsa::avx512);
  EXPECT_EQ(list->jobs[2].spec.isa, CpuIsa::avx2);
  EXPECT_EQ(layers_with_same_kernels(*list), (std::vector<std::vector<std::size_t>>{{0, 2}, {1}}));
}

// The amx level's W8A8 runs AMX tiles from M = 9 up (docs/cpu.md, "AMX") on a machine that was
// granted the tile state: that is what a prebuild for it holds, on any machine.
TEST(CpuBuildList, TheAmxLevelGetsItsAmxTilesWithoutAskingLinux) {
  Plan plan;
  plan.layers = {w8a8_layer("q", 1, 2048)};
  const auto amx = compile_only("amx");
  const CpuBackend* backends[] = {amx.get()};
  auto list = cpu_build_list(plan, backends, nullptr);
  ASSERT_TRUE(list) << list.error().str();
  std::vector<std::string> uses;
  for (const CpuBuildUse& u : list->uses)
    uses.push_back(std::to_string(u.m_min) + "-" + std::to_string(u.m_max) + " " +
                   codegen::canonical_name(list->jobs[u.job].spec.tile));
  ASSERT_EQ(uses.size(), 3u);
  EXPECT_EQ(uses.back(), "9-2048 " + codegen::canonical_name(codegen::default_cpu_tile(
                                         GemmFamily::w8a8, 2048, CpuIsa::amx)));
  EXPECT_TRUE(list->jobs[list->uses.back().job].spec.tile.amx);
}

TEST(CpuBuildList, WinnersOfDevicesOfTheLevelAreBuiltBesideTheDefaults) {
  test::TempDir dir;
  auto cache = cache::KernelCache::open(dir.path() / "kernels.db");
  ASSERT_TRUE(cache) << cache.error().str();
  const LayerConfig layer = w8a8_layer("q", 1, 2048);
  const auto avx2 = compile_only("avx2");
  const auto avx512 = compile_only("avx512");
  const codegen::Workload workload = codegen::workload_of(layer, "cpu");
  ASSERT_TRUE((*cache)->store_workload({workload.hash, workload.json, layer.n, layer.k}));
  const codegen::CpuTile tuned{3, 1, 16384, 96, 960};  // 16 ymm: 2*3*1 + 4*1 + 3 = 13 used
  auto winner = [&](const std::string& device, std::int64_t bucket) {
    cache::WinnerRecord w;
    w.workload_hash = workload.hash;
    w.bucket = bucket;
    w.device_fingerprint = device;
    w.template_revision = std::string(templates::revision("cpu"));
    w.config_name = codegen::canonical_name(tuned);
    w.median_ns = 1000;
    w.default_config =
        codegen::canonical_name(codegen::default_cpu_tile(GemmFamily::w8a8, bucket, CpuIsa::avx2));
    w.default_median_ns = 1200;
    return w;
  };
  // An avx2-level machine with 48 threads tuned M <= 64; the host level's record is another
  // device (its code target is this CPU's, not the portable level's).
  const std::string here = cpu_device_fingerprint(avx2->target(), 1);
  const std::string isa_hash = here.substr(here.rfind(' ') + 1);
  ASSERT_TRUE((*cache)->store_winner(
      winner("cpu:Some | Other CPU | x86-64-v3 | 48 threads | isa " + isa_hash, 64)));
  ASSERT_TRUE((*cache)->store_winner(winner(cpu_device_fingerprint(CpuTarget::host(), 2), 128)));

  const CpuBackend* backends[] = {avx2.get(), avx512.get()};
  Plan plan;
  plan.layers = {layer};
  auto list = cpu_build_list(plan, backends, cache->get());
  ASSERT_TRUE(list) << list.error().str();
  std::vector<std::string> tuned_uses;
  for (const CpuBuildUse& u : list->uses)
    if (u.tuned)
      tuned_uses.push_back(std::string(backends[u.level]->level()) + " " + std::to_string(u.m_min) +
                           "-" + std::to_string(u.m_max) + " " +
                           codegen::canonical_name(list->jobs[u.job].spec.tile));
  EXPECT_EQ(tuned_uses, std::vector<std::string>{"avx2 33-64 " + codegen::canonical_name(tuned)});
  EXPECT_EQ(list->jobs.size(), 3u + 1u + 2u) << "avx2: 3 defaults + the winner; avx512: 2";
}

// The contract: what compile_into stores at avx2 is what jit::compile at avx2 looks up, so that
// it compiles nothing; and the kernel runs right (this machine runs avx2 code).
TEST(CpuPrebuild, JitCompileAtThatLevelThenFindsEveryKernelInTheCache) {
  test::TempDir dir;
  const auto path = dir.path() / "kernels.db";
  LayerConfig layer = w8a8_layer("gelu", 1, 1);
  layer.epilogue.bias = true;
  layer.epilogue.activation = Activation::gelu;
  Plan plan;
  plan.layers = {layer};
  const auto avx2 = compile_only("avx2");
  const CpuBackend* backends[] = {avx2.get()};
  {
    auto cache = cache::KernelCache::open(path);
    ASSERT_TRUE(cache) << cache.error().str();
    auto list = cpu_build_list(plan, backends, cache->get());
    ASSERT_TRUE(list) << list.error().str();
    ASSERT_EQ(list->jobs.size(), 1u);
    auto results = run_cpu_build(backends, **cache, list->jobs, 2);
    ASSERT_TRUE(results[0]) << results[0].error().str();
    EXPECT_FALSE(results[0]->from_cache);
    EXPECT_GT(results[0]->bytes, 0);
    EXPECT_EQ(results[0]->name, codegen::canonical_name(list->jobs[0].spec));
    auto running = CpuBackend::get("avx2");
    ASSERT_TRUE(running) << running.error().str();
    EXPECT_EQ((*running)->binary_key(list->jobs[0].spec), avx2->binary_key(list->jobs[0].spec));
    // Its precompiled header, kept as a compiling process keeps it: the next compile reuses it.
    auto rows = (*cache)->list_binaries();
    ASSERT_TRUE(rows) << rows.error().str();
    ASSERT_EQ(rows->size(), 2u);
    for (const auto& b : *rows) {
      EXPECT_EQ(b.key.target, avx2->target().key());
      EXPECT_TRUE(b.key.kernel == "qk_cpu_pch" || b.key.kernel == results[0]->name) << b.key.kernel;
    }
    auto again = run_cpu_build(backends, **cache, list->jobs, 1);
    ASSERT_TRUE(again[0]);
    EXPECT_TRUE(again[0]->from_cache);
  }
  const jit::CompileStats before = jit::stats();
  auto kernel = jit::compile(layer, {.cache = path, .cpu_level = "avx2"});
  ASSERT_TRUE(kernel) << kernel.error().str();
  const jit::CompileStats after = jit::stats();
  EXPECT_EQ(after.compiles, before.compiles);
  EXPECT_EQ(after.cache_hits, before.cache_hits + 1);
  EXPECT_EQ(after.pch_builds, before.pch_builds);
  test::check_against_reference(*kernel, 1, 7);
}

// A level this machine cannot run builds all the same, under that level's target key; running it
// stays refused.
TEST(CpuPrebuild, ALevelThisMachineCannotRunIsBuiltUnderItsKey) {
  test::TempDir dir;
  auto cache = cache::KernelCache::open(dir.path() / "kernels.db");
  ASSERT_TRUE(cache) << cache.error().str();
  const LayerConfig layer = w8a8_layer("decode", 1, 1);
  Plan plan;
  plan.layers = {layer};
  const auto avx512 = compile_only("avx512");
  const CpuBackend* backends[] = {avx512.get()};
  auto list = cpu_build_list(plan, backends, cache->get());
  ASSERT_TRUE(list) << list.error().str();
  ASSERT_EQ(list->jobs.size(), 1u);
  auto results = run_cpu_build(backends, **cache, list->jobs, 1);
  ASSERT_TRUE(results[0]) << results[0].error().str();

  auto rows = (*cache)->list_binaries();
  ASSERT_TRUE(rows) << rows.error().str();
  const std::string key = CpuTarget::portable("avx512")->key();
  std::vector<std::string> kernels;
  for (const auto& b : *rows) {
    EXPECT_EQ(b.key.target, key) << b.key.kernel;
    kernels.push_back(b.key.kernel);
  }
  std::sort(kernels.begin(), kernels.end());
  EXPECT_EQ(kernels,
            (std::vector<std::string>{"qk_cpu_pch", codegen::canonical_name(list->jobs[0].spec)}));
  auto found = (*cache)->find_binary(avx512->binary_key(list->jobs[0].spec));
  ASSERT_TRUE(found && *found);

  if (runs_on_host(*CpuTarget::portable("avx512")))
    GTEST_SKIP() << "this machine runs avx512 code: the refusal to run it is not shown here";
  auto kernel = jit::compile(layer, {.cache = (*cache)->path(), .cpu_level = "avx512"});
  ASSERT_FALSE(kernel);
  EXPECT_NE(kernel.error().message.find("cannot run on this machine"), std::string::npos)
      << kernel.error().str();
}

}  // namespace
}  // namespace qk::runtime
