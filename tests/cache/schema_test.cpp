// Tests of the cache schema (cache/schema.hpp, docs/cache.md): the tables and columns a fresh file
// gets, the migration routine (order, one transaction per step, refusal of newer files), and a
// hand-written version-1 file, which every later version must keep opening with its data.
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <stdlib.h>

#include "../common/temp_dir.hpp"
#include "cache/kernel_cache.hpp"
#include "cache/schema.hpp"
#include "cache/sqlite_handle.hpp"

namespace {

namespace fs = std::filesystem;
using qk::cache::Db;
using qk::cache::KernelCache;
using qk::cache::Migration;

using qk::test::TempDir;

/// The first column of every row of `query`, as text.
std::vector<std::string> column(Db& db, const std::string& query) {
  std::vector<std::string> out;
  auto stmt = db.prepare(query);
  if (!stmt) {
    ADD_FAILURE() << stmt.error().str();
    return out;
  }
  for (;;) {
    auto row = stmt->step();
    if (!row) {
      ADD_FAILURE() << row.error().str();
      return out;
    }
    if (!*row) return out;
    out.push_back(stmt->column_text(0));
  }
}

std::string meta(Db& db, const std::string& key) {
  auto values = column(db, "SELECT value FROM meta WHERE key = '" + key + "'");
  return values.empty() ? "<missing>" : values.front();
}

Db open_db(const fs::path& file) {
  auto db = Db::open(file);
  if (!db) throw std::runtime_error(db.error().str());
  return std::move(*db);
}

TEST(CacheSchema, MigrationsAreNumberedFromOneToTheCurrentVersion) {
  const auto steps = qk::cache::migrations();
  ASSERT_EQ(static_cast<int>(steps.size()), qk::cache::kSchemaVersion);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].to_version, static_cast<int>(i) + 1);
    EXPECT_FALSE(steps[i].description.empty());
  }
}

TEST(CacheSchema, FreshFileGetsTheCurrentVersionAndWal) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  {
    auto cache = KernelCache::open(file, "1.2.3");
    ASSERT_TRUE(cache.has_value()) << cache.error().str();
  }
  Db db = open_db(file);
  EXPECT_EQ(meta(db, "schema_version"), std::to_string(qk::cache::kSchemaVersion));
  EXPECT_EQ(meta(db, "created_by"), "1.2.3");
  EXPECT_EQ(meta(db, "migrated_by"), "1.2.3");
  EXPECT_NE(meta(db, "created_unix"), "<missing>");
  EXPECT_EQ(column(db, "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
  EXPECT_EQ(*qk::cache::schema_version(db), qk::cache::kSchemaVersion);
}

TEST(CacheSchema, DefaultVersionRecordedIsTheLibrarys) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  ASSERT_TRUE(KernelCache::open(file).has_value());
  Db db = open_db(file);
  EXPECT_EQ(meta(db, "created_by"), std::string(qk::cache::library_version()));
  EXPECT_FALSE(qk::cache::library_version().empty());
}

