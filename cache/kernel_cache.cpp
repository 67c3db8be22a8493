#include "cache/kernel_cache.hpp"

#include <atomic>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "cache/schema.hpp"
#include "cache/sqlite_handle.hpp"

#ifndef QK_VERSION_STRING
#error "QK_VERSION_STRING must be defined by cache/CMakeLists.txt"
#endif

namespace qk::cache {

namespace {

// The six BinaryKey columns, in BinaryKey's order, starting at `first`.
BinaryKey read_key(const Stmt& row, int first) {
  return {row.column_text(first),     row.column_text(first + 1), row.column_text(first + 2),
          row.column_text(first + 3), row.column_text(first + 4), row.column_text(first + 5)};
}

constexpr std::string_view kSelectBinary =
    "SELECT kernel, spec_hash, template_revision, target, compiler, flags, blob, checksum, size, "
    "compile_ms, created_unix, attributes FROM binaries WHERE key_hash = ?1";
// Deletes the record that was read, not one another connection stored since under the same key.
constexpr std::string_view kDeleteBinary =
    "DELETE FROM binaries WHERE key_hash = ?1 AND checksum = ?2";
constexpr std::string_view kInsertBinary =
    "INSERT OR REPLACE INTO binaries (key_hash, kernel, spec_hash, template_revision, target, "
    "compiler, flags, blob, checksum, size, compile_ms, created_unix, attributes) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";
constexpr std::string_view kInsertProvenance =
    "INSERT OR IGNORE INTO provenance (qk_version, compiler, template_revision, first_seen_unix) "
    "VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kListBinaries =
    "SELECT key_hash, kernel, spec_hash, template_revision, target, compiler, flags, size, "
    "compile_ms, created_unix, attributes FROM binaries ORDER BY kernel, target, compiler, "
    "key_hash";

/// A binaries row as read, before it is trusted.
struct StoredRow {
  BinaryKey key;
  std::vector<std::uint8_t> blob;
  std::string attributes;
  std::string checksum;
  std::int64_t size = 0;
  double compile_ms = 0;
  std::int64_t created_unix = 0;
};

void report_to_stderr(const Error& error) {
  std::fprintf(stderr, "qk: cache: %s\n", error.str().c_str());
}

/// What is wrong with `row` as the record of `key`, or empty when it can be trusted.
std::string find_problem(const StoredRow& row, const BinaryKey& key) {
  if (row.key != key) {
    return fmt::format(
        "the stored record's key differs from the requested one ({}): a key-hash "
        "collision or a damaged row",
        describe_difference(row.key, key));
  }
  if (row.size != static_cast<std::int64_t>(row.blob.size())) {
    return fmt::format("its blob has {} bytes but the stored size is {}", row.blob.size(),
                       row.size);
  }
  const std::string actual = binary_checksum(row.blob, row.attributes);
  if (actual != row.checksum) {
    return fmt::format("its blob's (and attributes') checksum is {} but the stored checksum is {}",
                       actual, row.checksum);
  }
  return {};
}

}  // namespace

std::string_view library_version() {
  return QK_VERSION_STRING;
}

struct KernelCache::Impl {
  std::filesystem::path path;
  std::string qk_version;
  Db db;  // declared before the statements: they are finalized first
  Stmt select_binary;
  Stmt delete_binary;
  Stmt insert_binary;
  Stmt insert_provenance;
  Stmt list_binaries;

  mutable std::mutex mutex;  ///< guards db, the statements and reporter
  CorruptionReporter reporter = report_to_stderr;
  std::atomic<std::int64_t> hits{0};
  std::atomic<std::int64_t> misses{0};
  std::atomic<std::int64_t> stores{0};
  std::atomic<std::int64_t> corrupt_evicted{0};

  Impl(std::filesystem::path p, std::string version, Db d)
      : path(std::move(p)), qk_version(std::move(version)), db(std::move(d)) {}

  /// @pre mutex held
  Expected<std::optional<StoredRow>> read(const std::string& hash) {
    ResetOnExit reset(select_binary);
    if (auto r = select_binary.bind(1, hash); !r) return r.error();
    Expected<bool> row = select_binary.step();
    if (!row) return row.error();
    if (!*row) return std::optional<StoredRow>();
    StoredRow out;
    out.key = read_key(select_binary, 0);
    out.blob = select_binary.column_blob(6);
    out.checksum = select_binary.column_text(7);
    out.size = select_binary.column_int64(8);
    out.compile_ms = select_binary.column_double(9);
    out.created_unix = select_binary.column_int64(10);
    out.attributes = select_binary.column_text(11);
    return std::optional<StoredRow>(std::move(out));
  }

