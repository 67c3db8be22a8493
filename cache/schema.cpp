#include "cache/schema.hpp"

#include <charconv>
#include <ctime>
#include <string>

#include <fmt/format.h>

namespace qk::cache {

namespace {

// Version 1: the binaries and their provenance, and the (still empty) tuning tables. Columns are
// documented in docs/cache.md.
constexpr std::string_view kV1 = R"sql(
CREATE TABLE provenance (
  qk_version        TEXT NOT NULL,
  compiler          TEXT NOT NULL,
  template_revision TEXT NOT NULL,
  first_seen_unix   INTEGER NOT NULL,
  PRIMARY KEY (qk_version, compiler, template_revision)
);
CREATE TABLE binaries (
  key_hash          TEXT PRIMARY KEY NOT NULL,
  kernel            TEXT NOT NULL,
  spec_hash         TEXT NOT NULL,
  template_revision TEXT NOT NULL,
  target            TEXT NOT NULL,
  compiler          TEXT NOT NULL,
  flags             TEXT NOT NULL,
  blob              BLOB NOT NULL,
  checksum          TEXT NOT NULL,
  size              INTEGER NOT NULL,
  compile_ms        REAL NOT NULL,
  created_unix      INTEGER NOT NULL
);
CREATE INDEX binaries_by_kernel ON binaries (kernel);
CREATE TABLE workloads (
  workload_hash TEXT PRIMARY KEY NOT NULL,
  spec_json     TEXT NOT NULL,
  n             INTEGER NOT NULL,
  k             INTEGER NOT NULL,
  created_unix  INTEGER NOT NULL
);
CREATE TABLE timings (
  id                 INTEGER PRIMARY KEY,
  workload_hash      TEXT NOT NULL REFERENCES workloads (workload_hash),
  bucket             INTEGER NOT NULL,
  config_name        TEXT NOT NULL,
  device_fingerprint TEXT NOT NULL,
  median_ns          REAL,
  spread_ns          REAL,
  repeats            INTEGER NOT NULL,
  status             TEXT NOT NULL,
  reason             TEXT NOT NULL DEFAULT '',
  measured_unix      INTEGER NOT NULL
);
CREATE INDEX timings_by_workload ON timings (workload_hash, bucket, device_fingerprint);
CREATE TABLE winners (
  workload_hash      TEXT NOT NULL REFERENCES workloads (workload_hash),
  bucket             INTEGER NOT NULL,
  device_fingerprint TEXT NOT NULL,
  config_name        TEXT NOT NULL,
  median_ns          REAL NOT NULL,
  decided_unix       INTEGER NOT NULL,
  PRIMARY KEY (workload_hash, bucket, device_fingerprint)
);
)sql";

// Version 2: the autotuner's records carry the code they measured (a template revision differing
// from this qk's makes a record stale, never used) and how they were taken; winners carry the
// heuristic default they were compared with and a checksum of their fields (docs/cache.md).
constexpr std::string_view kV2 = R"sql(
ALTER TABLE timings ADD COLUMN template_revision TEXT NOT NULL DEFAULT '';
ALTER TABLE timings ADD COLUMN fidelity TEXT NOT NULL DEFAULT 'full';
ALTER TABLE winners ADD COLUMN template_revision TEXT NOT NULL DEFAULT '';
ALTER TABLE winners ADD COLUMN spread_ns REAL NOT NULL DEFAULT 0;
ALTER TABLE winners ADD COLUMN default_config TEXT NOT NULL DEFAULT '';
ALTER TABLE winners ADD COLUMN default_median_ns REAL NOT NULL DEFAULT 0;
ALTER TABLE winners ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
CREATE INDEX timings_by_config ON timings (workload_hash, bucket, device_fingerprint, config_name);
)sql";

// Version 3: a binary carries what its consumer needs besides the bytes and the operator wants to
// see without loading it: for a cubin, its lowered kernel name and ptxas' resource report. Opaque
// text to the cache (its producer defines and parses it), covered by the row's checksum.
constexpr std::string_view kV3 = R"sql(
ALTER TABLE binaries ADD COLUMN attributes TEXT NOT NULL DEFAULT '';
)sql";

constexpr Migration kMigrations[] = {
    {1, "binaries, provenance and the tuning tables (workloads, timings, winners)", kV1},
    {2, "tuning records carry their template revision, fidelity, default and checksum", kV2},
    {3, "binaries carry attributes (a cubin's kernel name and resources)", kV3},
};
static_assert(std::size(kMigrations) == kSchemaVersion,
              "kSchemaVersion must be the number of migrations: append a step, bump the version.");

/// meta's shape never changes: it is how every version finds out its version.
constexpr std::string_view kMetaDdl =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)";

