// The cache file's schema: its version, the migrations that build it from an empty file, and the
// routine that applies them (docs/cache.md, "Schema" and "Migrations").
//
// A file's version lives in `meta` (key 'schema_version'). Version 0 is a database with no tables
// at all. migrations()[i] takes a file from version i to i + 1; each step runs in its own write
// transaction together with the version bump, so a file is always at some whole version. A file
// whose version is newer than this build knows is refused, never touched.
#pragma once

#include <span>
#include <string_view>

#include "cache/sqlite_handle.hpp"
#include "qk/error.hpp"

namespace qk::cache {

/// The schema version this build writes and reads: migrations().size().
inline constexpr int kSchemaVersion = 3;

/// One step of the schema's history.
struct Migration {
  int to_version = 0;            ///< the version the file has after this step
  std::string_view description;  ///< one line, for errors and docs/cache.md
  std::string_view sql;          ///< statements run in the step's transaction
};

/// qk's migrations, oldest first. Never edit a released step: append a new one.
std::span<const Migration> migrations();

/// The version of the open database: 0 when it has no tables, else meta.schema_version.
/// Errors: a database that has tables but no `meta` table (not a qk cache), a meta table without
/// a schema_version or with one that is not a positive integer, any SQLite failure (a file that
/// is not a database fails here).
Expected<int> schema_version(Db& db);

/// The error for a file of schema `found` when this build knows versions up to `known`
/// (Errc::unsupported, `where` = the file): such a file is refused, never modified.
Error newer_schema_error(Db& db, int found, int known);

/// Brings `db` to version steps.size() by applying the steps it lacks, in order, each with the
/// version bump in one write transaction (BEGIN IMMEDIATE: two processes opening one fresh file
/// apply each step once). Version 0 also gets the `meta` table and meta.created_by = qk_version;
/// every step sets meta.migrated_by = qk_version.
/// @pre steps[i].to_version == i + 1 (checked: Errc::invalid_argument otherwise)
/// @post on success the file is at version steps.size(); on failure at the last version whose
/// step succeeded, with nothing of the failed step left behind.
/// Errors: newer_schema_error for a file newer than steps.size(); schema_version's errors; the
/// failing step's SQLite error, naming the step.
Expected<int> migrate(Db& db, std::span<const Migration> steps, std::string_view qk_version);

}  // namespace qk::cache
