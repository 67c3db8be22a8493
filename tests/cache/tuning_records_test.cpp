// The tuning tables through KernelCache (docs/cache.md, "Tuning tables"): measurements and
// winners round-trip, a winner of another template revision is not used, a damaged winner is
// detected, reported, deleted and not used.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

using qk::cache::KernelCache;
using qk::cache::TimingRecord;
using qk::cache::WinnerRecord;
using qk::test::TempDir;

const qk::cache::WorkloadRecord kWorkload{"00ff00ff00ff00ff", R"({"target":"cpu"})", 4096, 11008};

std::unique_ptr<KernelCache> open_with_workload(const TempDir& dir) {
  auto cache = KernelCache::open(dir.path() / "kernels.db");
  EXPECT_TRUE(cache.has_value());
  EXPECT_TRUE((*cache)->store_workload(kWorkload).has_value());
  return std::move(*cache);
}

TimingRecord timing(std::string config, std::optional<double> median) {
  TimingRecord t;
  t.workload_hash = kWorkload.hash;
  t.bucket = 16;
  t.config_name = std::move(config);
  t.device_fingerprint = "cpu:test;cores=2";
  t.template_revision = "rev-a";
  t.median_ns = median;
  if (median) {
    t.spread_ns = *median * 0.01;
    t.repeats = 10;
  } else {
    t.status = "compile_error";
    t.reason = "error: too many registers";
  }
  return t;
}

WinnerRecord winner(std::int64_t bucket, std::string revision) {
  return WinnerRecord{kWorkload.hash,
                      bucket,
                      "cpu:test;cores=2",
                      std::move(revision),
                      "mr4_nv5_kc16384_mc96_nc960",
                      1000.0,
                      12.5,
                      "mr5_nv5_kc16384_mc100_nc960",
                      1300.0,
                      0};
}

TEST(TuningRecords, TimingsRoundTripIncludingFailures) {
  TempDir dir;
  auto cache = open_with_workload(dir);
  ASSERT_TRUE(cache->store_timing(timing("mr1_nv4_kc0_mc96_nc960", 2500.0)).has_value());
  ASSERT_TRUE(cache->store_timing(timing("mr9_nv9_kc0_mc96_nc960", std::nullopt)).has_value());

  auto found = cache->find_timings(kWorkload.hash, 16, "cpu:test;cores=2", "rev-a");
  ASSERT_TRUE(found.has_value()) << found.error().str();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].config_name, "mr1_nv4_kc0_mc96_nc960");
  EXPECT_EQ((*found)[0].median_ns, 2500.0);
  EXPECT_EQ((*found)[0].spread_ns, 25.0);
  EXPECT_EQ((*found)[1].status, "compile_error");
  EXPECT_FALSE((*found)[1].median_ns.has_value());
  EXPECT_EQ((*found)[1].reason, "error: too many registers");

  // Other bucket, device or template revision: not the same measurements.
  EXPECT_TRUE(cache->find_timings(kWorkload.hash, 32, "cpu:test;cores=2", "rev-a")->empty());
  EXPECT_TRUE(cache->find_timings(kWorkload.hash, 16, "cpu:other;cores=2", "rev-a")->empty());
  EXPECT_TRUE(cache->find_timings(kWorkload.hash, 16, "cpu:test;cores=2", "rev-b")->empty());
}

TEST(TuningRecords, InvalidTimingsAreRefusedNamingTheField) {
  TempDir dir;
  auto cache = open_with_workload(dir);
  TimingRecord t = timing("mr1_nv4_kc0_mc96_nc960", 2500.0);
  t.fidelity = "medium";
  auto r = cache->store_timing(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where, "TimingRecord.fidelity");

  t = timing("mr1_nv4_kc0_mc96_nc960", 2500.0);
  t.status = "compile_error";  // a failure with a time
  r = cache->store_timing(t);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().where, "TimingRecord.median_ns");

  t = timing("mr1_nv4_kc0_mc96_nc960", 2500.0);
  t.workload_hash = "not-stored";  // the foreign key
  EXPECT_FALSE(cache->store_timing(t).has_value());
}

