// Tuning one workload (a layer's kernel spec and shape) over its M buckets on the cpu target:
// candidates from codegen's search space, compiled ahead of timing (both cores), each checked
// against the reference once, measured, every measurement stored as it is taken, and the winner
// per bucket stored for compile() (docs/tuning.md).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cache/kernel_cache.hpp"
#include "qk/layer_config.hpp"
#include "tuner/measure.hpp"
#include "tuner/search.hpp"

namespace qk::tuner {

/// What the tuner is doing now, for progress displays.
struct Progress {
  std::int64_t bucket = 0;
  std::string stage;      ///< "compiling", "checking", "timing", "reused"
  std::string candidate;  ///< the tile's canonical name
  std::size_t done = 0;   ///< evaluations finished in this bucket
  std::size_t total = 0;  ///< evaluations planned in this bucket
};

struct TuneSettings {
  std::filesystem::path cache;  ///< the kernel cache file: binaries and tuning records
  std::string cpu_level = "host";
  int threads = 0;  ///< threads of a kernel call; 0 = every core
  SearchOptions search;
  /// Screening rung 0 of successive halving: a few repeats, at most a fifth of a second; rung r
  /// takes (r + 1) times the repeats and seconds (docs/tuning.md, "Measurement").
  MeasureOptions quick{1, 3, 20, 0.02, 0.2, 0.05};
  /// Final measurements: the protocol of measure.hpp, capped at one second per candidate.
  MeasureOptions full{2, 7, 100, 0.1, 1.0, 0.02};
  /// Past this, no new measurement starts; the bucket being tuned is left without a winner
  /// (its measurements are stored, so the next run continues there).
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<void(const Progress&)> progress;
};

/// One bucket's outcome.
struct BucketReport {
  std::int64_t bucket = 0;
  std::string default_config;
  std::string chosen_config;  ///< the winner stored (the default when nothing beat it)
  std::optional<double> default_ns, chosen_ns;
  bool replaced_default = false;
  bool complete = false;       ///< false: the budget ran out (or unsupported); no winner stored
  std::string unsupported;     ///< why the target cannot run this layer (tune_plan skips it)
  std::size_t space = 0;       ///< candidates in the search space
  std::size_t measured = 0;    ///< distinct candidates measured in this run
  std::size_t reused = 0;      ///< measurements taken from earlier runs (resuming)
  std::size_t failed = 0;      ///< candidates that did not compile or gave a wrong result
  double compile_seconds = 0;  ///< compiling (or loading) candidates
  double measure_seconds = 0;  ///< checking and timing them
};

/// Tunes `layer`'s workload for each of `buckets` (ascending). The layer's name is only for
/// errors. Errors: an invalid layer or settings, an unusable cache, an unsupported family;
/// a candidate's failure is never an error (it is recorded and ranks last).
Expected<std::vector<BucketReport>> tune_workload(const LayerConfig& layer,
                                                  std::span<const std::int64_t> buckets,
                                                  const TuneSettings& settings);

}  // namespace qk::tuner
