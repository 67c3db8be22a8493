// Tests of the `qk-cache` command line (docs/cache.md, "Shipping and maintaining a cache").
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <string>

#include <gtest/gtest.h>

#include "../common/run_command.hpp"
#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/sqlite_handle.hpp"
#include "templates/embedded.hpp"

namespace {

using qk::test::Outcome;
using qk::test::shell_quote;

Outcome qk_cache(const std::string& args) {
  return qk::test::run_command(shell_quote(QK_CACHE_BIN) + " " + args + " 2>&1");
}

/// A cache with one binary of this qk's templates, one of older ones, and one winner.
std::string make_cache(const qk::test::TempDir& dir, const std::string& name) {
  const auto file = dir.path() / name;
  auto cache = qk::cache::KernelCache::open(file);
  EXPECT_TRUE(cache.has_value());
  const std::string revision(qk::templates::revision("cpu"));
  const std::vector<std::uint8_t> blob{1, 2, 3};
  EXPECT_TRUE(
      (*cache)->store_binary({"qk_w8a8_cpu_test", "s", revision, "cpu=x", "clang", ""}, blob, 1.0));
  EXPECT_TRUE(
      (*cache)->store_binary({"qk_w8a8_cpu_old", "s", "old-rev", "cpu=x", "clang", ""}, blob, 1.0));
  EXPECT_TRUE((*cache)->store_workload(
      {"wl", R"({"family":"w8a8","input":"fp32","output":"fp16","scaling":"st","n":64,"k":32})", 64,
       32}));
  EXPECT_TRUE((*cache)->store_winner({"wl", 16, "cpu:test", revision, "mr4_nv5_kc16384_mc96_nc960",
                                      1e6, 1e4, "mr5_nv5_kc16384_mc100_nc960", 2e6, 0}));
  return file.string();
}

TEST(QkCacheCli, ListShowsBinariesAndWinners) {
  qk::test::TempDir dir;
  const Outcome r = qk_cache("list --cache " + shell_quote(make_cache(dir, "c.db")));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("qk_w8a8_cpu_test"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stale"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("w8a8 fp32->fp16 st 64x32"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("mr4_nv5_kc16384_mc96_nc960"), std::string::npos) << r.output;
}

TEST(QkCacheCli, VerifyFindsDamageAndExitsOne) {
  qk::test::TempDir dir;
  const std::string file = make_cache(dir, "c.db");
  Outcome r = qk_cache("verify --cache " + shell_quote(file));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  auto db = qk::cache::Db::open(file);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(
      db->exec("UPDATE binaries SET blob = x'00' WHERE kernel = 'qk_w8a8_cpu_test'", "damaging"));
  r = qk_cache("verify --cache " + shell_quote(file));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("DAMAGED binary qk_w8a8_cpu_test"), std::string::npos) << r.output;
}

TEST(QkCacheCli, MergeExportImportAndGc) {
  qk::test::TempDir dir;
  const std::string a = make_cache(dir, "a.db");
  const std::string merged = (dir.path() / "m.db").string();
  Outcome r = qk_cache("merge " + shell_quote(a) + " -o " + shell_quote(merged));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("+2 binaries"), std::string::npos) << r.output;

  const std::string shipped = (dir.path() / "ship.db").string();
  r = qk_cache("export --target cpu= --cache " + shell_quote(merged) + " -o " +
               shell_quote(shipped));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = qk_cache("export --target cpu= --cache " + shell_quote(merged) + " -o " +
               shell_quote(shipped));
  EXPECT_EQ(r.exit_code, 1) << "an existing output is not overwritten: " << r.output;

  const std::string local = (dir.path() / "local.db").string();
  r = qk_cache("import " + shell_quote(shipped) + " --cache " + shell_quote(local));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  r = qk_cache("gc --cache " + shell_quote(local));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("removed 1 binaries"), std::string::npos) << r.output;

  r = qk_cache("merge " + shell_quote(local) + " -o " + shell_quote(local));
  EXPECT_EQ(r.exit_code, 1) << "merging a file into itself is refused: " << r.output;
  EXPECT_EQ(qk_cache("frobnicate").exit_code, 2);
}

// ---- qk-cache build: the cuda target's cubins for a plan (docs/cuda.md, "Prebuilt caches") ----

