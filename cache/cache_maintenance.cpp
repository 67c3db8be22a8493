#include "cache/cache_maintenance.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "cache/record_rows.hpp"
#include "cache/schema.hpp"
#include "cache/sqlite_handle.hpp"

namespace qk::cache {
namespace {

/// Runs `sql` (one statement returning one integer) and returns that integer.
Expected<std::int64_t> scalar(Db& db, std::string_view sql) {
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  auto row = stmt->step();
  if (!row) return row.error();
  return *row ? stmt->column_int64(0) : 0;
}

/// Runs `sql` with the parameters and returns how many rows it changed.
template <class... Params>
Expected<std::int64_t> change(Db& db, std::string_view sql, Params&&... params) {
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  if constexpr (sizeof...(params) > 0) {
    if (auto r = bind_all(*stmt, 1, std::forward<Params>(params)...); !r) return r.error();
  }
  if (auto r = stmt->run(); !r) return r.error();
  return static_cast<std::int64_t>(sqlite3_changes(db.get()));
}

Expected<std::int64_t> file_bytes(Db& db) {
  return scalar(db, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
}

}  // namespace

Expected<MergeStats> merge_into(KernelCache& destination, const std::filesystem::path& source,
                                const MergeFilter& filter) {
  if (!std::filesystem::exists(source))
    return Error{Errc::io_error, source.string(), "no such file"};
  auto src = Db::open(source, SQLITE_OPEN_READONLY);
  if (!src) return src.error();
  auto version = schema_version(*src);
  if (!version) return version.error();
  if (*version > kSchemaVersion) return newer_schema_error(*src, *version, kSchemaVersion);
  if (*version < 1) return Error{Errc::io_error, source.string(), "is empty, not a qk cache"};

  MergeStats stats;
  // Read everything first (the source is small next to what it describes), then write in one
  // transaction of the destination.
  struct Binary {
    std::vector<std::string> text;  // key_hash, kernel, spec_hash, template_revision, target,
                                    // compiler, flags, checksum
    std::vector<std::uint8_t> blob;
    double compile_ms;
    std::int64_t created;
    std::string attributes;
  };
  std::vector<Binary> binaries;
  // Files before version 3 have no attributes: theirs are empty, as the migration would make them.
  auto read = select_each(
      *src,
      fmt::format("SELECT key_hash, kernel, spec_hash, template_revision, target, compiler, "
                  "flags, checksum, blob, compile_ms, created_unix, {} FROM binaries",
                  *version >= 3 ? "attributes" : "''"),
      [&](const Stmt& row) {
        Binary b;
        for (int c = 0; c < 8; ++c) b.text.push_back(row.column_text(c));
        b.blob = row.column_blob(8);
        b.compile_ms = row.column_double(9);
        b.created = row.column_int64(10);
        b.attributes = row.column_text(11);
        const BinaryKey key{b.text[1], b.text[2], b.text[3], b.text[4], b.text[5], b.text[6]};
        if (!filter.target.empty() && key.target.find(filter.target) == std::string::npos)
          ++stats.binaries_skipped;
        else if (!filter.precompiled_headers && is_precompiled_header(key))
          ++stats.headers_skipped;
        else if (binary_checksum(b.blob, b.attributes) != b.text[7] || key_hash(key) != b.text[0])
          ++stats.binaries_damaged;
        else
          binaries.push_back(std::move(b));
      });
  if (!read) return read.error();
  std::vector<WorkloadRecord> workloads;
  std::vector<TimingRecord> timings;
  std::vector<WinnerRecord> winners;
  if (*version >= 2) {
    read = select_each(
        *src, "SELECT workload_hash, spec_json, n, k FROM workloads", [&](const Stmt& row) {
          workloads.push_back(
              {row.column_text(0), row.column_text(1), row.column_int64(2), row.column_int64(3)});
        });
    if (!read) return read.error();
    read = select_each(*src, fmt::format("SELECT {} FROM timings", kTimingColumns),
                       [&](const Stmt& row) { timings.push_back(read_timing(row)); });
    if (!read) return read.error();
    read = select_each(*src, fmt::format("SELECT {} FROM winners", kWinnerColumns),
                       [&](const Stmt& row) {
                         WinnerRecord w = read_winner(row);
                         if (winner_checksum(w) != row.column_text(10))
                           ++stats.winners_damaged;
                         else
                           winners.push_back(std::move(w));
                       });
    if (!read) return read.error();
  }
  std::vector<std::array<std::string, 3>> provenance;
  std::vector<std::int64_t> provenance_seen;
  read = select_each(
      *src, "SELECT qk_version, compiler, template_revision, first_seen_unix FROM provenance",
      [&](const Stmt& row) {
        provenance.push_back({row.column_text(0), row.column_text(1), row.column_text(2)});
        provenance_seen.push_back(row.column_int64(3));
      });
  if (!read) return read.error();

  auto written = destination.with_db([&](Db& db) -> Expected<void> {
    MergeStats counted = stats;
    auto done = db.transaction([&]() -> Expected<void> {
      for (std::size_t i = 0; i < provenance.size(); ++i) {
        auto n = change(db,
                        "INSERT OR IGNORE INTO provenance (qk_version, compiler, "
                        "template_revision, first_seen_unix) VALUES (?1, ?2, ?3, ?4)",
                        std::string_view(provenance[i][0]), std::string_view(provenance[i][1]),
                        std::string_view(provenance[i][2]), provenance_seen[i]);
        if (!n) return n.error();
      }
      for (const Binary& b : binaries) {
        auto n = change(
            db,
            "INSERT OR IGNORE INTO binaries (key_hash, kernel, spec_hash, template_revision, "
            "target, compiler, flags, checksum, blob, size, compile_ms, created_unix, "
            "attributes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            std::string_view(b.text[0]), std::string_view(b.text[1]), std::string_view(b.text[2]),
            std::string_view(b.text[3]), std::string_view(b.text[4]), std::string_view(b.text[5]),
            std::string_view(b.text[6]), std::string_view(b.text[7]),
            std::span<const std::uint8_t>(b.blob), static_cast<std::int64_t>(b.blob.size()),
            b.compile_ms, b.created, std::string_view(b.attributes));
        if (!n) return n.error();
        counted.binaries += *n;
      }
      for (const WorkloadRecord& w : workloads) {
        auto n = change(db,
                        "INSERT OR IGNORE INTO workloads (workload_hash, spec_json, n, k, "
                        "created_unix) VALUES (?1, ?2, ?3, ?4, strftime('%s', 'now'))",
                        std::string_view(w.hash), std::string_view(w.json), w.n, w.k);
        if (!n) return n.error();
      }
      for (const TimingRecord& t : timings) {
        // The same measurement merged twice (or from two copies of a file) is stored once.
        auto n = change(
            db,
            "INSERT INTO timings (workload_hash, bucket, config_name, device_fingerprint, "
            "template_revision, fidelity, median_ns, spread_ns, repeats, status, reason, "
            "measured_unix) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 "
            "WHERE NOT EXISTS (SELECT 1 FROM timings WHERE workload_hash = ?1 AND bucket = ?2 "
            "AND config_name = ?3 AND device_fingerprint = ?4 AND template_revision = ?5 AND "
            "fidelity = ?6 AND measured_unix = ?12 AND median_ns IS ?7)",
            std::string_view(t.workload_hash), t.bucket, std::string_view(t.config_name),
            std::string_view(t.device_fingerprint), std::string_view(t.template_revision),
            std::string_view(t.fidelity), t.median_ns, t.spread_ns,
            static_cast<std::int64_t>(t.repeats), std::string_view(t.status),
            std::string_view(t.reason), t.measured_unix);
        if (!n) return n.error();
        counted.timings += *n;
      }
      for (const WinnerRecord& w : winners) {
        // A later decision replaces an earlier one; an earlier one never replaces a later one.
        auto n = change(
            db,
            "INSERT INTO winners (workload_hash, bucket, device_fingerprint, template_revision, "
            "config_name, median_ns, spread_ns, default_config, default_median_ns, "
            "decided_unix, checksum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
            "ON CONFLICT (workload_hash, bucket, device_fingerprint) DO UPDATE SET "
            "template_revision = excluded.template_revision, config_name = "
            "excluded.config_name, median_ns = excluded.median_ns, spread_ns = "
            "excluded.spread_ns, default_config = excluded.default_config, default_median_ns = "
            "excluded.default_median_ns, decided_unix = excluded.decided_unix, checksum = "
            "excluded.checksum WHERE excluded.decided_unix > winners.decided_unix",
            std::string_view(w.workload_hash), w.bucket, std::string_view(w.device_fingerprint),
            std::string_view(w.template_revision), std::string_view(w.config_name), w.median_ns,
            w.spread_ns, std::string_view(w.default_config), w.default_median_ns, w.decided_unix,
            std::string_view(winner_checksum(w)));
        if (!n) return n.error();
        counted.winners += *n;
      }
      return {};
    });
    if (done) stats = counted;
    return done;
  });
  if (!written) return written.error();
  return stats;
}

Expected<VerifyReport> verify(KernelCache& cache,
                              const std::vector<std::string>& current_revisions) {
  auto current = [&](const std::string& revision) {
    return std::find(current_revisions.begin(), current_revisions.end(), revision) !=
           current_revisions.end();
  };
  VerifyReport report;
  auto done = cache.with_db([&](Db& db) -> Expected<void> {
    report = {};
    auto read = select_each(
        db,
        "SELECT key_hash, kernel, spec_hash, template_revision, target, compiler, flags, "
        "checksum, blob, size, attributes FROM binaries ORDER BY kernel",
        [&](const Stmt& row) {
          ++report.binaries;
          const BinaryKey key{row.column_text(1), row.column_text(2), row.column_text(3),
                              row.column_text(4), row.column_text(5), row.column_text(6)};
          const auto blob = row.column_blob(8);
          if (!current(key.template_revision)) ++report.binaries_stale;
          if (binary_checksum(blob, row.column_text(10)) != row.column_text(7) ||
              static_cast<std::int64_t>(blob.size()) != row.column_int64(9) ||
              key_hash(key) != row.column_text(0)) {
            ++report.binaries_damaged;
            report.problems.push_back(
                fmt::format("binary {} (key {}): checksum, size or key does not match", key.kernel,
                            row.column_text(0)));
          }
        });
    if (!read) return read;
    read = select_each(
        db, fmt::format("SELECT {} FROM winners ORDER BY workload_hash, bucket", kWinnerColumns),
        [&](const Stmt& row) {
          ++report.winners;
          const WinnerRecord w = read_winner(row);
          if (!current(w.template_revision)) ++report.winners_stale;
          if (winner_checksum(w) != row.column_text(10)) {
            ++report.winners_damaged;
            report.problems.push_back(
                fmt::format("winner {} of workload {} bucket {}: checksum does not match its "
                            "fields",
                            w.config_name, w.workload_hash, w.bucket));
          }
        });
    if (!read) return read;
    return select_each(db,
                       "SELECT qk_version, compiler, template_revision FROM provenance ORDER BY "
                       "first_seen_unix",
                       [&](const Stmt& row) {
                         report.provenance.push_back(fmt::format(
                             "qk {}, {}, templates {}{}", row.column_text(0), row.column_text(1),
                             row.column_text(2), current(row.column_text(2)) ? " (current)" : ""));
                       });
  });
  if (!done) return done.error();
  return report;
}

Expected<GcStats> collect_garbage(KernelCache& cache,
                                  const std::vector<std::string>& current_revisions) {
  GcStats stats;
  auto done = cache.with_db([&](Db& db) -> Expected<void> {
    auto before = file_bytes(db);
    if (!before) return before.error();
    GcStats counted;
    counted.bytes_before = *before;
    auto deleted = db.transaction([&]() -> Expected<void> {
      if (auto r = db.exec("CREATE TEMP TABLE IF NOT EXISTS current_revisions (revision TEXT); "
                           "DELETE FROM current_revisions",
                           "listing the current template revisions");
          !r)
        return r;
      for (const std::string& revision : current_revisions) {
        auto added =
            change(db, "INSERT INTO current_revisions VALUES (?1)", std::string_view(revision));
        if (!added) return added.error();
      }
      constexpr std::string_view kStale =
          " WHERE template_revision NOT IN (SELECT revision FROM current_revisions)";
      auto b = change(db, std::string("DELETE FROM binaries").append(kStale));
      if (!b) return b.error();
      auto t = change(db, std::string("DELETE FROM timings").append(kStale));
      if (!t) return t.error();
      auto w = change(db, std::string("DELETE FROM winners").append(kStale));
      if (!w) return w.error();
      auto l = change(db,
                      "DELETE FROM workloads WHERE workload_hash NOT IN (SELECT workload_hash "
                      "FROM timings UNION SELECT workload_hash FROM winners)");
      if (!l) return l.error();
      counted.binaries = *b;
      counted.timings = *t;
      counted.winners = *w;
      counted.workloads = *l;
      return {};
    });
    if (!deleted) return deleted;
    if (auto r = db.exec("VACUUM", "compacting the file"); !r) return r;
    auto after = file_bytes(db);
    if (!after) return after.error();
    counted.bytes_after = *after;
    stats = counted;
    return {};
  });
  if (!done) return done.error();
  return stats;
}

}  // namespace qk::cache