TEST(CacheSchema, TablesHaveTheDocumentedColumns) {
  // Golden: the stored format, as docs/cache.md lists it.
  const std::map<std::string, std::vector<std::string>> expected = {
      {"meta", {"key", "value"}},
      {"provenance", {"qk_version", "compiler", "template_revision", "first_seen_unix"}},
      {"binaries",
       {"key_hash", "kernel", "spec_hash", "template_revision", "target", "compiler", "flags",
        "blob", "checksum", "size", "compile_ms", "created_unix", "attributes"}},
      {"workloads", {"workload_hash", "spec_json", "n", "k", "created_unix"}},
      {"timings",
       {"id", "workload_hash", "bucket", "config_name", "device_fingerprint", "median_ns",
        "spread_ns", "repeats", "status", "reason", "measured_unix", "template_revision",
        "fidelity"}},
      {"winners",
       {"workload_hash", "bucket", "device_fingerprint", "config_name", "median_ns", "decided_unix",
        "template_revision", "spread_ns", "default_config", "default_median_ns", "checksum"}},
  };
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  ASSERT_TRUE(KernelCache::open(file).has_value());
  Db db = open_db(file);
  std::map<std::string, std::vector<std::string>> actual;
  for (const std::string& table :
       column(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) {
    actual[table] = column(db, "SELECT name FROM pragma_table_info('" + table + "')");
  }
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(column(db, "SELECT count(*) FROM workloads"), std::vector<std::string>{"0"});
}

// ---- the migration routine, with step lists made for the test ------------------------------

constexpr Migration kSteps[] = {
    {1, "items",
     "CREATE TABLE items (name TEXT NOT NULL); CREATE TABLE log (step INTEGER);"
     "INSERT INTO log VALUES (1);"},
    {2, "items.weight",
     "ALTER TABLE items ADD COLUMN weight REAL NOT NULL DEFAULT 1.5; INSERT INTO log VALUES (2);"},
    {3, "tags", "CREATE TABLE tags (tag TEXT); INSERT INTO log VALUES (3);"},
};

TEST(CacheMigration, StepsApplyInOrderFromZero) {
  TempDir dir;
  Db db = open_db(dir.path() / "m.db");
  EXPECT_EQ(*qk::cache::schema_version(db), 0);
  auto version = qk::cache::migrate(db, kSteps, "7.0.0");
  ASSERT_TRUE(version.has_value()) << version.error().str();
  EXPECT_EQ(*version, 3);
  EXPECT_EQ(*qk::cache::schema_version(db), 3);
  EXPECT_EQ(column(db, "SELECT step FROM log ORDER BY rowid"),
            (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(meta(db, "created_by"), "7.0.0");

  // Idempotent: a second run applies nothing.
  ASSERT_TRUE(qk::cache::migrate(db, kSteps, "7.0.0").has_value());
  EXPECT_EQ(column(db, "SELECT count(*) FROM log"), std::vector<std::string>{"3"});
}

TEST(CacheMigration, OlderFileIsMigratedAndKeepsItsData) {
  TempDir dir;
  Db db = open_db(dir.path() / "m.db");
  // A file written by a build that knew only version 1.
  ASSERT_TRUE(qk::cache::migrate(db, std::span(kSteps).first(1), "1.0.0").has_value());
  ASSERT_TRUE(db.exec("INSERT INTO items (name) VALUES ('a'), ('b')", "test").has_value());

  auto version = qk::cache::migrate(db, kSteps, "2.0.0");
  ASSERT_TRUE(version.has_value()) << version.error().str();
  EXPECT_EQ(*version, 3);
  EXPECT_EQ(column(db, "SELECT name || ':' || weight FROM items ORDER BY name"),
            (std::vector<std::string>{"a:1.5", "b:1.5"}));
  EXPECT_EQ(column(db, "SELECT step FROM log ORDER BY rowid"),
            (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(meta(db, "created_by"), "1.0.0");
  EXPECT_EQ(meta(db, "migrated_by"), "2.0.0");
}

TEST(CacheMigration, FailedStepIsRolledBackAndNamed) {
  const Migration broken[] = {
      kSteps[0],
      {2, "a broken step", "CREATE TABLE half_done (x); THIS IS NOT SQL;"},
  };
  TempDir dir;
  Db db = open_db(dir.path() / "m.db");
  auto version = qk::cache::migrate(db, broken, "1.0.0");
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, qk::Errc::io_error);
  EXPECT_NE(version.error().message.find("from version 1 to 2 (a broken step)"), std::string::npos)
      << version.error().str();
  EXPECT_EQ(*qk::cache::schema_version(db), 1) << "the file stays at its last whole version";
  EXPECT_TRUE(column(db, "SELECT name FROM sqlite_master WHERE name = 'half_done'").empty());
}

TEST(CacheMigration, StepsOutOfOrderAreRejected) {
  const Migration skipping[] = {kSteps[0], kSteps[2]};
  TempDir dir;
  Db db = open_db(dir.path() / "m.db");
  auto version = qk::cache::migrate(db, skipping, "1.0.0");
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, qk::Errc::invalid_argument);
  EXPECT_EQ(version.error().where, "migrations[1]");
  EXPECT_EQ(*qk::cache::schema_version(db), 0) << "nothing applied";
}

TEST(CacheMigration, NewerFileIsRefused) {
  TempDir dir;
  Db db = open_db(dir.path() / "m.db");
  ASSERT_TRUE(qk::cache::migrate(db, kSteps, "3.0.0").has_value());
  auto version = qk::cache::migrate(db, std::span(kSteps).first(2), "2.0.0");
  ASSERT_FALSE(version.has_value());
  EXPECT_EQ(version.error().code, qk::Errc::unsupported);
  EXPECT_NE(version.error().message.find("schema version 3"), std::string::npos)
      << version.error().str();
  EXPECT_EQ(meta(db, "migrated_by"), "3.0.0");
}

// ---- real files of earlier versions ---------------------------------------------------------

TEST(CacheMigration, ZeroByteFileIsInitialized) {
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  std::ofstream{file};
  auto cache = KernelCache::open(file);
  ASSERT_TRUE(cache.has_value()) << cache.error().str();
  Db db = open_db(file);
  EXPECT_EQ(*qk::cache::schema_version(db), qk::cache::kSchemaVersion);
}

TEST(CacheMigration, HandWrittenVersion1FileOpensWithItsData) {
  // Version 1's DDL as released, written here by hand (not taken from cache/schema.cpp): every
  // later qk must open such a file and keep its binaries.
  TempDir dir;
  const fs::path file = dir.path() / "kernels.db";
  {
    Db db = open_db(file);
    ASSERT_TRUE(db.exec(R"sql(
      PRAGMA journal_mode = DELETE;
      CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1'), ('created_by', '0.1.0');
      CREATE TABLE provenance (qk_version TEXT NOT NULL, compiler TEXT NOT NULL,
        template_revision TEXT NOT NULL, first_seen_unix INTEGER NOT NULL,
        PRIMARY KEY (qk_version, compiler, template_revision));
      CREATE TABLE binaries (key_hash TEXT PRIMARY KEY NOT NULL, kernel TEXT NOT NULL,
        spec_hash TEXT NOT NULL, template_revision TEXT NOT NULL, target TEXT NOT NULL,
        compiler TEXT NOT NULL, flags TEXT NOT NULL, blob BLOB NOT NULL, checksum TEXT NOT NULL,
        size INTEGER NOT NULL, compile_ms REAL NOT NULL, created_unix INTEGER NOT NULL);
      CREATE INDEX binaries_by_kernel ON binaries (kernel);
      CREATE TABLE workloads (workload_hash TEXT PRIMARY KEY NOT NULL, spec_json TEXT NOT NULL,
        n INTEGER NOT NULL, k INTEGER NOT NULL, created_unix INTEGER NOT NULL);
      CREATE TABLE timings (id INTEGER PRIMARY KEY,
        workload_hash TEXT NOT NULL REFERENCES workloads (workload_hash),
        bucket INTEGER NOT NULL, config_name TEXT NOT NULL, device_fingerprint TEXT NOT NULL,
        median_ns REAL, spread_ns REAL, repeats INTEGER NOT NULL, status TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '', measured_unix INTEGER NOT NULL);
      CREATE INDEX timings_by_workload ON timings (workload_hash, bucket, device_fingerprint);
      CREATE TABLE winners (workload_hash TEXT NOT NULL REFERENCES workloads (workload_hash),
        bucket INTEGER NOT NULL, device_fingerprint TEXT NOT NULL, config_name TEXT NOT NULL,
        median_ns REAL NOT NULL, decided_unix INTEGER NOT NULL,
        PRIMARY KEY (workload_hash, bucket, device_fingerprint));
      -- key_hash and checksum of the key and blob below (XXH3-128, see key_test.cpp).
      INSERT INTO binaries VALUES ('45a43e7b4fa19951848555baa19d16db',
        'qk_w8a8_cpu_mr6_nr64_kc512', 'spec0123', 'tmpl4567',
        'cpu=sapphirerapids;+avx512bw,+avx512vnni', 'clang 19.1.7', '-O3',
        X'616263', '06b05ab6733a618578af5f94892f3950', 3, 42.0, 1700000000);
    )sql",
                        "writing a version-1 file")
                    .has_value());
  }
  auto cache = KernelCache::open(file);
  ASSERT_TRUE(cache.has_value()) << cache.error().str();
  const qk::cache::BinaryKey key{"qk_w8a8_cpu_mr6_nr64_kc512",
                                 "spec0123",
                                 "tmpl4567",
                                 "cpu=sapphirerapids;+avx512bw,+avx512vnni",
                                 "clang 19.1.7",
                                 "-O3"};
  auto found = (*cache)->find_binary(key);
  ASSERT_TRUE(found.has_value()) << found.error().str();
  ASSERT_TRUE(found->has_value()) << "the version-1 record must survive opening";
  EXPECT_EQ((*found)->blob, (std::vector<std::uint8_t>{'a', 'b', 'c'}));
  EXPECT_DOUBLE_EQ((*found)->compile_ms, 42.0);
  EXPECT_EQ((*found)->created_unix, 1700000000);
  EXPECT_EQ((*found)->attributes, "") << "a binary from before version 3 has none";
  Db db = open_db(file);
  EXPECT_EQ(*qk::cache::schema_version(db), qk::cache::kSchemaVersion);
  EXPECT_EQ(meta(db, "created_by"), "0.1.0");
}

}  // namespace
