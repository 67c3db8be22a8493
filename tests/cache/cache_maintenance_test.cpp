// Merging, verifying and cleaning cache files (docs/cache.md, "Shipping and maintaining a
// cache"): shards merge into their union, a merge is idempotent and never copies a damaged
// record, the source is left as it was, gc keeps only what this qk can use.
#include "cache/cache_maintenance.hpp"

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

namespace fs = std::filesystem;
using qk::cache::BinaryKey;
using qk::cache::KernelCache;
using qk::test::TempDir;

BinaryKey key(std::string kernel, std::string target, std::string revision = "rev-a") {
  return {std::move(kernel), "spec", std::move(revision), std::move(target), "clang 19", ""};
}

qk::cache::WinnerRecord winner(std::int64_t bucket, std::string config, std::int64_t decided,
                               std::string revision = "rev-a") {
  return {"wl",      bucket, "cpu:test", std::move(revision), std::move(config), 1000, 10,
          "default", 1500,   decided};
}

qk::cache::TimingRecord timing(std::int64_t bucket, std::string config) {
  qk::cache::TimingRecord t;
  t.workload_hash = "wl";
  t.bucket = bucket;
  t.config_name = std::move(config);
  t.device_fingerprint = "cpu:test";
  t.template_revision = "rev-a";
  t.median_ns = 1000;
  t.spread_ns = 10;
  t.repeats = 5;
  t.measured_unix = 1700000000 + bucket;
  return t;
}

/// A cache file holding one binary for `target`, one timing and one winner for `bucket`.
std::unique_ptr<KernelCache> shard(const fs::path& file, std::string kernel, std::string target,
                                   std::int64_t bucket) {
  auto cache = KernelCache::open(file);
  EXPECT_TRUE(cache.has_value());
  const std::vector<std::uint8_t> blob{1, 2, 3, static_cast<std::uint8_t>(bucket)};
  EXPECT_TRUE((*cache)->store_binary(key(std::move(kernel), std::move(target)), blob, 5.0));
  EXPECT_TRUE((*cache)->store_workload({"wl", "{}", 64, 64}));
  EXPECT_TRUE((*cache)->store_timing(timing(bucket, "mr1")));
  EXPECT_TRUE((*cache)->store_winner(winner(bucket, "mr1", 100)));
  return std::move(*cache);
}

std::string bytes_of(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(CacheMerge, ShardsMergeIntoTheirUnionOnce) {
  TempDir dir;
  shard(dir.path() / "a.db", "k_a", "cpu=x", 1);
  shard(dir.path() / "b.db", "k_b", "sm_90a", 16);
  auto out = KernelCache::open(dir.path() / "out.db");
  ASSERT_TRUE(out.has_value());
  for (const char* name : {"a.db", "b.db"}) {
    auto stats = qk::cache::merge_into(**out, dir.path() / name);
    ASSERT_TRUE(stats.has_value()) << stats.error().str();
    EXPECT_EQ(stats->binaries, 1);
    EXPECT_EQ(stats->timings, 1);
    EXPECT_EQ(stats->winners, 1);
  }
  auto again = qk::cache::merge_into(**out, dir.path() / "a.db");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->binaries + again->timings + again->winners, 0) << "merging twice adds nothing";

  EXPECT_EQ((*out)->list_binaries()->size(), 2u);
  auto winners = (*out)->find_winners("wl", "cpu:test", "rev-a");
  ASSERT_TRUE(winners.has_value());
  ASSERT_EQ(winners->size(), 2u);
  auto hit = (*out)->find_binary(key("k_b", "sm_90a"));
  ASSERT_TRUE(hit && *hit);
  EXPECT_EQ((**hit).blob, (std::vector<std::uint8_t>{1, 2, 3, 16}));
}