std::string plan_path(const std::string& name) {
  return std::string(QK_SOURCE_DIR) + "/examples/plans/" + name;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The Llama block for the four archs: its 7 layers share 3 tiles per arch (12 compiles, ~10 s on
// two cores), and a rerun compiles nothing; then the other example plans on one arch.
TEST(QkCacheBuild, ExamplePlansForEveryArchThenARerunCompilesNothing) {
  qk::test::TempDir dir;
  const std::string cache = shell_quote((dir.path() / "cubins.db").string());
  const std::string archs = "--arch sm_80,sm_86,sm_89,sm_90a ";
  Outcome r =
      qk_cache("build " + archs + shell_quote(plan_path("llama2_7b_w8a8_smoothquant.json")) +
               " --cache " + cache);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* column :
       {"layer", "arch", "M", "tile", "registers", "smem B", "spills B", "cubin KiB", "compile ms"})
    EXPECT_TRUE(contains(r.output, column)) << column << " in " << r.output;
  EXPECT_TRUE(contains(r.output,
                       "layers[0] (model.layers.0.self_attn.q_proj) +6 with the same "
                       "kernels  sm_90a  257-2048  128x128x64_w2x2_s3_r8_qp"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "12 kernel(s): 12 compiled")) << r.output;
  EXPECT_TRUE(contains(r.output, "[12/12] ")) << "progress on stderr: " << r.output;

  r = qk_cache("build " + archs + shell_quote(plan_path("llama2_7b_w8a8_smoothquant.json")) +
               " --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, " 0 compiled")) << r.output;
  EXPECT_TRUE(contains(r.output, "12 already in the cache")) << r.output;
  // The other example plans (fp16 baselines, W4A16, W4A8 and fp32-input layers, which the cuda
  // target refuses by name) on one arch, into a cache of their own, to keep the test short.
  const std::string others = shell_quote((dir.path() / "others.db").string());
  for (const char* plan :
       {"bert_base_encoder.json", "mixed_precision.json", "qk_bench_grid_w8a8.json"}) {
    r = qk_cache("build --arch sm_89 " + shell_quote(plan_path(plan)) + " --cache " + others);
    EXPECT_EQ(r.exit_code, 0) << plan << ": " << r.output;
    EXPECT_TRUE(contains(r.output, "kernel(s): ")) << plan << ": " << r.output;
  }

  auto opened = qk::cache::KernelCache::open(dir.path() / "cubins.db");
  ASSERT_TRUE(opened.has_value());
  auto rows = (*opened)->list_binaries();
  ASSERT_TRUE(rows.has_value());
  ASSERT_EQ(rows->size(), 12u);
  std::map<std::string, int> per_arch;
  for (const auto& b : *rows) {
    ++per_arch[b.key.target];
    EXPECT_EQ(b.key.template_revision, qk::templates::revision("cuda"));
    EXPECT_TRUE(b.key.compiler.starts_with("nvrtc ")) << b.key.compiler;
    EXPECT_TRUE(contains(b.attributes, "lowered=_Z")) << b.attributes;
    EXPECT_TRUE(contains(b.attributes, ";spill_stores=0;spill_loads=0;")) << b.attributes;
    EXPECT_EQ(contains(b.attributes, ";producer=_Z"), b.key.kernel.ends_with("_qp"))
        << b.attributes;
    EXPECT_GT(b.size, 0);
  }
  EXPECT_EQ(per_arch,
            (std::map<std::string, int>{{"sm_80", 3}, {"sm_86", 3}, {"sm_89", 3}, {"sm_90a", 3}}));

  r = qk_cache("list --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (const char* column :
       {"arch", "kernel spec", "tile", "registers", "smem B", "spills B", "KiB", "compile ms"})
    EXPECT_TRUE(contains(r.output, column)) << column << " in " << r.output;
  EXPECT_TRUE(contains(r.output,
                       "sm_89   qk_w8a8_sm_89_fp16_tok_nobias_none_fp16   "
                       "64x64x64_w2x2_s3_qp"))
      << r.output;
  // Per-token layers use the quantize producer past decode: its registers and spills are listed.
  EXPECT_TRUE(contains(r.output, "producer regs/spills")) << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(_s3_qp .* \d+/0 *\n)"))) << r.output;
  r = qk_cache("verify --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(QkCacheBuild, SkippedLayersAreReportedWithTheReason) {
  qk::test::TempDir dir;
  const Outcome r =
      qk_cache("build --arch sm_80 " + shell_quote(plan_path("bert_base_encoder.json")) +
               " --cache " + shell_quote((dir.path() / "c.db").string()));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "skipped layers[0] (bert.encoder.layer.0.attention.self.query): target "
                       "cuda: input_dtype fp32 is not implemented for the cuda target yet"))
      << r.output;
  EXPECT_TRUE(contains(r.output, "6 layer(s) skipped")) << r.output;
}

TEST(QkCacheBuild, BadInputIsNamedAndWritesNothing) {
  qk::test::TempDir dir;
  const auto file = dir.path() / "c.db";
  const std::string plan = shell_quote(plan_path("llama2_7b_w8a8_smoothquant.json"));
  Outcome r =
      qk_cache("build --arch sm_80,sm_75 " + plan + " --cache " + shell_quote(file.string()));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "--arch: item 2 is 'sm_75', not an arch qk compiles for; "
                       "allowed: sm_80, sm_86, sm_89, sm_90a"))
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(file));

  r = qk_cache("build --arch sm_80 " + shell_quote((dir.path() / "missing.json").string()) +
               " --cache " + shell_quote(file.string()));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "missing.json")) << r.output;
  EXPECT_FALSE(std::filesystem::exists(file));
}

