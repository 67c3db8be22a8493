// Whole-file operations on kernel caches, behind `qk-cache` (docs/cache.md, "Shipping and
// maintaining a cache"): merging files (shards of a tune, fleets, a prebuilt cache shipped with a
// model), verifying every checksum, and removing what this qk can no longer use.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "cache/kernel_cache.hpp"

namespace qk::cache {

struct MergeStats {
  std::int64_t binaries = 0;          ///< binaries copied (not already in the destination)
  std::int64_t binaries_damaged = 0;  ///< source binaries whose checksum failed: not copied
  std::int64_t binaries_skipped = 0;  ///< left out by the target filter
  std::int64_t headers_skipped = 0;   ///< precompiled headers left out (MergeFilter)
  std::int64_t timings = 0;           ///< measurements copied (duplicates are not)
  std::int64_t winners = 0;           ///< winners copied or replacing an older decision
  std::int64_t winners_damaged = 0;   ///< source winners whose checksum failed: not copied
};

/// Which binaries a merge copies.
struct MergeFilter {
  std::string target;                ///< those whose `target` contains this (empty: all)
  bool precompiled_headers = true;   ///< false: no precompiled header (is_precompiled_header)
};

/// Copies the records of the cache file `source` into `destination`, in one transaction (all or
/// nothing). Only the binaries `filter` keeps are copied.
/// A record whose checksum fails is not copied (and counted). Of two winners for one workload,
/// bucket and device, the later decision stays. `source` is opened read-only and never changed.
/// Errors: source not a readable qk cache, or of a newer schema (its path in `where`).
Expected<MergeStats> merge_into(KernelCache& destination, const std::filesystem::path& source,
                                const MergeFilter& filter = {});

struct VerifyReport {
  std::int64_t binaries = 0, binaries_damaged = 0;
  std::int64_t winners = 0, winners_damaged = 0;
  std::int64_t winners_stale = 0;  ///< of a template revision that is not current
  std::int64_t binaries_stale = 0;
  std::vector<std::string> problems;    ///< one line per damaged record
  std::vector<std::string> provenance;  ///< "qk 0.1.0, clang 19.1.7, templates 1a2b…" per row
};

/// Checks every binary's and winner's checksum (reporting, not deleting) and counts the records
/// made with a template revision not in `current_revisions` (unusable by this qk).
Expected<VerifyReport> verify(KernelCache& cache,
                              const std::vector<std::string>& current_revisions);

struct GcStats {
  std::int64_t binaries = 0, timings = 0, winners = 0, workloads = 0;
  std::int64_t bytes_before = 0, bytes_after = 0;
};

/// Deletes the binaries, measurements and winners of template revisions not in
/// `current_revisions`, and workloads left without records, then compacts the file (VACUUM).
Expected<GcStats> collect_garbage(KernelCache& cache,
                                  const std::vector<std::string>& current_revisions);

}  // namespace qk::cache
