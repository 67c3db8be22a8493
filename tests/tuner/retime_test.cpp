// Re-timing stored winners (qk-cache verify --retime) and reading a workload back into a layer.
#include "tuner/retime.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "codegen/cpu_search_space.hpp"
#include "codegen/workload.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tiled_compile.hpp"
#include "tuner/workload_layer.hpp"

namespace {

qk::LayerConfig layer() {
  qk::LayerConfig l;
  l.name = "retime";
  l.n = 256;
  l.k = 512;
  l.m_max = 16;
  l.input_dtype = qk::QuantType::fp32;
  l.epilogue.output = qk::QuantType::fp32;
  return l;
}

TEST(WorkloadLayer, ReadsBackEveryWorkloadExactly) {
  std::vector<qk::LayerConfig> layers{layer()};
  qk::LayerConfig w4 = layer();
  w4.weight_quant = qk::QuantType::int4;
  w4.weight_granularity = qk::WeightGranularity::per_group;
  w4.block_size = 128;
  w4.weight_symmetric = false;
  w4.epilogue = {true, qk::Activation::silu, qk::QuantType::bf16};
  layers.push_back(w4);
  qk::LayerConfig w16 = layer();
  w16.activation_quant = qk::QuantType::bf16;
  w16.input_dtype = qk::QuantType::bf16;
  w16.activation_scaling = qk::ActivationScaling::none;
  layers.push_back(w16);
  for (const qk::LayerConfig& l : layers) {
    const std::string json = qk::codegen::workload_of(l, "cpu").json;
    auto back = qk::tuner::layer_of_workload(json);
    ASSERT_TRUE(back.has_value()) << json << ": " << back.error().str();
    EXPECT_EQ(qk::codegen::workload_of(*back, "cpu").json, json);
  }
}

TEST(WorkloadLayer, BadJsonNamesTheKey) {
  auto r = qk::tuner::layer_of_workload(R"({"weights": "int9"})");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where, "workload.weights");
  EXPECT_NE(r.error().message.find("int9"), std::string::npos);
  EXPECT_FALSE(qk::tuner::layer_of_workload("[1, 2]").has_value());
}

// A winner stored for this device: `winner` claimed 2x faster than `fallback`.
void store(const qk::tuner::TuneSettings& s, const std::string& winner,
           const std::string& fallback) {
  auto backend = qk::runtime::CpuBackend::get("host");
  ASSERT_TRUE(backend.has_value());
  const auto keys = qk::runtime::tuning_keys(layer(), **backend, qk::runtime::call_threads({}));
  auto cache = qk::cache::KernelCache::open(s.cache);
  ASSERT_TRUE(cache.has_value());
  const auto workload = qk::codegen::workload_of(layer(), "cpu");
  ASSERT_TRUE((*cache)->store_workload({workload.hash, workload.json, 256, 512}));
  ASSERT_TRUE((*cache)->store_winner({keys.workload_hash, 16, keys.device_fingerprint,
                                      keys.template_revision, winner, 1e5, 1e3, fallback, 2e5, 0}));
}

qk::tuner::TuneSettings settings(const qk::test::TempDir& dir) {
  qk::tuner::TuneSettings s;
  s.cache = dir.path() / "kernels.db";
  s.full = {1, 5, 9, 0.0, 0.1, 0.5};
  return s;
}

// K blocks of 4 with a 1-row, one-vector register tile: far slower than any sensible tile.
constexpr const char* kAwfulTile = "mr1_nv1_kc4_mc1_nc16";

// The default tile of bucket 16 on this machine's level (register tiles differ per ISA).
std::string good_tile() {
  auto backend = qk::runtime::CpuBackend::get("host");
  const auto isa = backend ? (*backend)->isa() : qk::codegen::CpuIsa::avx512;
  return qk::codegen::canonical_name(
      qk::codegen::default_cpu_tile(qk::GemmFamily::w8a8, 16, isa));
}

TEST(Retime, WinnerSlowerHereIsReplacedByItsDefault) {
  qk::test::TempDir dir;
  const auto s = settings(dir);
  store(s, kAwfulTile, good_tile());
  auto results = qk::tuner::retime_winners(s, 5);
  ASSERT_TRUE(results.has_value()) << results.error().str();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_FALSE((*results)[0].confirmed);
  EXPECT_TRUE((*results)[0].problem.empty()) << (*results)[0].problem;
  ASSERT_TRUE((*results)[0].winner_ns && (*results)[0].default_ns);
  EXPECT_GT(*(*results)[0].winner_ns, *(*results)[0].default_ns);

  auto kernel = qk::jit::compile(layer(), {.cache = s.cache});
  ASSERT_TRUE(kernel.has_value()) << kernel.error().str();
  EXPECT_TRUE(kernel->name(16).ends_with(good_tile())) << kernel->name(16);
  auto again = qk::tuner::retime_winners(s, 5);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->empty()) << "a winner equal to its default needs no re-timing";
}

TEST(Retime, WinnerStillFasterIsConfirmedAndKept) {
  qk::test::TempDir dir;
  const auto s = settings(dir);
  store(s, good_tile(), kAwfulTile);
  auto results = qk::tuner::retime_winners(s, 5);
  ASSERT_TRUE(results.has_value()) << results.error().str();
  ASSERT_EQ(results->size(), 1u);
  EXPECT_TRUE((*results)[0].confirmed) << (*results)[0].problem;
  auto kernel = qk::jit::compile(layer(), {.cache = s.cache});
  ASSERT_TRUE(kernel.has_value());
  EXPECT_TRUE(kernel->name(16).ends_with(good_tile())) << kernel->name(16);
}

}  // namespace