Expected<void> set_meta(Db& db, std::string_view key, std::string_view value, bool replace) {
  Expected<Stmt> stmt =
      db.prepare(replace ? "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
                         : "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)");
  if (!stmt) return stmt.error();
  if (auto r = stmt->bind(1, key); !r) return r;
  if (auto r = stmt->bind(2, value); !r) return r;
  return stmt->run();
}

/// meta.<key>, or empty when the row (or the table) is missing.
std::string meta_or_empty(Db& db, std::string_view key) {
  Expected<Stmt> stmt = db.prepare("SELECT value FROM meta WHERE key = ?");
  if (!stmt || !stmt->bind(1, key)) return {};
  Expected<bool> row = stmt->step();
  return row && *row ? stmt->column_text(0) : std::string();
}

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

Expected<int> schema_version(Db& db) {
  Expected<Stmt> tables = db.prepare(
      "SELECT count(*), count(CASE WHEN name = 'meta' THEN 1 END) FROM sqlite_master "
      "WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
      "reading the schema version");
  if (!tables) return tables.error();
  Expected<bool> row = tables->step();
  if (!row) return row.error();
  const std::int64_t table_count = tables->column_int64(0);
  const bool has_meta = tables->column_int64(1) > 0;
  tables->reset();
  if (table_count == 0) return 0;
  if (!has_meta) {
    return Error{Errc::io_error, db.path(),
                 fmt::format("is an SQLite database but not a qk cache (it has {} table(s) and no "
                             "'meta' table); refusing to modify it: point QK_CACHE at another file",
                             table_count)};
  }

  Expected<Stmt> stmt = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  if (!stmt) return stmt.error();
  row = stmt->step();
  if (!row) return row.error();
  if (!*row) {
    return Error{Errc::io_error, db.path(),
                 "the 'meta' table has no schema_version row; the file is damaged or not a qk "
                 "cache"};
  }
  const std::string text = stmt->column_text(0);
  int version = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), version);
  if (ec != std::errc() || end != text.data() + text.size() || version < 1) {
    return Error{Errc::io_error, db.path(),
                 fmt::format("meta.schema_version is '{}', not a positive integer; the file is "
                             "damaged or not a qk cache",
                             text)};
  }
  return version;
}

Error newer_schema_error(Db& db, int found, int known) {
  std::string writer = meta_or_empty(db, "migrated_by");
  if (writer.empty()) writer = meta_or_empty(db, "created_by");
  return Error{Errc::unsupported, db.path(),
               fmt::format("has cache schema version {}{}, newer than the newest this qk knows "
                           "({}); refusing to read or modify it: use a newer qk, or point "
                           "QK_CACHE at another file",
                           found, writer.empty() ? "" : " (written by qk " + writer + ")", known)};
}

Expected<int> migrate(Db& db, std::span<const Migration> steps, std::string_view qk_version) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].to_version != static_cast<int>(i) + 1) {
      return Error{Errc::invalid_argument, fmt::format("migrations[{}]", i),
                   fmt::format("to_version is {}, expected {}: steps must be numbered 1, 2, … "
                               "in order",
                               steps[i].to_version, i + 1)};
    }
  }
  const int target = static_cast<int>(steps.size());
  for (;;) {
    int reached = -1;
    Expected<void> step = retry_busy(kBusyTimeout, [&]() -> Expected<void> {
      return db.transaction([&]() -> Expected<void> {
        // Read inside the write transaction: another process may have migrated meanwhile.
        Expected<int> version = schema_version(db);
        if (!version) return version.error();
        if (*version > target) return newer_schema_error(db, *version, target);
        if (*version == target) {
          reached = target;
          return {};
        }
        const Migration& m = steps[static_cast<std::size_t>(*version)];
        if (*version == 0) {
          if (auto r = db.exec(kMetaDdl, "creating the meta table"); !r) return r;
          if (auto r = set_meta(db, "created_by", qk_version, false); !r) return r;
          if (auto r = set_meta(db, "created_unix", std::to_string(std::time(nullptr)), false);
              !r) {
            return r;
          }
        }
        const std::string what = fmt::format(
            "migrating the cache schema from version {} to {} "
            "({})",
            *version, m.to_version, m.description);
        if (auto r = db.exec(m.sql, what); !r) return r;
        if (auto r = set_meta(db, "schema_version", std::to_string(m.to_version), true); !r) {
          return r;
        }
        if (auto r = set_meta(db, "migrated_by", qk_version, true); !r) return r;
        reached = m.to_version;
        return {};
      });
    });
    if (!step) return step.error();
    if (reached == target) return target;
  }
}

}  // namespace qk::cache
