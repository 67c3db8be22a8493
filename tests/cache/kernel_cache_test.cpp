// Tests of KernelCache's storing and finding (keys, stats, listing, provenance), its persistence
// across objects and processes, and default_path() (the QK_CACHE knob).
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

namespace fs = std::filesystem;
using qk::cache::BinaryKey;
using qk::cache::KernelCache;

/// A fresh folder per test, removed afterwards.
using qk::test::TempDir;

BinaryKey sample_key(int i = 0) {
  return BinaryKey{"qk_w8a8_cpu_mr6_nr64_kc512_" + std::to_string(i),
                   "spec" + std::to_string(i),
                   "tmpl-a1b2",
                   "cpu=sapphirerapids;+avx512bw,+avx512vnni",
                   "clang 19.1.7",
                   "-O3 -mavx512vnni"};
}

std::vector<std::uint8_t> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> out(n);
  for (auto& b : out) b = static_cast<std::uint8_t>(rng());
  return out;
}

std::unique_ptr<KernelCache> open_ok(const fs::path& file, std::string_view version = {}) {
  auto cache = KernelCache::open(file, version);
  if (!cache) ADD_FAILURE() << cache.error().str();
  return cache ? std::move(*cache) : nullptr;
}

/// Runs `body` in a forked child (which must open its own connections) and returns its exit code.
int run_in_child(const std::function<int()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = fork();
  if (pid == 0) {
    int code = 100;
    try {
      code = body();
    } catch (...) {
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class CacheStore : public ::testing::Test {
 protected:
  void SetUp() override {
    cache_ = open_ok(dir_.path() / "kernels.db");
    ASSERT_NE(cache_, nullptr);
  }
  TempDir dir_;
  std::unique_ptr<KernelCache> cache_;
};

TEST_F(CacheStore, StoreThenFindReturnsTheSameBytes) {
  const auto blob = random_bytes(4099, 1);
  const std::int64_t before = std::time(nullptr);
  ASSERT_TRUE(cache_->store_binary(sample_key(), blob, 12.5).has_value());
  const std::int64_t after = std::time(nullptr);

  auto found = cache_->find_binary(sample_key());
  ASSERT_TRUE(found.has_value()) << found.error().str();
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->blob, blob);
  EXPECT_EQ((*found)->kernel, sample_key().kernel);
  EXPECT_DOUBLE_EQ((*found)->compile_ms, 12.5);
  EXPECT_GE((*found)->created_unix, before);
  EXPECT_LE((*found)->created_unix, after);
}

TEST_F(CacheStore, AttributesRoundTripAndTheirDamageIsAMiss) {
  const auto blob = random_bytes(100, 7);
  ASSERT_TRUE(cache_->store_binary(sample_key(), blob, 1, "lowered=_Z1kv;registers=122"));
  auto found = cache_->find_binary(sample_key());
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->attributes, "lowered=_Z1kv;registers=122");
  auto listed = cache_->list_binaries();
  ASSERT_TRUE(listed.has_value());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().attributes, "lowered=_Z1kv;registers=122");

  // The checksum covers the attributes: a changed one (the blob intact) is evicted as corrupt.
  auto db = qk::cache::Db::open(dir_.path() / "kernels.db");
  ASSERT_TRUE(db.has_value());
  ASSERT_TRUE(db->exec("UPDATE binaries SET attributes = 'lowered=_Z1kv;registers=12'",
                       "damaging the attributes"));
  cache_->set_corruption_reporter({});
  found = cache_->find_binary(sample_key());
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(cache_->stats().corrupt_evicted, 1);
}

TEST_F(CacheStore, EachKeyFieldChangedAloneIsAMiss) {
  ASSERT_TRUE(cache_->store_binary(sample_key(), random_bytes(64, 2), 1).has_value());
  const std::pair<const char*, std::string BinaryKey::*> fields[] = {
      {"kernel", &BinaryKey::kernel},
      {"spec_hash", &BinaryKey::spec_hash},
      {"template_revision", &BinaryKey::template_revision},
      {"target", &BinaryKey::target},
      {"compiler", &BinaryKey::compiler},
      {"flags", &BinaryKey::flags}};
  for (const auto& [name, field] : fields) {
    BinaryKey key = sample_key();
    key.*field += "'";
    auto found = cache_->find_binary(key);
    ASSERT_TRUE(found.has_value()) << found.error().str();
    EXPECT_FALSE(found->has_value()) << "changing only " << name << " must miss";
  }
  // Empty flags are a value of their own too.
  BinaryKey no_flags = sample_key();
  no_flags.flags.clear();
  EXPECT_FALSE(cache_->find_binary(no_flags)->has_value());
  EXPECT_TRUE(cache_->find_binary(sample_key())->has_value());
  EXPECT_EQ(cache_->stats().misses, 7);
  EXPECT_EQ(cache_->stats().hits, 1);
  EXPECT_EQ(cache_->stats().corrupt_evicted, 0);
}

