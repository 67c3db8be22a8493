#include "tuner/measure.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

namespace qk::tuner {

double Measurement::spread() const {
  if (median_ns > 0) return (p75_ns - p25_ns) / median_ns;
  return p75_ns > p25_ns ? std::numeric_limits<double>::infinity() : 0.0;
}

std::int64_t steady_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double quantile_sorted(const std::vector<double>& sorted, double p) {
  const double position = std::clamp(p, 0.0, 1.0) * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

Measurement summarize(std::vector<double> samples_ns) {
  Measurement m;
  m.repeats = static_cast<int>(samples_ns.size());
  if (!samples_ns.empty()) {
    std::vector<double> sorted = samples_ns;
    std::sort(sorted.begin(), sorted.end());
    m.median_ns = quantile_sorted(sorted, 0.5);
    m.p25_ns = quantile_sorted(sorted, 0.25);
    m.p75_ns = quantile_sorted(sorted, 0.75);
    m.min_ns = sorted.front();
  }
  m.samples_ns = std::move(samples_ns);
  return m;
}

Measurement measure(const std::function<void(std::size_t)>& run, const MeasureOptions& options,
                    const NowNs& now_ns) {
  const int warmup = std::max(options.warmup, 0);
  const int max_repeats = std::max(options.max_repeats, 1);
  const int min_repeats = std::max(options.min_repeats, 0);
  const double min_ns = options.min_seconds * 1e9;
  const double max_ns = options.max_seconds * 1e9;

  std::size_t index = 0;
  for (int i = 0; i < warmup; ++i) run(index++);

  std::vector<double> samples;
  samples.reserve(static_cast<std::size_t>(std::min(max_repeats, 1024)));
  const std::int64_t start = now_ns();
  while (true) {
    const std::int64_t t0 = now_ns();
    run(index++);
    const std::int64_t t1 = now_ns();
    samples.push_back(static_cast<double>(t1 - t0));
    const auto elapsed = static_cast<double>(t1 - start);
    const int repeats = static_cast<int>(samples.size());

    if (repeats >= min_repeats && elapsed >= min_ns) {
      // Floors reached: is the sample steady? (Sorting <= max_repeats values is negligible next
      // to a run, and it happens outside the timed bracket.)
      if (summarize(samples).spread() <= options.target_rel_spread) {
        Measurement m = summarize(std::move(samples));
        m.stop = StopReason::steady;
        return m;
      }
    }
    if (repeats >= max_repeats || elapsed >= max_ns) {
      Measurement m = summarize(std::move(samples));
      m.stop = repeats >= max_repeats ? StopReason::max_repeats : StopReason::max_seconds;
      return m;
    }
  }
}

std::vector<Measurement> measure_interleaved(
    const std::vector<std::function<void(std::size_t)>>& runs, const MeasureOptions& options,
    const NowNs& now_ns) {
  const std::size_t n = runs.size();
  const int max_rounds = std::max(options.max_repeats, 1);
  const int min_rounds = std::max(options.min_repeats, 0);
  const double min_ns = options.min_seconds * 1e9;
  const double max_ns = options.max_seconds * 1e9;
  std::vector<std::size_t> index(n, 0);
  for (int w = 0; w < std::max(options.warmup, 0); ++w)
    for (std::size_t c = 0; c < n; ++c) runs[c](index[c]++);

  std::vector<std::vector<double>> samples(n);
  const std::int64_t start = now_ns();
  for (int round = 0;; ++round) {
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t c = (static_cast<std::size_t>(round) + j) % n;
      const std::int64_t t0 = now_ns();
      runs[c](index[c]++);
      samples[c].push_back(static_cast<double>(now_ns() - t0));
    }
    const auto elapsed = static_cast<double>(now_ns() - start);
    const int rounds = round + 1;
    StopReason stop = StopReason::steady;
    bool done = false;
    if (rounds >= min_rounds && elapsed >= min_ns) {
      done = std::all_of(samples.begin(), samples.end(), [&](const std::vector<double>& s) {
        return summarize(s).spread() <= options.target_rel_spread;
      });
    }
    if (!done && (rounds >= max_rounds || elapsed >= max_ns)) {
      done = true;
      stop = rounds >= max_rounds ? StopReason::max_repeats : StopReason::max_seconds;
    }
    if (done) {
      std::vector<Measurement> out;
      for (std::vector<double>& s : samples) {
        out.push_back(summarize(std::move(s)));
        out.back().stop = stop;
      }
      return out;
    }
  }
}

std::optional<std::size_t> parse_cache_size(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::size_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  const std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  std::size_t shift = 0;
  if (unit == "K")
    shift = 10;
  else if (unit == "M")
    shift = 20;
  else if (unit == "G")
    shift = 30;
  else if (!unit.empty())
    return std::nullopt;
  if (value > (std::numeric_limits<std::size_t>::max() >> shift)) return std::nullopt;
  return value << shift;
}

namespace {

std::optional<std::string> read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  return line;
}

}  // namespace

std::optional<std::size_t> read_llc_bytes(const std::filesystem::path& cache_dir) {
  std::error_code ec;
  int best_level = 0;
  std::size_t best_bytes = 0;
  // increment(ec) rather than a range-for: no exceptions from a directory that changes under us.
  for (std::filesystem::directory_iterator it(cache_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::filesystem::directory_entry& entry = *it;
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    const auto level_text = read_first_line(entry.path() / "level");
    const auto size_text = read_first_line(entry.path() / "size");
    const auto type = read_first_line(entry.path() / "type");
    if (!level_text || !size_text || (type && *type == "Instruction")) continue;
    const int level = std::atoi(level_text->c_str());
    const auto bytes = parse_cache_size(*size_text);
    if (level <= 0 || !bytes) continue;
    // Level 3 is the LLC of every x86 part we target; otherwise take the highest level seen.
    const auto rank = [](int l) { return l == 3 ? 1000 : l; };
    if (rank(level) > rank(best_level) || (level == best_level && *bytes > best_bytes)) {
      best_level = level;
      best_bytes = *bytes;
    }
  }
  if (best_level == 0) return std::nullopt;
  return best_bytes;
}

std::size_t last_level_cache_bytes() {
  return read_llc_bytes("/sys/devices/system/cpu/cpu0/cache").value_or(kFallbackLlcBytes);
}

std::size_t rotation_count(std::size_t bytes_per_set, std::size_t llc_bytes) {
  if (bytes_per_set == 0) return 1;
  const std::size_t target =
      llc_bytes > std::numeric_limits<std::size_t>::max() / kRotationCacheMultiple
          ? std::numeric_limits<std::size_t>::max()
          : kRotationCacheMultiple * llc_bytes;
  return std::max<std::size_t>(1, target / bytes_per_set + (target % bytes_per_set != 0));
}

}  // namespace qk::tuner
