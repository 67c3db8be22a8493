#include "bench/gemm_bench.hpp"

#include <charconv>
#include <thread>

#include <fmt/format.h>

namespace qk::bench {

std::string GemmShape::str() const {
  return fmt::format("{}x{}x{}", m, n, k);
}

namespace {
/// Keeps m·k, n·k and m·n far from overflowing 64-bit sizes; allocations fail well before.
constexpr std::int64_t kMaxDimension = std::int64_t{1} << 24;
}  // namespace

Expected<GemmShape> parse_shape(std::string_view text) {
  std::int64_t values[3] = {0, 0, 0};
  const char* p = text.data();
  const char* end = text.data() + text.size();
  for (int i = 0; i < 3; ++i) {
    const auto [next, ec] = std::from_chars(p, end, values[i]);
    const bool separator_ok =
        i == 2 ? next == end : (next != end && (*next == 'x' || *next == 'X'));
    if (ec != std::errc() || values[i] <= 0 || values[i] > kMaxDimension || !separator_ok) {
      return Error{Errc::invalid_argument, "--shapes",
                   fmt::format("\"{}\" is not a shape MxNxK of three integers in [1, {}] (e.g. "
                               "16x11008x4096)",
                               text, kMaxDimension)};
    }
    p = next + 1;
  }
  return GemmShape{values[0], values[1], values[2]};
}

std::vector<GemmShape> default_gemm_shapes() {
  std::vector<GemmShape> shapes;
  for (std::int64_t m : {1, 16, 128, 512, 2048}) {
    for (auto [n, k] :
         {std::pair<std::int64_t, std::int64_t>{4096, 4096}, {11008, 4096}, {4096, 11008}}) {
      shapes.push_back({m, n, k});
    }
  }
  return shapes;
}

std::vector<GemmShape> quick_gemm_shapes() {
  return {{1, 4096, 4096}, {128, 4096, 4096}};
}

std::vector<GemmRow> run_gemm_grid(const std::vector<GemmShape>& shapes,
                                   const std::vector<Competitor>& competitors,
                                   const GridOptions& options, const GridProgress& progress) {
  std::vector<GemmRow> rows;
  const std::size_t total = shapes.size() * competitors.size();
  for (const GemmShape& shape : shapes) {
    // Prepared runs of this shape waiting to be timed together (interleave) and their rows.
    std::vector<std::function<void(std::size_t)>> waiting;
    std::vector<std::size_t> waiting_rows;
    const std::size_t first_row = rows.size();
    for (const Competitor& competitor : competitors) {
      GemmRow row;
      row.shape = shape;
      row.competitor = competitor.name;
      row.int8_dot = competitor.int8_dot;
      const std::int64_t t0 = tuner::steady_now_ns();
      Expected<PreparedRun> prepared = competitor.prepare(shape);
      row.prepare_seconds = static_cast<double>(tuner::steady_now_ns() - t0) * 1e-9;
      if (!prepared) {
        row.error = prepared.error();
      } else if (options.interleave) {
        waiting.push_back(std::move(prepared->run));
        waiting_rows.push_back(rows.size());
        row.info = std::move(*prepared);
      } else {
        std::this_thread::sleep_for(options.settle);
        row.time = tuner::measure(prepared->run, options.measure);
        row.info = std::move(*prepared);
        row.info.run = nullptr;  // releases the competitor's buffers now
      }
      rows.push_back(std::move(row));
      if (progress && !options.interleave) progress(rows.back(), rows.size() - 1, total);
    }
    if (!options.interleave) continue;
    if (!waiting.empty()) {
      std::this_thread::sleep_for(options.settle);
      std::vector<tuner::Measurement> times = tuner::measure_interleaved(waiting, options.measure);
      for (std::size_t i = 0; i < times.size(); ++i)
        rows[waiting_rows[i]].time = std::move(times[i]);
    }
    waiting.clear();  // releases this shape's buffers
    for (std::size_t r = first_row; r < rows.size(); ++r)
      if (progress) progress(rows[r], r, total);
  }
  return rows;
}

namespace {

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void fill_uniform(float* x, std::size_t count, std::uint64_t seed) {
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < count; ++i) {
    // 24 random bits -> [0, 1) exactly representable, then to [-1, 1).
    const auto bits = static_cast<std::uint32_t>(splitmix64(state) >> 40);
    x[i] = static_cast<float>(bits) * (2.0f / 16777216.0f) - 1.0f;
  }
}

void fill_int8_codes(std::int8_t* x, std::size_t count, std::uint64_t seed) {
  std::uint64_t state = seed;
  for (std::size_t i = 0; i < count; ++i)
    x[i] = static_cast<std::int8_t>(static_cast<int>(splitmix64(state) % 255) - 127);
}

}  // namespace qk::bench
