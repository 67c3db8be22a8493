// How a plan's tuning work is laid out and sharded (no kernels run here).
#include "tuner/plan_tuner.hpp"

#include <set>

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"

namespace {

qk::LayerConfig layer(std::string name, std::int64_t n, std::int64_t m_max) {
  qk::LayerConfig l;
  l.name = std::move(name);
  l.n = n;
  l.k = 4096;
  l.m_max = m_max;
  return l;
}

qk::Plan plan() {
  qk::Plan p;
  p.layers = {layer("q", 4096, 16), layer("k", 4096, 16), layer("up", 11008, 4),
              layer("v", 4096, 16)};
  return p;
}

TEST(PlanWork, LayersSharingAWorkloadAreTunedOnce) {
  const auto work = qk::tuner::plan_work(plan(), std::nullopt);
  // q: buckets 1, 2, 4, 8, 16 (shared by k and v); up: 1, 2, 4.
  ASSERT_EQ(work.size(), 8u);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(work[i].layer, 0u);
    EXPECT_EQ(work[i].also_layers, (std::vector<std::size_t>{1, 3}));
  }
  EXPECT_EQ(work[0].bucket, 1);
  EXPECT_EQ(work[4].bucket, 16);
  EXPECT_EQ(work[5].layer, 2u);
  EXPECT_TRUE(work[5].also_layers.empty());
  EXPECT_EQ(work[7].bucket, 4);
}

TEST(PlanWork, GivenBucketsAreCutToEachLayersRange) {
  const auto work = qk::tuner::plan_work(plan(), std::vector<std::int64_t>{1, 3, 64});
  // q (m <= 16): 1, 3 and 64 (which holds 4..16); up (m <= 4): 1, 3, 64 (holds 4).
  ASSERT_EQ(work.size(), 6u);
  EXPECT_EQ(work[1].bucket, 3);
  EXPECT_EQ(work[2].bucket, 64);
}

TEST(PlanWork, ShardsPartitionTheWork) {
  const auto work = qk::tuner::plan_work(plan(), std::nullopt);
  for (int count : {1, 2, 3, 8, 11}) {
    std::multiset<std::pair<std::size_t, std::int64_t>> seen;
    for (int index = 0; index < count; ++index)
      for (const auto& item : qk::tuner::shard(work, index, count))
        seen.insert({item.layer, item.bucket});
    std::multiset<std::pair<std::size_t, std::int64_t>> all;
    for (const auto& item : work) all.insert({item.layer, item.bucket});
    EXPECT_EQ(seen, all) << count << " shards";
  }
}

}  // namespace

namespace {

TEST(TunePlan, LayerOfAnUnimplementedFamilyIsReportedNotFatal) {
  qk::test::TempDir dir;
  qk::Plan p;
  qk::LayerConfig fp8 = layer("fp8", 64, 2);
  fp8.k = 64;
  fp8.weight_quant = qk::QuantType::fp8_e4m3;
  fp8.activation_quant = qk::QuantType::fp8_e4m3;
  fp8.input_dtype = qk::QuantType::fp16;
  ASSERT_TRUE(qk::validate_layer(fp8, "fp8").empty());
  p.layers = {fp8};
  qk::tuner::PlanTuneOptions options;
  options.settings.cache = dir.path() / "kernels.db";
  auto report = qk::tuner::tune_plan(p, options);
  ASSERT_TRUE(report.has_value()) << report.error().str();
  ASSERT_EQ(report->rows.size(), 2u) << "buckets 1 and 2";
  for (const auto& row : report->rows) {
    EXPECT_FALSE(row.bucket.complete);
    EXPECT_NE(row.bucket.unsupported.find("not implemented"), std::string::npos)
        << row.bucket.unsupported;
  }
}

}  // namespace
