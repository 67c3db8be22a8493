// Tests of the `qk-cache` command line (docs/cache.md, "Shipping and maintaining a cache").
#include <filesystem>
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

}  // namespace
