// Tests of what the cache does with damaged data (docs/cache.md, "Corruption"): records whose
// blob, size or key no longer match are evicted, reported and missed, never returned; files that
// are not a qk cache, or are of a newer schema, are refused and left as they were.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

namespace fs = std::filesystem;
using qk::cache::BinaryKey;
using qk::cache::Db;
using qk::cache::KernelCache;

using qk::test::TempDir;

BinaryKey sample_key() {
  return BinaryKey{"qk_w4a16_sm90a_128x128x64_s4", "spec-ffee", "tmpl-0011", "sm_90a", "nvrtc 13.0",
                   "--use_fast_math=false"};
}

std::vector<std::uint8_t> blob_of(std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + 3);
  return out;
}

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

/// Runs SQL on its own connection to `file` (as another program would), failing the test on error.
void sql(const fs::path& file, const std::string& text) {
  auto db = Db::open(file);
  ASSERT_TRUE(db.has_value()) << db.error().str();
  auto done = db->exec(text, "test SQL");
  ASSERT_TRUE(done.has_value()) << done.error().str();
}

std::int64_t count_rows(const fs::path& file, const std::string& query) {
  auto db = Db::open(file, SQLITE_OPEN_READONLY);
  if (!db) return -1;
  auto stmt = db->prepare(query);
  if (!stmt || !*stmt->step()) return -1;
  return stmt->column_int64(0);
}

class CacheCorruption : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cache = KernelCache::open(file_);
    ASSERT_TRUE(cache.has_value()) << cache.error().str();
    cache_ = std::move(*cache);
    cache_->set_corruption_reporter([this](const qk::Error& e) { reports_.push_back(e); });
    ASSERT_TRUE(cache_->store_binary(sample_key(), blob_of(256), 5).has_value());
  }

  /// Checks that find_binary misses, the record is gone, and exactly one report mentions `part`.
  void expect_evicted(const std::string& part) {
    auto found = cache_->find_binary(sample_key());
    ASSERT_TRUE(found.has_value()) << found.error().str();
    EXPECT_FALSE(found->has_value()) << "a damaged record must never be returned";
    EXPECT_EQ(cache_->stats().corrupt_evicted, 1);
    EXPECT_EQ(cache_->stats().misses, 1);
    EXPECT_EQ(cache_->stats().hits, 0);
    EXPECT_EQ(count_rows(file_, "SELECT count(*) FROM binaries"), 0) << "the record is deleted";
    ASSERT_EQ(reports_.size(), 1u);
    const qk::Error& report = reports_.front();
    EXPECT_EQ(report.where, sample_key().kernel);
    EXPECT_NE(report.message.find(file_.string()), std::string::npos) << report.str();
    EXPECT_NE(report.message.find(part), std::string::npos) << report.str();

    // Recovery is recompiling: the next store and find work as usual.
    ASSERT_TRUE(cache_->store_binary(sample_key(), blob_of(256), 5).has_value());
    auto again = cache_->find_binary(sample_key());
    ASSERT_TRUE(again && again->has_value());
    EXPECT_EQ((*again)->blob, blob_of(256));
    EXPECT_EQ(reports_.size(), 1u);
  }

  TempDir dir_;
  fs::path file_ = dir_.path() / "kernels.db";
  std::unique_ptr<KernelCache> cache_;
  std::vector<qk::Error> reports_;
};

TEST_F(CacheCorruption, FlippedBlobByteIsEvictedAndReported) {
  // One byte flipped, size unchanged: only the checksum can tell.
  std::vector<std::uint8_t> damaged = blob_of(256);
  damaged[100] ^= 0x01;
  auto db = Db::open(file_);
  ASSERT_TRUE(db.has_value());
  auto update = db->prepare("UPDATE binaries SET blob = ?1");
  ASSERT_TRUE(update.has_value());
  ASSERT_TRUE(update->bind(1, std::span<const std::uint8_t>(damaged)).has_value());
  ASSERT_TRUE(update->run().has_value());
  ASSERT_EQ(sqlite3_changes(db->get()), 1);
  expect_evicted("checksum");
}