// ---- qk-cache build --cpu-level: cpu kernels for levels this machine need not run ----

/// A plan of one W8A8 layer whose m_range holds one M bucket: one kernel per cpu level.
std::string one_kernel_plan(const qk::test::TempDir& dir) {
  const auto file = dir.path() / "decode.json";
  std::FILE* f = std::fopen(file.c_str(), "w");
  EXPECT_NE(f, nullptr);
  std::fputs(R"({"version": 1, "model": "one decode layer", "layers": [
    {"name": "decode", "n": 64, "k": 64, "m_range": [1, 1],
     "weight_quant": "int8", "activation_quant": "int8",
     "weight_granularity": "per_channel", "activation_scaling": "dynamic_per_token",
     "epilogue": {"bias": false, "activation": "none", "output_dtype": "fp16"}}]})",
             f);
  std::fclose(f);
  return file.string();
}

// avx512 beside avx2 on any x86-64 machine (this project's are AVX2-only): nothing is run. Two
// small compiles, each level with its precompiled header; the rerun compiles nothing.
TEST(QkCacheBuild, CpuLevelsAreBuiltWithoutRunningThemAndListed) {
  qk::test::TempDir dir;
  const std::string cache = shell_quote((dir.path() / "cpu.db").string());
  const std::string build = "build --cpu-level avx2,avx512 -j 2 " +
                            shell_quote(one_kernel_plan(dir)) + " --cache " + cache;
  Outcome r = qk_cache(build);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* column :
       {"layer", "level", "M", "tile", "chosen by", "object KiB", "compile ms"})
    EXPECT_TRUE(contains(r.output, column)) << column << " in " << r.output;
  EXPECT_TRUE(contains(r.output, "[2/2] ")) << "progress on stderr: " << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(layers\[0\] \(decode\) +avx512 +1 +mr\d)")))
      << r.output;
  EXPECT_TRUE(contains(r.output, "avx2: 1 kernel(s): 1 compiled")) << r.output;
  EXPECT_TRUE(contains(r.output, "avx512: 1 kernel(s): 1 compiled")) << r.output;

  r = qk_cache(build);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "avx2: 1 kernel(s): 0 compiled")) << r.output;
  EXPECT_TRUE(contains(r.output, "1 already in the cache")) << r.output;

  r = qk_cache("list --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "4 binaries")) << "2 kernels and 2 PCHs: " << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(qk_w8a8_cpu_avx2_\S+ +cpu=x86-64-v3 )")))
      << r.output;
  EXPECT_TRUE(std::regex_search(r.output, std::regex(R"(qk_w8a8_cpu_fp16\S+ +cpu=x86-64-v4 )")))
      << r.output;

  // Shipped without the precompiled headers: the kernels only.
  const std::string shipped = shell_quote((dir.path() / "shipped.db").string());
  r = qk_cache("export --target cpu= --without-pch --cache " + cache + " -o " + shipped);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "+2 binaries")) << r.output;
  EXPECT_TRUE(contains(r.output, "2 precompiled headers left out")) << r.output;
  r = qk_cache("list --cache " + shipped);
  EXPECT_TRUE(contains(r.output, "2 binaries")) << r.output;
  EXPECT_FALSE(contains(r.output, "_pch")) << r.output;
}

