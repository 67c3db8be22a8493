// qk's kernel cache: compiled binaries (and, later, tuning records) in one SQLite file.
// docs/cache.md documents the file: schema, keys, checksums, corruption, concurrency, QK_CACHE.
//
// Example:
//   auto cache = qk::cache::KernelCache::open(qk::cache::KernelCache::default_path());
//   if (!cache) return cache.error();
//   auto hit = (*cache)->find_binary(key);       // Expected<std::optional<BinaryRecord>>
//   if (hit && !*hit) { /* compile */ (void)(*cache)->store_binary(key, blob, compile_ms); }
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/key.hpp"
#include "cache/tuning_records.hpp"
#include "qk/error.hpp"

namespace qk::cache {

class Db;

/// One stored binary, as find_binary() returns it.
struct BinaryRecord {
  std::vector<std::uint8_t> blob;  ///< the bytes given to store_binary(), checksum verified
  std::string kernel;              ///< BinaryKey::kernel
  std::string attributes;          ///< as given to store_binary(), covered by the checksum
  double compile_ms = 0;           ///< how long the compile that produced it took
  std::int64_t created_unix = 0;   ///< when it was stored (seconds since the Unix epoch)
};

/// One stored binary's metadata, without its bytes (for `qk-cache list`).
struct BinaryInfo {
  BinaryKey key;
  std::string key_hash;    ///< binaries.key_hash
  std::string attributes;  ///< binaries.attributes (not verified here: verify() checks them)
  std::int64_t size = 0;
  double compile_ms = 0;
  std::int64_t created_unix = 0;
};

/// Counters of one KernelCache object (not of the file).
struct CacheStats {
  std::int64_t hits = 0;             ///< find_binary() calls that returned a binary
  std::int64_t misses = 0;           ///< find_binary() calls that returned nullopt (evictions too)
  std::int64_t stores = 0;           ///< successful store_binary() calls
  std::int64_t corrupt_evicted = 0;  ///< records deleted because their checksum or key mismatched
};

/// Called, on the thread that found it and with no lock held, for each record evicted as
/// corrupt or mismatching. The Error's `where` is the kernel name; its message names the file,
/// the key hash and what did not match.
using CorruptionReporter = std::function<void(const Error&)>;

/// The version of qk this library is (the project's version): what open() records by default.
std::string_view library_version();

/// One connection to one cache file. All methods are thread-safe (one connection guarded by a
/// mutex); several objects, in one process or many, may use one file at once (WAL mode, a 10 s
/// busy timeout and retries).
class KernelCache {
 public:
  /// Opens or creates `file` (and its folder), switches it to WAL, sets the busy timeout, and
  /// creates or migrates its schema (schema.hpp); a new file records `qk_version` (empty: this
  /// library's version) in meta.created_by.
  /// Errors (the file's path in `where`): Errc::unsupported for a file of a newer schema version
  /// (left untouched); Errc::io_error for a folder or file that cannot be created or opened, a
  /// file that is not an SQLite database or not a qk cache (left untouched, never deleted), or
  /// a failed migration.
  static Expected<std::unique_ptr<KernelCache>> open(const std::filesystem::path& file,
                                                     std::string_view qk_version = {});

  /// The QK_CACHE knob: $QK_CACHE if set and non-empty, else $XDG_CACHE_HOME/qk/kernels.db if
  /// XDG_CACHE_HOME is an absolute path, else $HOME/.cache/qk/kernels.db (HOME from the password
  /// database if unset), else <temp dir>/qk-<uid>/kernels.db. Creates nothing.
  static std::filesystem::path default_path();

  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;
  ~KernelCache();

  /// The binary stored for `key`, or nullopt (a miss). A record whose blob does not match its
  /// stored checksum or size, or whose stored key fields differ from `key` (a key-hash
  /// collision), is deleted, counted in corrupt_evicted (and misses), reported through the
  /// corruption reporter, and returned as a miss: never returned.
  /// Errors: check_key()'s (Errc::invalid_argument); SQLite failures, including page-level
  /// corruption of the file (Errc::io_error): callers treat these as a miss and compile.
  Expected<std::optional<BinaryRecord>> find_binary(const BinaryKey& key);

  /// Stores `blob` for `key` (replacing any binary stored for it) and records the provenance row
  /// (qk version, compiler, template revision), in one transaction. `attributes` is text the
  /// binary's producer needs back with it (a cubin's kernel name and resources), opaque here and
  /// covered by the row's checksum (binary_checksum).
  /// @pre compile_ms is finite and >= 0 (Errc::invalid_argument otherwise)
  /// Errors: check_key()'s; SQLite failures (Errc::io_error), after which nothing was stored.
  Expected<void> store_binary(const BinaryKey& key, std::span<const std::uint8_t> blob,
                              double compile_ms, std::string_view attributes = {});

  /// Every stored binary's metadata, ordered by kernel, target, compiler, key hash.
  Expected<std::vector<BinaryInfo>> list_binaries();

  // The autotuner's records (docs/cache.md, "Tuning tables"; docs/tuning.md). Errors:
  // Errc::invalid_argument naming an empty or out-of-range field; SQLite failures (io_error).

  /// Records a workload (a no-op when its hash is already there).
  Expected<void> store_workload(const WorkloadRecord& workload);
  /// Appends one measurement. @pre its workload is stored
  Expected<void> store_timing(const TimingRecord& timing);
  /// The measurements of a workload, bucket and device taken with `template_revision`, oldest
  /// first.
  Expected<std::vector<TimingRecord>> find_timings(std::string_view workload_hash,
                                                   std::int64_t bucket,
                                                   std::string_view device_fingerprint,
                                                   std::string_view template_revision);
  /// Records the winner of its (workload, bucket, device), replacing any earlier one; its
  /// checksum is computed here.
  Expected<void> store_winner(const WinnerRecord& winner);
  /// The winners of a workload on a device for every bucket, made with `template_revision`,
  /// ascending by bucket. A winner whose checksum does not match its fields is deleted,
  /// counted in corrupt_evicted, reported, and left out; one of another template revision is
  /// left out (stale: `qk-cache gc` removes it).
  Expected<std::vector<WinnerRecord>> find_winners(std::string_view workload_hash,
                                                   std::string_view device_fingerprint,
                                                   std::string_view template_revision);
  /// Every winner, trusted or not (the checksum as stored), with its workload's JSON.
  Expected<std::vector<WinnerListing>> list_winners();

  /// Runs `body` on this object's connection under its lock (retrying lock conflicts): the seam
  /// through which the rest of cache/ (tuning records, merging files) reaches the database.
  Expected<void> with_db(const std::function<Expected<void>(Db&)>& body);

  CacheStats stats() const;
  /// Replaces the reporter; an empty function silences reports.
  void set_corruption_reporter(CorruptionReporter reporter);
  const std::filesystem::path& path() const;

 private:
  struct Impl;
  explicit KernelCache(std::unique_ptr<Impl> impl);
  /// Counts a record deleted as corrupt and reports it. @pre the lock is not held
  void report_corruption(const Error& error);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qk::cache
