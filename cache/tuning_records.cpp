// KernelCache's tuning-record methods (declared in kernel_cache.hpp) and winner checksums.
#include "cache/tuning_records.hpp"

#include <cmath>
#include <ctime>

#include <fmt/format.h>
#include <xxhash.h>

#include "cache/kernel_cache.hpp"
#include "cache/record_rows.hpp"
#include "cache/sqlite_handle.hpp"

namespace qk::cache {
namespace {

constexpr std::string_view kWinnerTag = "qk.cache.WinnerRecord.v1";

Error missing(std::string_view field) {
  return Error{Errc::invalid_argument, std::string(field), "must not be empty"};
}

Expected<void> check_timing(const TimingRecord& t) {
  if (t.workload_hash.empty()) return missing("TimingRecord.workload_hash");
  if (t.config_name.empty()) return missing("TimingRecord.config_name");
  if (t.device_fingerprint.empty()) return missing("TimingRecord.device_fingerprint");
  if (t.bucket < 1)
    return Error{Errc::invalid_argument, "TimingRecord.bucket",
                 fmt::format("{} must be >= 1", t.bucket)};
  const bool rung = t.fidelity.starts_with("rung") && t.fidelity.size() > 4 &&
                    t.fidelity.find_first_not_of("0123456789", 4) == std::string::npos;
  if (t.fidelity != "full" && !rung)
    return Error{Errc::invalid_argument, "TimingRecord.fidelity",
                 fmt::format("\"{}\" must be \"full\" or \"rung<N>\"", t.fidelity)};
  if ((t.status == "ok") != t.median_ns.has_value())
    return Error{Errc::invalid_argument, "TimingRecord.median_ns",
                 "is set exactly when status is \"ok\""};
  return {};
}

}  // namespace

std::string winner_checksum(const WinnerRecord& w) {
  const std::string bytes =
      length_prefixed(kWinnerTag, {w.workload_hash, fmt::format("{}", w.bucket),
                                   w.device_fingerprint, w.template_revision, w.config_name,
                                   fmt::format("{}", w.median_ns), fmt::format("{}", w.spread_ns),
                                   w.default_config, fmt::format("{}", w.default_median_ns)});
  return blob_checksum(
      std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

Expected<void> KernelCache::store_workload(const WorkloadRecord& w) {
  if (w.hash.empty()) return missing("WorkloadRecord.hash");
  if (w.json.empty()) return missing("WorkloadRecord.json");
  return with_db([&](Db& db) -> Expected<void> {
    auto stmt = db.prepare(
        "INSERT OR IGNORE INTO workloads (workload_hash, spec_json, n, k, created_unix) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!stmt) return stmt.error();
    if (auto r = bind_all(*stmt, 1, std::string_view(w.hash), std::string_view(w.json), w.n, w.k,
                          static_cast<std::int64_t>(std::time(nullptr)));
        !r)
      return r;
    return stmt->run();
  });
}

Expected<void> KernelCache::store_timing(const TimingRecord& t) {
  if (auto ok = check_timing(t); !ok) return ok;
  return with_db([&](Db& db) -> Expected<void> {
    auto stmt = db.prepare(
        "INSERT INTO timings (workload_hash, bucket, config_name, device_fingerprint, median_ns, "
        "spread_ns, repeats, status, reason, measured_unix, template_revision, fidelity) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
    if (!stmt) return stmt.error();
    const std::int64_t when = t.measured_unix ? t.measured_unix : std::time(nullptr);
    if (auto r = bind_all(*stmt, 1, std::string_view(t.workload_hash), t.bucket,
                          std::string_view(t.config_name), std::string_view(t.device_fingerprint),
                          t.median_ns, t.spread_ns, static_cast<std::int64_t>(t.repeats),
                          std::string_view(t.status), std::string_view(t.reason), when,
                          std::string_view(t.template_revision), std::string_view(t.fidelity));
        !r)
      return r;
    return stmt->run();
  });
}

Expected<std::vector<TimingRecord>> KernelCache::find_timings(std::string_view workload_hash,
                                                              std::int64_t bucket,
                                                              std::string_view device_fingerprint,
                                                              std::string_view template_revision) {
  std::vector<TimingRecord> out;
  auto done = with_db([&](Db& db) -> Expected<void> {
    out.clear();
    auto stmt = db.prepare(
        fmt::format("SELECT {} FROM timings WHERE workload_hash = ?1 AND bucket = ?2 AND "
                    "device_fingerprint = ?3 AND template_revision = ?4 ORDER BY id",
                    kTimingColumns));
    if (!stmt) return stmt.error();
    if (auto r = bind_all(*stmt, 1, workload_hash, bucket, device_fingerprint, template_revision);
        !r)
      return r;
    return for_each_row(*stmt, [&](const Stmt& row) { out.push_back(read_timing(row)); });
  });
  if (!done) return done.error();
  return out;
}

Expected<void> KernelCache::store_winner(const WinnerRecord& w) {
  if (w.workload_hash.empty()) return missing("WinnerRecord.workload_hash");
  if (w.config_name.empty()) return missing("WinnerRecord.config_name");
  if (w.device_fingerprint.empty()) return missing("WinnerRecord.device_fingerprint");
  if (!std::isfinite(w.median_ns) || w.median_ns <= 0)
    return Error{Errc::invalid_argument, "WinnerRecord.median_ns",
                 fmt::format("{} must be a finite time > 0", w.median_ns)};
  const std::string checksum = winner_checksum(w);
  return with_db([&](Db& db) -> Expected<void> {
    auto stmt = db.prepare(
        "INSERT OR REPLACE INTO winners (workload_hash, bucket, device_fingerprint, "
        "template_revision, config_name, median_ns, spread_ns, default_config, "
        "default_median_ns, decided_unix, checksum) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!stmt) return stmt.error();
    const std::int64_t when = w.decided_unix ? w.decided_unix : std::time(nullptr);
    if (auto r = bind_all(*stmt, 1, std::string_view(w.workload_hash), w.bucket,
                          std::string_view(w.device_fingerprint),
                          std::string_view(w.template_revision), std::string_view(w.config_name),
                          w.median_ns, w.spread_ns, std::string_view(w.default_config),
                          w.default_median_ns, when, std::string_view(checksum));
        !r)
      return r;
    return stmt->run();
  });
}

Expected<std::vector<WinnerListing>> KernelCache::list_winners() {
  std::vector<WinnerListing> out;
  auto done = with_db([&](Db& db) -> Expected<void> {
    out.clear();
    auto stmt = db.prepare(
        fmt::format("SELECT {}, l.spec_json FROM winners JOIN workloads l USING (workload_hash) "
                    "ORDER BY l.spec_json, device_fingerprint, bucket",
                    kWinnerColumns));
    if (!stmt) return stmt.error();
    return for_each_row(*stmt, [&](const Stmt& row) {
      WinnerListing listing{read_winner(row), row.column_text(11), false};
      listing.checksum_ok = winner_checksum(listing.winner) == row.column_text(10);
      out.push_back(std::move(listing));
    });
  });
  if (!done) return done.error();
  return out;
}

Expected<std::vector<WinnerRecord>> KernelCache::find_winners(std::string_view workload_hash,
                                                              std::string_view device_fingerprint,
                                                              std::string_view template_revision) {
  std::vector<WinnerRecord> out;
  std::vector<Error> damaged;
  std::vector<std::pair<std::int64_t, std::string>> damaged_buckets;  // bucket, stored checksum
  auto done = with_db([&](Db& db) -> Expected<void> {
    out.clear();
    damaged.clear();
    damaged_buckets.clear();
    auto stmt = db.prepare(
        fmt::format("SELECT {} FROM winners WHERE workload_hash = ?1 AND device_fingerprint = ?2 "
                    "ORDER BY bucket",
                    kWinnerColumns));
    if (!stmt) return stmt.error();
    if (auto r = bind_all(*stmt, 1, workload_hash, device_fingerprint); !r) return r;
    auto read = for_each_row(*stmt, [&](const Stmt& row) {
      WinnerRecord w = read_winner(row);
      const std::string stored_checksum = row.column_text(10);
      if (winner_checksum(w) != stored_checksum) {
        damaged.push_back(
            Error{Errc::io_error, fmt::format("winner {} of bucket {}", w.config_name, w.bucket),
                  fmt::format("tuning record in {} (workload {}) fails its checksum: damaged or "
                              "edited; deleted, the layer uses its default tile for this bucket",
                              path().string(), w.workload_hash)});
        damaged_buckets.emplace_back(w.bucket, stored_checksum);
      } else if (w.template_revision == template_revision) {
        out.push_back(std::move(w));
      }
    });
    if (!read) return read;
    stmt->reset();
    for (const auto& [bucket, checksum] : damaged_buckets) {
      auto erase = db.prepare(
          "DELETE FROM winners WHERE workload_hash = ?1 AND bucket = ?2 AND "
          "device_fingerprint = ?3 AND checksum = ?4");
      if (!erase) return erase.error();
      if (auto r = bind_all(*erase, 1, workload_hash, bucket, device_fingerprint,
                            std::string_view(checksum));
          !r)
        return r;
      if (auto r = erase->run(); !r) return r;
    }
    return {};
  });
  // Outside the lock: a reporter may use this cache.
  for (const Error& e : damaged) report_corruption(e);
  if (!done) return done.error();
  return out;
}

}  // namespace qk::cache