  /// @pre mutex held
  Expected<void> evict(const std::string& hash, const std::string& checksum) {
    ResetOnExit reset(delete_binary);
    if (auto r = bind_all(delete_binary, 1, std::string_view(hash), std::string_view(checksum));
        !r) {
      return r;
    }
    return delete_binary.run();
  }

  /// @pre mutex held
  Expected<void> store(const std::string& hash, const BinaryKey& key,
                       std::span<const std::uint8_t> blob, std::string_view attributes,
                       const std::string& checksum, double compile_ms, std::int64_t now) {
    return db.transaction([&]() -> Expected<void> {
      {
        ResetOnExit reset(insert_provenance);
        if (auto r = bind_all(insert_provenance, 1, std::string_view(qk_version),
                              std::string_view(key.compiler),
                              std::string_view(key.template_revision), now);
            !r) {
          return r;
        }
        if (auto r = insert_provenance.run(); !r) return r;
      }
      ResetOnExit reset(insert_binary);
      if (auto r =
              bind_all(insert_binary, 1, std::string_view(hash), std::string_view(key.kernel),
                       std::string_view(key.spec_hash), std::string_view(key.template_revision),
                       std::string_view(key.target), std::string_view(key.compiler),
                       std::string_view(key.flags), blob, std::string_view(checksum),
                       static_cast<std::int64_t>(blob.size()), compile_ms, now, attributes);
          !r) {
        return r;
      }
      return insert_binary.run();
    });
  }