TEST(TuningRecords, WinnersOfThisRevisionAreFoundByBucket) {
  TempDir dir;
  auto cache = open_with_workload(dir);
  ASSERT_TRUE(cache->store_winner(winner(128, "rev-a")).has_value());
  ASSERT_TRUE(cache->store_winner(winner(1, "rev-a")).has_value());
  ASSERT_TRUE(cache->store_winner(winner(16, "rev-old")).has_value());

  auto found = cache->find_winners(kWorkload.hash, "cpu:test;cores=2", "rev-a");
  ASSERT_TRUE(found.has_value()) << found.error().str();
  ASSERT_EQ(found->size(), 2u) << "the rev-old winner is stale";
  EXPECT_EQ((*found)[0].bucket, 1);
  EXPECT_EQ((*found)[1].bucket, 128);
  EXPECT_EQ((*found)[1].config_name, "mr4_nv5_kc16384_mc96_nc960");
  EXPECT_EQ((*found)[1].default_median_ns, 1300.0);
  EXPECT_TRUE(cache->find_winners(kWorkload.hash, "cpu:other;cores=2", "rev-a")->empty());

  // A later decision for the same bucket replaces the earlier one.
  WinnerRecord again = winner(128, "rev-a");
  again.config_name = "mr8_nv3_kc512_mc96_nc960";
  ASSERT_TRUE(cache->store_winner(again).has_value());
  found = cache->find_winners(kWorkload.hash, "cpu:test;cores=2", "rev-a");
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[1].config_name, "mr8_nv3_kc512_mc96_nc960");
}

TEST(TuningRecords, EditedWinnerIsReportedDeletedAndNotUsed) {
  TempDir dir;
  auto cache = open_with_workload(dir);
  ASSERT_TRUE(cache->store_winner(winner(1, "rev-a")).has_value());
  ASSERT_TRUE(cache->store_winner(winner(128, "rev-a")).has_value());
  std::vector<std::string> reports;
  cache->set_corruption_reporter([&](const qk::Error& e) { reports.push_back(e.str()); });

  // Someone hand-edits the shipped file to force a config.
  auto db = qk::cache::Db::open(dir.path() / "kernels.db");
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(db->exec("UPDATE winners SET config_name = 'mr8_nv3_kc4_mc8_nc48' WHERE bucket = 128",
                       "tampering")
                  .has_value());

  auto found = cache->find_winners(kWorkload.hash, "cpu:test;cores=2", "rev-a");
  ASSERT_TRUE(found.has_value());
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].bucket, 1);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("fails its checksum"), std::string::npos) << reports[0];
  EXPECT_EQ(cache->stats().corrupt_evicted, 1);

  auto listed = cache->list_winners();
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->size(), 1u) << "the damaged record was deleted";
  EXPECT_TRUE((*listed)[0].checksum_ok);
  EXPECT_EQ((*listed)[0].workload_json, kWorkload.json);
}

TEST(TuningRecords, WinnerChecksumCoversEveryField) {
  const WinnerRecord base = winner(16, "rev-a");
  const std::string reference = qk::cache::winner_checksum(base);
  std::vector<WinnerRecord> changed(9, base);
  changed[0].workload_hash += "0";
  changed[1].bucket = 32;
  changed[2].device_fingerprint += "x";
  changed[3].template_revision += "x";
  changed[4].config_name += "x";
  changed[5].median_ns += 1;
  changed[6].spread_ns += 1;
  changed[7].default_config += "x";
  changed[8].default_median_ns += 1;
  for (std::size_t i = 0; i < changed.size(); ++i)
    EXPECT_NE(qk::cache::winner_checksum(changed[i]), reference) << "field " << i;
}

}  // namespace