TEST(CacheMerge, LaterDecisionWinsAndSourceIsUntouched) {
  TempDir dir;
  {
    auto a = shard(dir.path() / "a.db", "k", "cpu=x", 1);
    ASSERT_TRUE(a->store_winner(winner(1, "mr_later", 200)));
  }
  auto out = shard(dir.path() / "out.db", "k", "cpu=x", 1);  // decided at 100
  const std::string before = bytes_of(dir.path() / "a.db");
  ASSERT_TRUE(qk::cache::merge_into(*out, dir.path() / "a.db").has_value());
  EXPECT_EQ(bytes_of(dir.path() / "a.db"), before);
  EXPECT_EQ((*out->find_winners("wl", "cpu:test", "rev-a"))[0].config_name, "mr_later");

  // The reverse: an older decision does not replace a newer one.
  auto b = KernelCache::open(dir.path() / "old.db");
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE((*b)->store_workload({"wl", "{}", 64, 64}));
  ASSERT_TRUE((*b)->store_winner(winner(1, "mr_older", 50)));
  ASSERT_TRUE(qk::cache::merge_into(*out, dir.path() / "old.db").has_value());
  EXPECT_EQ((*out->find_winners("wl", "cpu:test", "rev-a"))[0].config_name, "mr_later");
}

TEST(CacheMerge, DamagedRecordsAreNotCopiedAndTargetFilterApplies) {
  TempDir dir;
  shard(dir.path() / "a.db", "k_cpu", "cpu=x", 1);
  {
    auto a = KernelCache::open(dir.path() / "a.db");
    ASSERT_TRUE((*a)->store_binary(key("k_gpu", "sm_90a"), std::vector<std::uint8_t>{9}, 1.0));
    ASSERT_TRUE((*a)->store_winner(winner(2, "mr2", 100)));
  }
  auto raw = qk::cache::Db::open(dir.path() / "a.db");
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(
      raw->exec("UPDATE binaries SET blob = x'0A0B' WHERE kernel = 'k_cpu';"
                "UPDATE winners SET config_name = 'forced' WHERE bucket = 2",
                "damaging"));
  auto out = KernelCache::open(dir.path() / "out.db");
  ASSERT_TRUE(out.has_value());
  auto stats = qk::cache::merge_into(**out, dir.path() / "a.db", {.target = "cpu="});
  ASSERT_TRUE(stats.has_value()) << stats.error().str();
  EXPECT_EQ(stats->binaries_damaged, 1);
  EXPECT_EQ(stats->binaries_skipped, 1) << "the sm_90a binary";
  EXPECT_EQ(stats->binaries, 0);
  EXPECT_EQ(stats->winners_damaged, 1);
  EXPECT_EQ(stats->winners, 1);

  auto report = qk::cache::verify(**out, {"rev-a"});
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->binaries_damaged + report->winners_damaged, 0);
  auto source_report = qk::cache::verify(**KernelCache::open(dir.path() / "a.db"), {"rev-a"});
  ASSERT_TRUE(source_report.has_value());
  EXPECT_EQ(source_report->binaries_damaged, 1);
  EXPECT_EQ(source_report->winners_damaged, 1);
  EXPECT_EQ(source_report->problems.size(), 2u);
}

// An export for shipping may leave out the precompiled headers (qk-cache export --without-pch):
// every kernel still travels, and a kernel whose name merely ends in "_pch" is not mistaken for
// one.
TEST(CacheMerge, PrecompiledHeadersCanBeLeftOut) {
  TempDir dir;
  shard(dir.path() / "a.db", "qk_w8a8_cpu_pch", "cpu=x", 1);  // a kernel: its spec hash differs
  {
    auto a = KernelCache::open(dir.path() / "a.db");
    const BinaryKey header =
        qk::cache::precompiled_header_key("cpu", "rev-a", "cpu=x", "clang 19", "-O3");
    ASSERT_TRUE(qk::cache::is_precompiled_header(header));
    ASSERT_TRUE((*a)->store_binary(header, std::vector<std::uint8_t>(1000, 7), 900.0));
  }
  auto out = KernelCache::open(dir.path() / "out.db");
  ASSERT_TRUE(out.has_value());
  auto stats = qk::cache::merge_into(**out, dir.path() / "a.db", {.precompiled_headers = false});
  ASSERT_TRUE(stats.has_value()) << stats.error().str();
  EXPECT_EQ(stats->binaries, 1);
  EXPECT_EQ(stats->headers_skipped, 1);
  auto kept = (*out)->find_binary(key("qk_w8a8_cpu_pch", "cpu=x"));
  ASSERT_TRUE(kept.has_value());
  EXPECT_TRUE(kept->has_value()) << "the kernel was copied";

  auto all = KernelCache::open(dir.path() / "all.db");
  ASSERT_TRUE(all.has_value());
  auto everything = qk::cache::merge_into(**all, dir.path() / "a.db");
  ASSERT_TRUE(everything.has_value());
  EXPECT_EQ(everything->binaries, 2);
  EXPECT_EQ(everything->headers_skipped, 0);
}