  /// @pre mutex held
  Expected<std::vector<BinaryInfo>> list() {
    ResetOnExit reset(list_binaries);
    std::vector<BinaryInfo> out;
    for (;;) {
      Expected<bool> row = list_binaries.step();
      if (!row) return row.error();
      if (!*row) return out;
      BinaryInfo info;
      info.key_hash = list_binaries.column_text(0);
      info.key = read_key(list_binaries, 1);
      info.size = list_binaries.column_int64(7);
      info.compile_ms = list_binaries.column_double(8);
      info.created_unix = list_binaries.column_int64(9);
      info.attributes = list_binaries.column_text(10);
      out.push_back(std::move(info));
    }
  }
};

KernelCache::KernelCache(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
KernelCache::~KernelCache() = default;

Expected<std::unique_ptr<KernelCache>> KernelCache::open(const std::filesystem::path& file,
                                                         std::string_view qk_version) {
  if (file.empty()) {
    return Error{Errc::invalid_argument, "", "the cache file path is empty"};
  }
  const std::string version(qk_version.empty() ? library_version() : qk_version);
  if (const std::filesystem::path folder = file.parent_path(); !folder.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) {
      return Error{Errc::io_error, folder.string(),
                   "cannot create the cache folder: " + ec.message()};
    }
  }
  Expected<Db> opened = Db::open(file);
  if (!opened) return opened.error();
  Db db = std::move(*opened);
  QK_CHECK_SQLITE(db.get(), db.path(),
                  sqlite3_busy_timeout(db.get(), static_cast<int>(kBusyTimeout.count())),
                  "setting the busy timeout");

  // Refuse a foreign file or a newer schema before anything writes to the file: switching to WAL
  // below already rewrites its header.
  Expected<int> found = retry_busy(kBusyTimeout, [&] { return schema_version(db); });
  if (!found) return found.error();
  if (*found > kSchemaVersion) return newer_schema_error(db, *found, kSchemaVersion);

  // WAL: readers never block the writer nor the writer the readers; writers queue on the busy
  // timeout. A file system without shared memory keeps its rollback journal (still correct,
  // less concurrent), so the mode it reports is not checked.
  Expected<void> wal = retry_busy(kBusyTimeout, [&]() -> Expected<void> {
    Expected<Stmt> stmt = db.prepare("PRAGMA journal_mode = WAL", "switching to WAL mode");
    if (!stmt) return stmt.error();
    return stmt->run();
  });
  if (!wal) return wal.error();
  // NORMAL is durable enough in WAL mode (a crash may lose the last commits, never corrupt) and
  // saves an fsync per store.
  if (auto r = db.exec("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON",
                       "setting the connection's pragmas");
      !r) {
    return r.error();
  }
  if (Expected<int> migrated = migrate(db, migrations(), version); !migrated) {
    return migrated.error();
  }

  auto impl = std::make_unique<Impl>(file, version, std::move(db));
  for (auto [stmt, sql] : {std::pair{&impl->select_binary, kSelectBinary},
                           std::pair{&impl->delete_binary, kDeleteBinary},
                           std::pair{&impl->insert_binary, kInsertBinary},
                           std::pair{&impl->insert_provenance, kInsertProvenance},
                           std::pair{&impl->list_binaries, kListBinaries}}) {
    Expected<Stmt> prepared = impl->db.prepare(sql);
    if (!prepared) return prepared.error();
    *stmt = std::move(*prepared);
  }
  return std::unique_ptr<KernelCache>(new KernelCache(std::move(impl)));
}

Expected<std::optional<BinaryRecord>> KernelCache::find_binary(const BinaryKey& key) {
  if (auto ok = check_key(key); !ok) return ok.error();
  const std::string hash = key_hash(key);

  std::optional<Error> corruption;
  CorruptionReporter reporter;
  Expected<std::optional<BinaryRecord>> result = [&]() -> Expected<std::optional<BinaryRecord>> {
    std::lock_guard lock(impl_->mutex);
    Expected<std::optional<StoredRow>> row =
        retry_busy(kBusyTimeout, [&] { return impl_->read(hash); });
    if (!row) return row.error();
    if (!*row) {
      ++impl_->misses;
      return std::optional<BinaryRecord>();
    }
    StoredRow& stored = **row;
    if (const std::string problem = find_problem(stored, key); !problem.empty()) {
      Expected<void> evicted =
          retry_busy(kBusyTimeout, [&] { return impl_->evict(hash, stored.checksum); });
      if (!evicted) return evicted.error();
      ++impl_->corrupt_evicted;
      ++impl_->misses;
      corruption = Error{Errc::io_error, key.kernel,
                         fmt::format("cached binary in {} (key hash {}) is corrupt: {}; evicted, "
                                     "it will be recompiled",
                                     impl_->path.string(), hash, problem)};
      reporter = impl_->reporter;
      return std::optional<BinaryRecord>();
    }
    ++impl_->hits;
    return std::optional<BinaryRecord>(
        BinaryRecord{std::move(stored.blob), std::move(stored.key.kernel),
                     std::move(stored.attributes), stored.compile_ms, stored.created_unix});
  }();
  // Outside the lock: a reporter may use this cache.
  if (corruption && reporter) reporter(*corruption);
  return result;
}

Expected<void> KernelCache::store_binary(const BinaryKey& key, std::span<const std::uint8_t> blob,
                                         double compile_ms, std::string_view attributes) {
  if (auto ok = check_key(key); !ok) return ok;
  if (!std::isfinite(compile_ms) || compile_ms < 0) {
    return Error{Errc::invalid_argument, "compile_ms",
                 fmt::format("is {}, must be a finite number of milliseconds >= 0", compile_ms)};
  }
  const std::string hash = key_hash(key);
  const std::string checksum = binary_checksum(blob, attributes);
  const std::int64_t now = std::time(nullptr);

  std::lock_guard lock(impl_->mutex);
  Expected<void> stored = retry_busy(kBusyTimeout, [&] {
    return impl_->store(hash, key, blob, attributes, checksum, compile_ms, now);
  });
  if (stored) ++impl_->stores;
  return stored;
}

Expected<std::vector<BinaryInfo>> KernelCache::list_binaries() {
  std::lock_guard lock(impl_->mutex);
  return retry_busy(kBusyTimeout, [&] { return impl_->list(); });
}

CacheStats KernelCache::stats() const {
  return CacheStats{impl_->hits.load(), impl_->misses.load(), impl_->stores.load(),
                    impl_->corrupt_evicted.load()};
}

void KernelCache::set_corruption_reporter(CorruptionReporter reporter) {
  std::lock_guard lock(impl_->mutex);
  impl_->reporter = std::move(reporter);
}

void KernelCache::report_corruption(const Error& error) {
  ++impl_->corrupt_evicted;
  CorruptionReporter reporter;
  {
    std::lock_guard lock(impl_->mutex);
    reporter = impl_->reporter;
  }
  if (reporter) reporter(error);
}

Expected<void> KernelCache::with_db(const std::function<Expected<void>(Db&)>& body) {
  std::lock_guard lock(impl_->mutex);
  return retry_busy(kBusyTimeout, [&] { return body(impl_->db); });
}

const std::filesystem::path& KernelCache::path() const {
  return impl_->path;
}

}  // namespace qk::cache
