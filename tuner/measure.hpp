// The measurement protocol (architecture.md, principle 5 "Measure like a benchmark"): untimed
// warm-up runs, then timed repeats until the sample is large and steady enough, summarized by
// its median with the interquartile spread recorded. The autotuner and qk-bench both time
// through measure(), so a tuned winner and a published benchmark mean the same thing.
//
// Example:
//   RotatingBuffer inputs = ...;  // rotation_count() copies: together 4x the LLC
//   Measurement t = measure([&](std::size_t i) { kernel(inputs.set(i), out); });
//   fmt::print("{:.3f} ms ± {:.1f}%\n", t.median_ns * 1e-6, 100 * t.spread());
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace qk::tuner {

/// When measure() stops. The floors (min_repeats and min_seconds) must both be reached before
/// the sample may stop for being steady; the caps (max_repeats, max_seconds) stop it regardless,
/// so one run longer than max_seconds gives a single sample.
struct MeasureOptions {
  int warmup = 3;                   ///< untimed runs before the first timed one
  int min_repeats = 10;             ///< floor on timed runs
  int max_repeats = 200;            ///< cap on timed runs (at least 1 run is always timed)
  double min_seconds = 0.2;         ///< floor on the timed phase's wall time, seconds
  double max_seconds = 2.0;         ///< cap on the timed phase's wall time, seconds
  double target_rel_spread = 0.02;  ///< steady: (p75 - p25) / median at or below this
};

/// Why the timed phase ended.
enum class StopReason {
  steady,       ///< both floors reached and the spread is at or below the target
  max_repeats,  ///< the repeat cap was reached before the sample became steady
  max_seconds,  ///< the time cap was reached before the sample became steady
};

/// Summary of the timed runs. Percentiles interpolate linearly between order statistics (the
/// "type 7" definition of R and NumPy), so the median of an even count is the mean of the middle
/// two.
struct Measurement {
  double median_ns = 0;
  double p25_ns = 0;
  double p75_ns = 0;
  double min_ns = 0;
  int repeats = 0;  ///< timed runs
  StopReason stop = StopReason::steady;
  std::vector<double> samples_ns;  ///< every timed run's duration, in run order

  /// Relative interquartile spread (p75 - p25) / median: 0.01 means the middle half of the runs
  /// lies within 1% of the median. 0 for an empty or all-zero sample.
  double spread() const;
};

/// Monotonic time in nanoseconds; measure() reads it around every timed run.
using NowNs = std::function<std::int64_t()>;

/// std::chrono::steady_clock in nanoseconds.
std::int64_t steady_now_ns();

/// Times run(i) for i = 0, 1, 2, ... (warm-up runs included in the numbering, so the caller can
/// rotate input buffers by i and the first timed run never reuses the set the last warm-up run
/// left in cache). Each timed run is bracketed by now_ns() calls; nothing else is timed.
/// Out-of-range options are clamped: negative counts to 0, max_repeats to at least 1.
/// @post result.repeats >= 1 and result.samples_ns.size() == result.repeats
Measurement measure(const std::function<void(std::size_t)>& run, const MeasureOptions& options = {},
                    const NowNs& now_ns = steady_now_ns);

/// Times several contenders side by side: each round runs every contender once, starting with a
/// different one each round (round r starts with contender r mod n, so none always runs first),
/// and times each run. When the host's speed changes during a comparison (these machines
/// sometimes give two threads one core's throughput for minutes), both sides see the same
/// regimes, so the ratio of their medians stays meaningful where back-to-back measure() calls
/// would compare two regimes. Contender c's run receives its own run count 0, 1, 2, ... (warm-up
/// included), for rotating its inputs (contenders sharing one set of copies should offset it, or
/// each would read the copy the one before it just warmed). Stops as measure() does, counting
/// rounds: both floors
/// reached and every contender steady, or a cap (max_seconds bounds the whole comparison).
/// @pre !runs.empty()  @post result.size() == runs.size()
std::vector<Measurement> measure_interleaved(
    const std::vector<std::function<void(std::size_t)>>& runs, const MeasureOptions& options = {},
    const NowNs& now_ns = steady_now_ns);

/// Summarizes durations (any order); `stop` is left at its default.
Measurement summarize(std::vector<double> samples_ns);

/// The p-quantile (p in [0, 1]) of an ascending, non-empty sample, interpolated linearly.
double quantile_sorted(const std::vector<double>& sorted, double p);

/// Used when the last-level cache size cannot be read: the 32 MiB L3 of the project's machines.
inline constexpr std::size_t kFallbackLlcBytes = std::size_t{32} << 20;

/// Parses a sysfs cache size such as "32768K", "1M" or "512" into bytes; nullopt otherwise.
std::optional<std::size_t> parse_cache_size(std::string_view text);

/// The largest cache of level 3 (else the highest level present) listed under `cache_dir`
/// (laid out like /sys/devices/system/cpu/cpu0/cache: index*/level, index*/size, index*/type;
/// instruction caches are skipped); nullopt when nothing readable is there.
std::optional<std::size_t> read_llc_bytes(const std::filesystem::path& cache_dir);

/// The last-level cache of cpu0 from sysfs, or kFallbackLlcBytes.
std::size_t last_level_cache_bytes();

/// How much data one rotation streams, in multiples of the LLC. 2x would do for an LRU cache,
/// but AMD's L3 (a victim cache with its own replacement policy) keeps part of a set alive: on
/// the project's EPYC host, int8 weights rotated over 2x the L3 were read at 102-114% of the
/// DRAM bandwidth (partly from cache), over 4x or 8x at 80-96%.
inline constexpr std::size_t kRotationCacheMultiple = 4;

/// How many copies of a working set of `bytes_per_set` bytes to cycle through so that one full
/// rotation touches at least kRotationCacheMultiple x `llc_bytes`: by the time a copy is used
/// again, that much data has streamed through the cache since, so the copy is cold. At least 1;
/// 1 when bytes_per_set is 0 or a single copy is already that large.
/// Example: rotation_count(45'088'768, 32 << 20) == 3 (the int8 weights of a 4096 x 11008 layer).
std::size_t rotation_count(std::size_t bytes_per_set, std::size_t llc_bytes);

}  // namespace qk::tuner
