// The autotuner's records in the cache file (docs/cache.md, "Tuning tables"): workloads, every
// measurement, and the winner per workload, M bucket and device. The cache stores and checks
// them; what they mean is the tuner's (docs/tuning.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace qk::cache {

/// What is tuned: a layer's kernel spec without tile and name (codegen::Workload).
struct WorkloadRecord {
  std::string hash;
  std::string json;
  std::int64_t n = 0, k = 0;
};

/// One measurement of one tile config, or why it could not be measured.
struct TimingRecord {
  std::string workload_hash;
  std::int64_t bucket = 0;  ///< the M bucket (its upper bound of M)
  std::string config_name;  ///< the tile's canonical name
  std::string device_fingerprint;
  std::string template_revision;    ///< of the code measured
  std::string fidelity = "full";    ///< "quick" (a screening run) or "full" (the whole protocol)
  std::optional<double> median_ns;  ///< nullopt when the candidate failed
  std::optional<double> spread_ns;  ///< interquartile range; nullopt on failure
  int repeats = 0;
  std::string status = "ok";  ///< "ok", or why the candidate is infinitely slow
  std::string reason;         ///< a failure's detail; empty when ok
  std::int64_t measured_unix = 0;
};

/// The config chosen for a (workload, bucket, device), with the default it was compared to.
struct WinnerRecord {
  std::string workload_hash;
  std::int64_t bucket = 0;
  std::string device_fingerprint;
  std::string template_revision;
  std::string config_name;
  double median_ns = 0;
  double spread_ns = 0;
  std::string default_config;
  double default_median_ns = 0;
  std::int64_t decided_unix = 0;
};

/// A stored winner as `qk-cache list` shows it.
struct WinnerListing {
  WinnerRecord winner;
  std::string workload_json;
  bool checksum_ok = false;
};

/// XXH3-128 hex of the winner's fields in a length-prefixed serialization (as BinaryKey's): a
/// winner whose stored checksum differs was damaged or edited and is not used.
std::string winner_checksum(const WinnerRecord& winner);

}  // namespace qk::cache