TEST_F(CacheCorruption, TruncatedBlobIsEvicted) {
  sql(file_, "UPDATE binaries SET blob = substr(blob, 1, 100)");
  expect_evicted("100 bytes");
}

TEST_F(CacheCorruption, StoredKeyDifferingFromTheRequestIsEvictedAsACollision) {
  // The row keeps sample_key()'s key hash but now names another target: what a hash collision
  // (or a damaged key column) looks like. Returning it would run a kernel built for sm_80.
  sql(file_, "UPDATE binaries SET target = 'sm_80'");
  expect_evicted("target: 'sm_80' vs 'sm_90a'");
}

TEST_F(CacheCorruption, DefaultReporterWritesTheKernelToStderr) {
  auto cache = KernelCache::open(file_);  // a second object, with the default reporter
  ASSERT_TRUE(cache.has_value());
  sql(file_, "UPDATE binaries SET checksum = '00000000000000000000000000000000'");
  ::testing::internal::CaptureStderr();
  auto found = (*cache)->find_binary(sample_key());
  const std::string err = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
  EXPECT_NE(err.find(sample_key().kernel), std::string::npos) << err;
  EXPECT_EQ((*cache)->stats().corrupt_evicted, 1);
}

TEST(CacheCorruptFile, GarbageFileIsRefusedNamingItAndKept) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not an SQLite database, it is user data. ";
  std::ofstream(file, std::ios::binary) << garbage;

  auto cache = KernelCache::open(file);
  ASSERT_FALSE(cache.has_value());
  EXPECT_EQ(cache.error().code, qk::Errc::io_error);
  EXPECT_EQ(cache.error().where, file.string());
  EXPECT_NE(cache.error().message.find("not a database"), std::string::npos) << cache.error().str();
  EXPECT_EQ(read_file(file), garbage) << "the user's file must be left as it was";
}

TEST(CacheCorruptFile, ForeignSqliteDatabaseIsRefusedAndKept) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  sql(file,
      "PRAGMA journal_mode = DELETE; CREATE TABLE users (name TEXT); "
      "INSERT INTO users VALUES ('ada')");
  const std::string before = read_file(file);

  auto cache = KernelCache::open(file);
  ASSERT_FALSE(cache.has_value());
  EXPECT_EQ(cache.error().where, file.string());
  EXPECT_NE(cache.error().message.find("not a qk cache"), std::string::npos) << cache.error().str();
  EXPECT_EQ(read_file(file), before);
}

TEST(CacheCorruptFile, NewerSchemaIsRefusedWithoutTouchingTheFile) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  // A rollback-journal file: had open() switched it to WAL, its header would have changed.
  sql(file,
      "PRAGMA journal_mode = DELETE;"
      "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
      "INSERT INTO meta VALUES ('schema_version', '999'), ('created_by', '9.9.9');"
      "CREATE TABLE binaries_v999 (x);");
  const std::string before = read_file(file);

  auto cache = KernelCache::open(file);
  ASSERT_FALSE(cache.has_value());
  EXPECT_EQ(cache.error().code, qk::Errc::unsupported);
  EXPECT_EQ(cache.error().where, file.string());
  const std::string& message = cache.error().message;
  EXPECT_NE(message.find("999"), std::string::npos) << message;
  EXPECT_NE(message.find("newer"), std::string::npos) << message;
  EXPECT_NE(message.find("9.9.9"), std::string::npos) << message;
  EXPECT_EQ(read_file(file), before);
}

TEST(CacheCorruptFile, UnreadableSchemaVersionIsRefused) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  sql(file,
      "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);"
      "INSERT INTO meta VALUES ('schema_version', 'two');");
  auto cache = KernelCache::open(file);
  ASSERT_FALSE(cache.has_value());
  EXPECT_EQ(cache.error().code, qk::Errc::io_error);
  EXPECT_NE(cache.error().message.find("'two'"), std::string::npos) << cache.error().str();
}

}  // namespace