TEST(CacheMerge, AttributesTravelWithTheirBinaryAndTheirDamageIsFound) {
  TempDir dir;
  {
    auto a = KernelCache::open(dir.path() / "a.db");
    ASSERT_TRUE(a.has_value());
    ASSERT_TRUE((*a)->store_binary(key("k_gpu", "sm_80"), std::vector<std::uint8_t>{9}, 1.0,
                                   "registers=122"));
  }
  auto out = KernelCache::open(dir.path() / "out.db");
  ASSERT_TRUE(out.has_value());
  auto stats = qk::cache::merge_into(**out, dir.path() / "a.db");
  ASSERT_TRUE(stats.has_value()) << stats.error().str();
  EXPECT_EQ(stats->binaries, 1);
  auto found = (*out)->find_binary(key("k_gpu", "sm_80"));
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->attributes, "registers=122");

  auto raw = qk::cache::Db::open(dir.path() / "a.db");
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(raw->exec("UPDATE binaries SET attributes = 'registers=1'", "damaging"));
  auto report = qk::cache::verify(**KernelCache::open(dir.path() / "a.db"), {"rev-a"});
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->binaries_damaged, 1);
  auto again = KernelCache::open(dir.path() / "again.db");
  auto damaged = qk::cache::merge_into(**again, dir.path() / "a.db");
  ASSERT_TRUE(damaged.has_value());
  EXPECT_EQ(damaged->binaries_damaged, 1);
  EXPECT_EQ(damaged->binaries, 0);
}

TEST(CacheMerge, NotACacheIsRefusedNamingTheFile) {
  TempDir dir;
  std::ofstream(dir.path() / "junk.db") << "not sqlite at all, just text long enough........";
  auto out = KernelCache::open(dir.path() / "out.db");
  ASSERT_TRUE(out.has_value());
  auto stats = qk::cache::merge_into(**out, dir.path() / "junk.db");
  ASSERT_FALSE(stats.has_value());
  EXPECT_NE(stats.error().where.find("junk.db"), std::string::npos) << stats.error().str();
  EXPECT_FALSE(qk::cache::merge_into(**out, dir.path() / "missing.db").has_value());
}

TEST(CacheGc, RemovesOtherTemplateRevisionsOnly) {
  TempDir dir;
  auto cache = shard(dir.path() / "c.db", "k_new", "cpu=x", 1);
  ASSERT_TRUE(
      cache->store_binary(key("k_old", "cpu=x", "rev-old"), std::vector<std::uint8_t>{7}, 1.0));
  ASSERT_TRUE(cache->store_winner(winner(8, "mr1", 100, "rev-old")));
  auto stats = qk::cache::collect_garbage(*cache, {"rev-a", "rev-b"});
  ASSERT_TRUE(stats.has_value()) << stats.error().str();
  EXPECT_EQ(stats->binaries, 1);
  EXPECT_EQ(stats->winners, 1);
  EXPECT_EQ(stats->timings, 0);
  EXPECT_EQ(cache->list_binaries()->size(), 1u);
  EXPECT_EQ(cache->list_winners()->size(), 1u);
}

}  // namespace
