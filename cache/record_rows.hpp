// How tuning records are read back from result rows: the column lists and readers shared by the
// record methods (tuning_records.cpp) and the whole-file operations (cache_maintenance.cpp).
#pragma once

#include <string_view>

#include "cache/sqlite_handle.hpp"
#include "cache/tuning_records.hpp"

namespace qk::cache {

/// A winners row in WinnerRecord's field order, then the stored checksum (column 10).
inline constexpr std::string_view kWinnerColumns =
    "workload_hash, bucket, device_fingerprint, template_revision, config_name, median_ns, "
    "spread_ns, default_config, default_median_ns, decided_unix, checksum";

/// A timings row in TimingRecord's field order.
inline constexpr std::string_view kTimingColumns =
    "workload_hash, bucket, config_name, device_fingerprint, template_revision, fidelity, "
    "median_ns, spread_ns, repeats, status, reason, measured_unix";

/// The WinnerRecord of a row selected with kWinnerColumns first.
inline WinnerRecord read_winner(const Stmt& row) {
  return {row.column_text(0),   row.column_int64(1),  row.column_text(2),   row.column_text(3),
          row.column_text(4),   row.column_double(5), row.column_double(6), row.column_text(7),
          row.column_double(8), row.column_int64(9)};
}

/// The TimingRecord of a row selected with kTimingColumns first.
inline TimingRecord read_timing(const Stmt& row) {
  TimingRecord t;
  t.workload_hash = row.column_text(0);
  t.bucket = row.column_int64(1);
  t.config_name = row.column_text(2);
  t.device_fingerprint = row.column_text(3);
  t.template_revision = row.column_text(4);
  t.fidelity = row.column_text(5);
  if (!row.column_is_null(6)) t.median_ns = row.column_double(6);
  if (!row.column_is_null(7)) t.spread_ns = row.column_double(7);
  t.repeats = static_cast<int>(row.column_int64(8));
  t.status = row.column_text(9);
  t.reason = row.column_text(10);
  t.measured_unix = row.column_int64(11);
  return t;
}

}  // namespace qk::cache