TEST_F(CacheStore, StatsCountHitsMissesAndStores) {
  EXPECT_FALSE(cache_->find_binary(sample_key(1))->has_value());
  ASSERT_TRUE(cache_->store_binary(sample_key(1), random_bytes(10, 3), 1).has_value());
  ASSERT_TRUE(cache_->store_binary(sample_key(2), random_bytes(10, 4), 1).has_value());
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(cache_->find_binary(sample_key(1))->has_value());
  EXPECT_TRUE(cache_->find_binary(sample_key(2))->has_value());
  EXPECT_FALSE(cache_->find_binary(sample_key(3))->has_value());
  const qk::cache::CacheStats stats = cache_->stats();
  EXPECT_EQ(stats.hits, 4);
  EXPECT_EQ(stats.misses, 2);
  EXPECT_EQ(stats.stores, 2);
  EXPECT_EQ(stats.corrupt_evicted, 0);
}

TEST_F(CacheStore, StoringAgainReplacesTheBinary) {
  ASSERT_TRUE(cache_->store_binary(sample_key(), random_bytes(100, 5), 1).has_value());
  const auto second = random_bytes(50, 6);
  ASSERT_TRUE(cache_->store_binary(sample_key(), second, 2).has_value());
  auto found = cache_->find_binary(sample_key());
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->blob, second);
  EXPECT_DOUBLE_EQ((*found)->compile_ms, 2);
  EXPECT_EQ(cache_->list_binaries()->size(), 1u);
}

TEST_F(CacheStore, EmptyBlobRoundTrips) {
  ASSERT_TRUE(cache_->store_binary(sample_key(), {}, 0).has_value());
  auto found = cache_->find_binary(sample_key());
  ASSERT_TRUE(found.has_value()) << found.error().str();
  ASSERT_TRUE(found->has_value());
  EXPECT_TRUE((*found)->blob.empty());
  EXPECT_EQ(cache_->stats().corrupt_evicted, 0);
}

TEST_F(CacheStore, ListBinariesGivesEveryRecordsMetadata) {
  ASSERT_TRUE(cache_->store_binary(sample_key(2), random_bytes(20, 7), 3).has_value());
  ASSERT_TRUE(cache_->store_binary(sample_key(1), random_bytes(10, 8), 4).has_value());
  auto list = cache_->list_binaries();
  ASSERT_TRUE(list.has_value()) << list.error().str();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].key, sample_key(1));  // ordered by kernel
  EXPECT_EQ((*list)[0].size, 10);
  EXPECT_DOUBLE_EQ((*list)[0].compile_ms, 4);
  EXPECT_EQ((*list)[0].key_hash, qk::cache::key_hash(sample_key(1)));
  EXPECT_EQ((*list)[1].key, sample_key(2));
  EXPECT_EQ((*list)[1].size, 20);
  EXPECT_GT((*list)[1].created_unix, 0);
}

TEST_F(CacheStore, InvalidKeysAndTimesAreRejectedNamingTheField) {
  BinaryKey key = sample_key();
  key.compiler.clear();
  auto stored = cache_->store_binary(key, random_bytes(4, 9), 1);
  ASSERT_FALSE(stored.has_value());
  EXPECT_EQ(stored.error().code, qk::Errc::invalid_argument);
  EXPECT_EQ(stored.error().where, "BinaryKey.compiler");
  auto found = cache_->find_binary(key);
  ASSERT_FALSE(found.has_value());
  EXPECT_EQ(found.error().where, "BinaryKey.compiler");

  auto negative = cache_->store_binary(sample_key(), random_bytes(4, 9), -1);
  ASSERT_FALSE(negative.has_value());
  EXPECT_EQ(negative.error().where, "compile_ms");
  EXPECT_EQ(cache_->stats().stores, 0);
  EXPECT_TRUE(cache_->list_binaries()->empty());
}

TEST(CacheProvenance, OneRowPerDistinctVersionCompilerAndTemplate) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  {
    auto cache = open_ok(file, "1.0.0");
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->store_binary(sample_key(1), random_bytes(4, 1), 1).has_value());
    ASSERT_TRUE(cache->store_binary(sample_key(2), random_bytes(4, 2), 1).has_value());
    BinaryKey other = sample_key(3);
    other.compiler = "clang 18.1.8";
    ASSERT_TRUE(cache->store_binary(other, random_bytes(4, 3), 1).has_value());
  }
  {
    auto cache = open_ok(file, "1.1.0");
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->store_binary(sample_key(4), random_bytes(4, 4), 1).has_value());
  }
  auto db = qk::cache::Db::open(file, SQLITE_OPEN_READONLY);
  ASSERT_TRUE(db.has_value()) << db.error().str();
  auto stmt =
      db->prepare("SELECT qk_version, compiler, template_revision FROM provenance ORDER BY 1, 2");
  ASSERT_TRUE(stmt.has_value());
  std::vector<std::string> rows;
  while (*stmt->step()) {
    rows.push_back(stmt->column_text(0) + "|" + stmt->column_text(1) + "|" + stmt->column_text(2));
  }
  EXPECT_EQ(rows, (std::vector<std::string>{"1.0.0|clang 18.1.8|tmpl-a1b2",
                                            "1.0.0|clang 19.1.7|tmpl-a1b2",
                                            "1.1.0|clang 19.1.7|tmpl-a1b2"}));
}

