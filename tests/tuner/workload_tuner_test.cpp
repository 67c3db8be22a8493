// A real, small tune on this machine's CPU (docs/tuning.md): the winner is no slower than the
// default on the same measurement and compile() then runs it; a rerun resumes from the stored
// measurements; a spent budget stores no winner. Timing settings are tiny: these tests check
// the mechanism, not the speed (qk-tune and qk-bench measure that).
#include "tuner/workload_tuner.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "qk/jit.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tiled_compile.hpp"

namespace {

using qk::tuner::BucketReport;
using qk::tuner::TuneSettings;

qk::LayerConfig small_layer() {
  qk::LayerConfig l;
  l.name = "tune-test";
  l.n = 96;
  l.k = 128;
  l.m_max = 4;
  l.input_dtype = qk::QuantType::fp32;
  l.epilogue.output = qk::QuantType::fp32;
  return l;
}

TuneSettings fast_settings(const qk::test::TempDir& dir) {
  TuneSettings s;
  s.cache = dir.path() / "kernels.db";
  s.search.exhaustive_limit = 3;
  s.search.sample = 5;
  s.quick = {0, 2, 3, 0.0, 0.01, 0.5};
  s.full = {1, 3, 5, 0.0, 0.02, 0.5};
  return s;
}

const std::vector<std::int64_t> kBuckets{1, 4};

TEST(WorkloadTuner, WinnerIsNoSlowerThanTheDefaultAndCompileUsesIt) {
  qk::test::TempDir dir;
  const TuneSettings settings = fast_settings(dir);
  auto reports = qk::tuner::tune_workload(small_layer(), kBuckets, settings);
  ASSERT_TRUE(reports.has_value()) << reports.error().str();
  ASSERT_EQ(reports->size(), 2u);
  for (const BucketReport& r : *reports) {
    SCOPED_TRACE("bucket " + std::to_string(r.bucket));
    EXPECT_TRUE(r.complete);
    ASSERT_TRUE(r.default_ns.has_value());
    ASSERT_TRUE(r.chosen_ns.has_value());
    EXPECT_LE(*r.chosen_ns, *r.default_ns);
    EXPECT_EQ(r.replaced_default, r.chosen_config != r.default_config);
    EXPECT_EQ(r.failed, 0u);
    EXPECT_GT(r.measured, 1u);
    EXPECT_EQ(r.reused, 0u);
  }

  auto kernel = qk::jit::compile(small_layer(), {.cache = settings.cache});
  ASSERT_TRUE(kernel.has_value()) << kernel.error().str();
  EXPECT_TRUE(kernel->name(1).ends_with((*reports)[0].chosen_config)) << kernel->name(1);
  EXPECT_TRUE(kernel->name(4).ends_with((*reports)[1].chosen_config)) << kernel->name(4);
}

TEST(WorkloadTuner, RerunResumesFromStoredMeasurements) {
  qk::test::TempDir dir;
  const TuneSettings settings = fast_settings(dir);
  auto first = qk::tuner::tune_workload(small_layer(), kBuckets, settings);
  ASSERT_TRUE(first.has_value()) << first.error().str();
  auto second = qk::tuner::tune_workload(small_layer(), kBuckets, settings);
  ASSERT_TRUE(second.has_value()) << second.error().str();
  for (std::size_t b = 0; b < kBuckets.size(); ++b) {
    EXPECT_EQ((*second)[b].measured, 0u) << "nothing is measured twice";
    EXPECT_GT((*second)[b].reused, 0u);
    EXPECT_EQ((*second)[b].chosen_config, (*first)[b].chosen_config);
    EXPECT_EQ((*second)[b].chosen_ns, (*first)[b].chosen_ns);
  }
}

TEST(WorkloadTuner, SpentBudgetStoresNoWinner) {
  qk::test::TempDir dir;
  TuneSettings settings = fast_settings(dir);
  settings.deadline = std::chrono::steady_clock::now() - std::chrono::seconds(1);
  auto reports = qk::tuner::tune_workload(small_layer(), kBuckets, settings);
  ASSERT_TRUE(reports.has_value()) << reports.error().str();
  for (const BucketReport& r : *reports) {
    EXPECT_FALSE(r.complete);
    EXPECT_EQ(r.measured, 0u);
  }
  auto cache = qk::cache::KernelCache::open(settings.cache);
  ASSERT_TRUE(cache.has_value());
  auto winners = (*cache)->list_winners();
  ASSERT_TRUE(winners.has_value());
  EXPECT_TRUE(winners->empty());
}

TEST(WorkloadTuner, InvalidLayerIsAnErrorNamingTheField) {
  qk::test::TempDir dir;
  qk::LayerConfig bad = small_layer();
  bad.n = 0;
  auto reports = qk::tuner::tune_workload(bad, kBuckets, fast_settings(dir));
  ASSERT_FALSE(reports.has_value());
  EXPECT_EQ(reports.error().where, "layer.n");
}

}  // namespace

namespace {

// The avx2 level has its own ISA, search space and device fingerprint.
TEST(WorkloadTuner, TunesTheAvx2Level) {
  qk::test::TempDir dir;
  TuneSettings settings = fast_settings(dir);
  settings.cpu_level = "avx2";
  auto reports = qk::tuner::tune_workload(small_layer(), kBuckets, settings);
  ASSERT_TRUE(reports.has_value()) << reports.error().str();
  for (const BucketReport& r : *reports) {
    EXPECT_TRUE(r.complete);
    EXPECT_EQ(r.failed, 0u) << "every candidate is a valid avx2 tile";
  }
  auto kernel = qk::jit::compile(small_layer(), {.cache = settings.cache, .cpu_level = "avx2"});
  ASSERT_TRUE(kernel.has_value()) << kernel.error().str();
  EXPECT_NE(kernel->name(4).find("_avx2_"), std::string::npos) << kernel->name(4);
  EXPECT_TRUE(kernel->name(4).ends_with((*reports)[1].chosen_config)) << kernel->name(4);
}

}  // namespace