TEST(QkCacheBuild, BadCpuLevelsAreNamedAndWriteNothing) {
  qk::test::TempDir dir;
  const auto file = dir.path() / "c.db";
  const std::string plan = shell_quote(one_kernel_plan(dir));
  const std::string cache = " --cache " + shell_quote(file.string());
  Outcome r = qk_cache("build --cpu-level avx2,avx9 " + plan + cache);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output,
                       "--cpu-level: item 2 is 'avx9', not a portable cpu level; allowed: "
                       "avx512, avx2, amx"))
      << r.output;
  r = qk_cache("build " + plan + cache);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_TRUE(contains(r.output, "--arch")) << r.output;
  EXPECT_TRUE(contains(r.output, "--cpu-level")) << r.output;
  r = qk_cache("build --cpu-level avx2 --arch sm_80,sm_75 " + plan + cache);
  EXPECT_EQ(r.exit_code, 2) << "either list wrong: " << r.output;
  r = qk_cache("build --cpu-level avx2 " + shell_quote((dir.path() / "missing.json").string()) +
               cache);
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "missing.json")) << r.output;
  EXPECT_FALSE(std::filesystem::exists(file));
}

// verify, export, merge and gc with cubin rows (no NVRTC: the rows are stored directly).
TEST(QkCacheBuild, CubinRowsAreListedVerifiedShippedAndCollected) {
  qk::test::TempDir dir;
  const auto file = dir.path() / "c.db";
  const std::string attributes =
      "lowered=_Z1kv;threads=128;dynamic_smem=48640;registers=122;stack=0;spill_stores=0;"
      "spill_loads=0;static_smem=0;barriers=1";
  {
    auto cache = qk::cache::KernelCache::open(file);
    ASSERT_TRUE(cache.has_value());
    const std::string current(qk::templates::revision("cuda"));
    const std::vector<std::uint8_t> cubin{0x7f, 'E', 'L', 'F'};
    ASSERT_TRUE((*cache)->store_binary({"qk_w8a8_sm_90a_fp16_st_bias_none_fp16_64x64x64_w2x2_s3",
                                        "h1", current, "sm_90a", "nvrtc 13.0", "f"},
                                       cubin, 400, attributes));
    ASSERT_TRUE((*cache)->store_binary({"qk_w8a8_sm_80_fp16_st_bias_none_fp16_64x64x64_w2x2_s3",
                                        "h2", "old-cuda-templates", "sm_80", "nvrtc 13.0", "f"},
                                       cubin, 400, attributes));
  }
  const std::string cache = shell_quote(file.string());
  Outcome r = qk_cache("list --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "2 cubins")) << r.output;
  EXPECT_TRUE(
      contains(r.output, "sm_90a  qk_w8a8_sm_90a_fp16_st_bias_none_fp16  64x64x64_w2x2_s3  "))
      << r.output;
  EXPECT_TRUE(contains(r.output, "stale")) << r.output;

  r = qk_cache("verify --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "binaries: 2 (0 damaged, 1 of other template revisions)"))
      << r.output;

  const std::string shipped = shell_quote((dir.path() / "ship.db").string());
  r = qk_cache("export --target sm_90a --cache " + cache + " -o " + shipped);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "+1 binaries")) << r.output;
  EXPECT_TRUE(contains(r.output, "1 binaries of other targets left out")) << r.output;
  r = qk_cache("list --cache " + shipped);
  EXPECT_TRUE(contains(r.output, "registers")) << r.output;
  EXPECT_TRUE(contains(r.output, "     122  "))
      << "the attributes travel with the cubin: " << r.output;

  r = qk_cache("gc --cache " + cache);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "removed 1 binaries")) << r.output;

  auto db = qk::cache::Db::open(file);
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(db->exec("UPDATE binaries SET attributes = replace(attributes, '122', '64')",
                       "damaging the attributes"));
  r = qk_cache("verify --cache " + cache);
  EXPECT_EQ(r.exit_code, 1) << "damaged attributes are found: " << r.output;
}

}  // namespace