TEST(CachePersistence, SurvivesCloseAndReopen) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  const auto blob = random_bytes(1000, 11);
  {
    auto cache = open_ok(file);
    ASSERT_NE(cache, nullptr);
    ASSERT_TRUE(cache->store_binary(sample_key(), blob, 3).has_value());
  }
  auto cache = open_ok(file);
  ASSERT_NE(cache, nullptr);
  auto found = cache->find_binary(sample_key());
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->blob, blob);
  EXPECT_EQ(cache->stats().hits, 1);
  EXPECT_EQ(cache->stats().stores, 0) << "stats belong to the object, not the file";
}

TEST(CachePersistence, CreatesMissingFoldersAndReportsItsPath) {
  TempDir dir;
  const fs::path file = dir.path() / "a" / "b" / "kernels.db";
  auto cache = open_ok(file);
  ASSERT_NE(cache, nullptr);
  EXPECT_EQ(cache->path(), file);
  EXPECT_TRUE(fs::exists(file));
}

TEST(CachePersistence, UncreatableFolderIsAnErrorNamingIt) {
  TempDir dir;
  const fs::path blocker = dir.path() / "file";
  std::FILE* f = std::fopen(blocker.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto cache = KernelCache::open(blocker / "sub" / "kernels.db");
  ASSERT_FALSE(cache.has_value());
  EXPECT_EQ(cache.error().code, qk::Errc::io_error);
  EXPECT_NE(cache.error().where.find(blocker.string()), std::string::npos) << cache.error().str();
}

TEST(CachePersistence, AnotherProcessStoresAndThisOneFinds) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  const auto blob = random_bytes(777, 12);
  // No connection is open in this process across fork(): SQLite forbids sharing one.
  const int code = run_in_child([&] {
    auto cache = KernelCache::open(file);
    if (!cache) return 1;
    return (*cache)->store_binary(sample_key(), blob, 9).has_value() ? 0 : 2;
  });
  ASSERT_EQ(code, 0);
  auto cache = open_ok(file);
  ASSERT_NE(cache, nullptr);
  auto found = cache->find_binary(sample_key());
  ASSERT_TRUE(found && found->has_value());
  EXPECT_EQ((*found)->blob, blob);
  EXPECT_DOUBLE_EQ((*found)->compile_ms, 9);
}

/// Sets or unsets environment variables for one test and restores them afterwards.
class EnvGuard {
 public:
  EnvGuard() {
    for (const char* name : kNames) {
      const char* value = std::getenv(name);
      saved_.push_back(value == nullptr ? std::nullopt : std::optional<std::string>(value));
      unsetenv(name);
    }
  }
  ~EnvGuard() {
    for (std::size_t i = 0; i < saved_.size(); ++i) {
      if (saved_[i]) {
        setenv(kNames[i], saved_[i]->c_str(), 1);
      } else {
        unsetenv(kNames[i]);
      }
    }
  }
  static constexpr const char* kNames[] = {"QK_CACHE", "XDG_CACHE_HOME", "HOME"};

 private:
  std::vector<std::optional<std::string>> saved_;
};

TEST(CacheDefaultPath, QkCacheWins) {
  EnvGuard env;
  setenv("QK_CACHE", "/srv/qk/shipped.db", 1);
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(KernelCache::default_path(), fs::path("/srv/qk/shipped.db"));
}

TEST(CacheDefaultPath, XdgCacheHomeComesNext) {
  EnvGuard env;
  setenv("XDG_CACHE_HOME", "/xdg", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(KernelCache::default_path(), fs::path("/xdg/qk/kernels.db"));
}

TEST(CacheDefaultPath, HomeComesLast) {
  EnvGuard env;
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(KernelCache::default_path(), fs::path("/home/u/.cache/qk/kernels.db"));
}

TEST(CacheDefaultPath, EmptyValuesAndARelativeXdgCacheHomeAreIgnored) {
  EnvGuard env;
  setenv("QK_CACHE", "", 1);
  setenv("XDG_CACHE_HOME", "relative/cache", 1);
  setenv("HOME", "/home/u", 1);
  EXPECT_EQ(KernelCache::default_path(), fs::path("/home/u/.cache/qk/kernels.db"));
}

TEST(CacheDefaultPath, WithoutAnyVariableStillGivesAnAbsolutePath) {
  EnvGuard env;
  const fs::path path = KernelCache::default_path();
  EXPECT_TRUE(path.is_absolute()) << path;
  EXPECT_EQ(path.filename(), "kernels.db");
}

}  // namespace
