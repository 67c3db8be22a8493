// qk-bench: measures GEMM competitors on a grid of layer shapes, with the machine's int8 peak and
// DRAM bandwidth measured in the same run to put the times in context (docs/bench.md).
//
// Example:
//   qk-bench gemm --target cpu --json bench.json
//   qk-bench gemm --target cpu --quick
//   qk-bench gemm --target cpu --shapes 1x4096x11008,16x4096x11008 --competitors onednn-w8a8
//
// Exit status: 0 when every row was measured, 1 when a competitor failed on a shape (the row
// shows why) or a result could not be written, 2 for a usage error.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bench/competitors.hpp"
#include "bench/gemm_bench.hpp"
#include "bench/machine.hpp"
#include "bench/onednn_w8a8.hpp"
#include "bench/openblas_sgemm.hpp"
#include "bench/qk_kernels.hpp"
#include "tuner/measure.hpp"

namespace {

using qk::Expected;
using qk::bench::Throughput;

struct GemmArgs {
  std::string target = "cpu";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::string> shapes;
  std::vector<std::string> competitors;
  std::string json_file;
  bool quick = false;
  bool rotate_weights_always = false;
  bool interleave = false;
  std::size_t llc_mib = 0;  // 0: from sysfs
};

/// The machine's ceilings, measured around the grid.
struct MachineFigures {
  std::optional<qk::Error> peak_error;  // e.g. no VNNI: no peak, no "% peak" column
  Throughput peak_1_thread, peak_before, peak_after;
  std::optional<qk::Error> dram_error;
  Throughput dram_before, dram_after;
  std::size_t dram_bytes = 0;
  std::optional<qk::bench::CompileLatency> compile;  // qk::jit::compile, when a qk column runs
  std::optional<qk::Error> compile_error;

  std::optional<double> peak() const {
    if (peak_error) return std::nullopt;
    return std::max(peak_before.best, peak_after.best);
  }
  std::optional<double> dram() const {
    if (dram_error) return std::nullopt;
    return std::max(dram_before.best, dram_after.best);
  }
};

void progress(const std::string& line) {
  fmt::print(stderr, "qk-bench: {}\n", line);
  std::fflush(stderr);
}

std::string now_iso8601() {
  const std::time_t t = std::time(nullptr);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
  return buffer;
}

std::string describe(const Throughput& t, const char* unit) {
  return fmt::format("{:.1f} {} (median {:.1f})", t.best, unit, t.median);
}

/// Measures the peak on 1 and `threads` threads, or records why it cannot.
void measure_peak(int threads, const qk::bench::PeakOptions& options, MachineFigures& m,
                  Throughput MachineFigures::*slot, bool with_single_thread) {
  if (m.peak_error) return;
  if (with_single_thread) {
    Expected<Throughput> one = qk::bench::vnni_peak_gops(1, options);
    if (!one) {
      m.peak_error = one.error();
      return;
    }
    m.peak_1_thread = *one;
  }
  Expected<Throughput> all = qk::bench::vnni_peak_gops(threads, options);
  if (!all) {
    m.peak_error = all.error();
    return;
  }
  m.*slot = *all;
}

void measure_dram(int threads, const qk::bench::BandwidthOptions& options, MachineFigures& m,
                  Throughput MachineFigures::*slot) {
  if (m.dram_error) return;
  Expected<Throughput> t = qk::bench::dram_read_gbps(threads, options);
  if (!t) {
    m.dram_error = t.error();
    return;
  }
  m.*slot = *t;
  m.dram_bytes = options.bytes;
}

std::string percent(double fraction) {
  return fmt::format("{:.1f}%", 100 * fraction);
}

/// The rows' median relative to the fastest competitor of the same shape (1.00 = fastest).
std::vector<std::optional<double>> relative_times(const std::vector<qk::bench::GemmRow>& rows) {
  std::map<std::string, double> fastest;
  for (const auto& r : rows) {
    if (r.error) continue;
    auto [it, inserted] = fastest.emplace(r.shape.str(), r.time.median_ns);
    if (!inserted) it->second = std::min(it->second, r.time.median_ns);
  }
  std::vector<std::optional<double>> rel;
  for (const auto& r : rows) {
    if (r.error || fastest[r.shape.str()] <= 0)
      rel.emplace_back();
    else
      rel.emplace_back(r.time.median_ns / fastest[r.shape.str()]);
  }
  return rel;
}

void print_table(const std::vector<qk::bench::GemmRow>& rows, const MachineFigures& machine) {
  const std::vector<std::optional<double>> rel = relative_times(rows);
  std::size_t name_width = 10;
  for (const auto& r : rows) name_width = std::max(name_width, r.competitor.size());

  fmt::print("{:>5} {:>6} {:>6}  {:<{}} {:>10} {:>7} {:>5} {:>8} {:>7} {:>7} {:>7} {:>5}\n", "m",
             "n", "k", "competitor", name_width, "median ms", "spread", "reps", "Gop/s", "%peak",
             "W GB/s", "%DRAM", "rel");
  std::string last_shape;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    const std::string shape = r.shape.str();
    if (shape == last_shape) {
      fmt::print("{:>5} {:>6} {:>6}  ", "", "", "");
    } else {
      fmt::print("{:>5} {:>6} {:>6}  ", r.shape.m, r.shape.n, r.shape.k);
    }
    last_shape = shape;
    fmt::print("{:<{}} ", r.competitor, name_width);
    if (r.error) {
      fmt::print("error: {}\n", r.error->str());
      continue;
    }
    const bool decode = r.shape.m == 1;
    const std::string peak_cell =
        r.int8_dot && machine.peak() ? percent(r.gops() / *machine.peak()) : "-";
    const std::string gbps_cell = decode ? fmt::format("{:.1f}", r.weight_gbps()) : "-";
    std::string dram_cell = "-";
    if (decode && machine.dram()) {
      const double fraction = r.weight_gbps() / *machine.dram();
      // Above the measured DRAM bandwidth: cache hits or a bandwidth change (print_warnings).
      dram_cell = percent(fraction) + (fraction > 1.0 ? "!" : "");
    }
    fmt::print("{:>10.3f} {:>7} {:>5} {:>8.1f} {:>7} {:>7} {:>7} {:>5.2f}\n",
               r.time.median_ns * 1e-6, percent(r.time.spread()), r.time.repeats, r.gops(),
               peak_cell, gbps_cell, dram_cell, rel[i].value_or(0));
  }
}

void print_header(const GemmArgs& args, std::size_t llc, const MachineFigures& m) {
  fmt::print("qk-bench gemm --target {}: {}, {} threads (of {} hardware), LLC {} MiB\n",
             args.target, qk::bench::cpu_model_name(), args.threads,
             std::thread::hardware_concurrency(), llc >> 20);
  fmt::print("oneDNN {}; OpenBLAS {}\n", qk::bench::onednn_version(),
             qk::bench::openblas_version());
  if (m.peak_error) {
    fmt::print("VNNI int8 peak: not measured ({})\n", m.peak_error->str());
  } else {
    fmt::print(
        "VNNI int8 peak, Gop/s: 1 thread {:.1f}; {} threads {:.1f} before, {:.1f} after "
        "the grid (best of passes; %peak uses {:.1f})\n",
        m.peak_1_thread.best, args.threads, m.peak_before.best, m.peak_after.best, *m.peak());
  }
  if (m.dram_error) {
    fmt::print("DRAM read: not measured ({})\n", m.dram_error->str());
  } else {
    fmt::print(
        "DRAM read, GB/s ({} MiB, {} threads): {:.1f} before, {:.1f} after (%DRAM uses "
        "{:.1f})\n",
        m.dram_bytes >> 20, args.threads, m.dram_before.best, m.dram_after.best, *m.dram());
  }
  if (m.compile) {
    fmt::print(
        "qk::jit::compile, fresh process: {:.1f} ms cold (empty cache, PCH built), {:.1f} ms "
        "cold with the PCH in the cache, {:.1f} ms from the cache\n",
        m.compile->cold_ms, m.compile->cold_with_pch_ms, m.compile->cache_hit_ms);
  } else if (m.compile_error) {
    fmt::print("qk::jit::compile latency: not measured ({})\n", m.compile_error->str());
  }
  fmt::print("\n");
}

/// Lines that make a noisy host visible instead of silently skewing the ratios.
void print_warnings(int threads, const MachineFigures& m,
                    const std::vector<qk::bench::GemmRow>& rows) {
  if (m.dram()) {
    const bool above = std::any_of(rows.begin(), rows.end(), [&](const auto& r) {
      return !r.error && r.shape.m == 1 && r.weight_gbps() > *m.dram();
    });
    if (above) {
      fmt::print(
          "warning: rows marked ! read their weights faster than the DRAM bandwidth "
          "measured around the grid: part of them came from cache (try a larger "
          "--llc-mib) or the host's bandwidth changed during the run\n");
    }
  }
  if (m.peak_error) return;
  const double before = m.peak_before.best, after = m.peak_after.best;
  if (std::abs(before - after) > 0.1 * std::max(before, after)) {
    fmt::print(
        "warning: the VNNI peak changed by {:.0f}% during the grid: the host's CPU share "
        "varied, so %peak and rel may mix two regimes\n",
        100 * std::abs(before - after) / std::max(before, after));
  }
  const double low = std::min(before, after);
  if (threads > 1 && m.peak_1_thread.best > 0 && low < 0.75 * threads * m.peak_1_thread.best) {
    fmt::print(
        "warning: {} threads reached only {:.2f}x the 1-thread peak ({}): the host did not "
        "give {} full cores all the time\n",
        threads, low / m.peak_1_thread.best, low == before ? "before" : "after", threads);
  }
}

void print_notes(const std::vector<qk::bench::GemmRow>& rows) {
  // The implementations that ran, per competitor (oneDNN may pick different kernels by shape).
  std::map<std::string, std::vector<std::string>> impls;
  for (const auto& r : rows) {
    if (r.error) continue;
    auto& list = impls[r.competitor];
    if (std::find(list.begin(), list.end(), r.info.implementation) == list.end())
      list.push_back(r.info.implementation);
  }
  fmt::print("\nimplementations:\n");
  for (const auto& [name, list] : impls) {
    for (const auto& impl : list) fmt::print("  {}: {}\n", name, impl);
  }
  fmt::print("every output was checked against a reference before timing (details in --json)\n");
}

nlohmann::json throughput_json(const Throughput& t) {
  return {{"best", t.best}, {"median", t.median}, {"passes", t.passes}};
}

nlohmann::json to_json(const GemmArgs& args, std::size_t llc, const MachineFigures& m,
                       const qk::tuner::MeasureOptions& measure,
                       const std::vector<qk::bench::GemmRow>& rows, double grid_seconds,
                       const std::string& started) {
  nlohmann::json j;
  j["tool"] = "qk-bench gemm";
  j["started"] = started;
  j["target"] = args.target;
  j["machine"] = {{"cpu", qk::bench::cpu_model_name()},
                  {"hardware_threads", std::thread::hardware_concurrency()},
                  {"threads", args.threads},
                  {"llc_bytes", llc},
                  {"avx512_vnni", qk::bench::cpu_supports_avx512_vnni()},
                  {"onednn", qk::bench::onednn_version()},
                  {"openblas", qk::bench::openblas_version()}};
  j["options"] = {{"quick", args.quick},
                  {"rotate_weights_always", args.rotate_weights_always},
                  {"interleave", args.interleave},
                  {"llc_mib_override", args.llc_mib},
                  {"warmup", measure.warmup},
                  {"min_repeats", measure.min_repeats},
                  {"max_repeats", measure.max_repeats},
                  {"min_seconds", measure.min_seconds},
                  {"max_seconds", measure.max_seconds},
                  {"target_rel_spread", measure.target_rel_spread}};
  if (m.peak_error) {
    j["vnni_peak_gops"] = {{"error", m.peak_error->str()}};
  } else {
    j["vnni_peak_gops"] = {{"one_thread", throughput_json(m.peak_1_thread)},
                           {"before", throughput_json(m.peak_before)},
                           {"after", throughput_json(m.peak_after)},
                           {"reference", *m.peak()}};
  }
  if (m.dram_error) {
    j["dram_read_gbps"] = {{"error", m.dram_error->str()}};
  } else {
    j["dram_read_gbps"] = {{"bytes", m.dram_bytes},
                           {"before", throughput_json(m.dram_before)},
                           {"after", throughput_json(m.dram_after)},
                           {"reference", *m.dram()}};
  }
  if (m.compile) {
    j["compile_latency_ms"] = {{"cold", m.compile->cold_ms},
                               {"cold_with_cached_pch", m.compile->cold_with_pch_ms},
                               {"cache_hit", m.compile->cache_hit_ms}};
  } else if (m.compile_error) {
    j["compile_latency_ms"] = {{"error", m.compile_error->str()}};
  }
  const std::vector<std::optional<double>> rel = relative_times(rows);
  nlohmann::json out = nlohmann::json::array();
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    nlohmann::json row = {{"m", r.shape.m},
                          {"n", r.shape.n},
                          {"k", r.shape.k},
                          {"competitor", r.competitor},
                          {"prepare_seconds", r.prepare_seconds}};
    if (r.error) {
      row["error"] = r.error->str();
      out.push_back(std::move(row));
      continue;
    }
    const char* stop = r.time.stop == qk::tuner::StopReason::steady        ? "steady"
                       : r.time.stop == qk::tuner::StopReason::max_repeats ? "max_repeats"
                                                                           : "max_seconds";
    row.update(
        {{"median_ns", r.time.median_ns},
         {"p25_ns", r.time.p25_ns},
         {"p75_ns", r.time.p75_ns},
         {"min_ns", r.time.min_ns},
         {"spread", r.time.spread()},
         {"repeats", r.time.repeats},
         {"stop", stop},
         {"samples_ns", r.time.samples_ns},
         {"gops", r.gops()},
         {"peak_fraction",
          r.int8_dot && m.peak() ? nlohmann::json(r.gops() / *m.peak()) : nlohmann::json(nullptr)},
         {"weight_bytes", r.info.weight_bytes},
         {"weight_gbps", r.weight_gbps()},
         {"dram_fraction", r.shape.m == 1 && m.dram() ? nlohmann::json(r.weight_gbps() / *m.dram())
                                                      : nlohmann::json(nullptr)},
         {"relative_to_fastest", rel[i] ? nlohmann::json(*rel[i]) : nlohmann::json()},
         {"implementation", r.info.implementation},
         {"check", r.info.check},
         {"rotation_sets", r.info.rotation_sets},
         {"rotation_bytes_per_set", r.info.rotation_bytes}});
    out.push_back(std::move(row));
  }
  j["rows"] = std::move(out);
  j["grid_seconds"] = grid_seconds;
  return j;
}

Expected<void> write_json(const std::string& file, const nlohmann::json& j) {
  std::ofstream out(file);
  if (out) out << j.dump(2) << "\n";
  if (!out) return qk::Error{qk::Errc::io_error, file, std::strerror(errno)};
  return {};
}

int run_gemm(const GemmArgs& args) {
  const std::string started = now_iso8601();
  const std::size_t llc =
      args.llc_mib > 0 ? args.llc_mib << 20 : qk::tuner::last_level_cache_bytes();
  qk::bench::CompetitorContext context;
  context.threads = args.threads;
  context.llc_bytes = llc;
  context.rotate_weights_always = args.rotate_weights_always;

  // The selection, in the order the user gave (or the list's default order).
  const std::vector<qk::bench::Competitor> all = qk::bench::cpu_gemm_competitors(context);
  std::vector<qk::bench::Competitor> selected;
  if (args.competitors.empty()) {
    for (const auto& c : all) {
      if (c.runs_by_default()) {
        selected.push_back(c);
      } else if (c.left_out_here()) {
        fmt::print(stderr, "qk-bench: not running {} by default: {}; --competitors {} runs it\n",
                   c.name, c.not_default_here, c.name);
      }
    }
  }
  for (const std::string& name : args.competitors) {
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const auto& c) { return c.name == name; });
    if (it == all.end()) {
      std::string known;
      for (const auto& c : all) known += (known.empty() ? "" : ", ") + c.name;
      fmt::print(stderr, "qk-bench: --competitors: unknown competitor \"{}\" (known: {})\n", name,
                 known);
      return 2;
    }
    selected.push_back(*it);
  }

  std::vector<qk::bench::GemmShape> shapes =
      args.quick ? qk::bench::quick_gemm_shapes() : qk::bench::default_gemm_shapes();
  if (!args.shapes.empty()) {
    shapes.clear();
    for (const std::string& text : args.shapes) {
      Expected<qk::bench::GemmShape> shape = qk::bench::parse_shape(text);
      if (!shape) {
        fmt::print(stderr, "qk-bench: {}\n", shape.error().str());
        return 2;
      }
      shapes.push_back(*shape);
    }
  }

  qk::bench::GridOptions grid;
  grid.interleave = args.interleave;
  qk::bench::PeakOptions peak;
  qk::bench::BandwidthOptions dram;
  if (args.quick) {
    grid.measure = {.warmup = 1,
                    .min_repeats = 3,
                    .max_repeats = 20,
                    .min_seconds = 0.05,
                    .max_seconds = 0.5,
                    .target_rel_spread = 0.02};
    grid.settle = std::chrono::milliseconds(100);
    peak.passes = 2;
    dram.passes = 3;
  }

  MachineFigures machine;
  // First, while this process has compiled nothing: the child processes must start cold.
  if (std::any_of(selected.begin(), selected.end(),
                  [](const auto& c) { return c.name.rfind("qk-", 0) == 0; })) {
    progress("measuring qk::jit::compile latency (cold and cache hit, fresh processes)");
    auto latency =
        qk::bench::measure_compile_latency(std::filesystem::temp_directory_path() / "qk-bench");
    if (latency) {
      machine.compile = *latency;
    } else {
      machine.compile_error = latency.error();
    }
  }
  std::this_thread::sleep_for(grid.settle);
  progress(fmt::format("measuring the VNNI peak (1 and {} threads) and the DRAM read bandwidth",
                       args.threads));
  measure_peak(args.threads, peak, machine, &MachineFigures::peak_before, true);
  measure_dram(args.threads, dram, machine, &MachineFigures::dram_before);
  if (!machine.peak_error) progress("peak before: " + describe(machine.peak_before, "Gop/s"));
  if (!machine.dram_error) progress("DRAM before: " + describe(machine.dram_before, "GB/s"));

  const std::int64_t grid_start = qk::tuner::steady_now_ns();
  const std::vector<qk::bench::GemmRow> rows = qk::bench::run_gemm_grid(
      shapes, selected, grid,
      [](const qk::bench::GemmRow& r, std::size_t index, std::size_t total) {
        const std::string head =
            fmt::format("[{}/{}] {} {}", index + 1, total, r.shape.str(), r.competitor);
        if (r.error) {
          progress(fmt::format("{}: error: {}", head, r.error->str()));
        } else {
          progress(fmt::format("{}: {:.3f} ms ± {:.1f}% ({} runs, rotation over {} sets)", head,
                               r.time.median_ns * 1e-6, 100 * r.time.spread(), r.time.repeats,
                               r.info.rotation_sets));
        }
      });
  const double grid_seconds = static_cast<double>(qk::tuner::steady_now_ns() - grid_start) * 1e-9;

  std::this_thread::sleep_for(grid.settle);
  measure_peak(args.threads, peak, machine, &MachineFigures::peak_after, false);
  measure_dram(args.threads, dram, machine, &MachineFigures::dram_after);
  progress(fmt::format("grid: {} rows in {:.1f} s", rows.size(), grid_seconds));

  print_header(args, llc, machine);
  print_table(rows, machine);
  print_notes(rows);
  print_warnings(args.threads, machine, rows);
  std::fflush(stdout);

  bool ok =
      std::none_of(rows.begin(), rows.end(), [](const auto& r) { return r.error.has_value(); });
  if (machine.dram_error) {
    fmt::print(stderr, "qk-bench: {}\n", machine.dram_error->str());
    ok = false;
  }
  if (machine.peak_error && machine.peak_error->code != qk::Errc::unsupported) {
    fmt::print(stderr, "qk-bench: {}\n", machine.peak_error->str());
    ok = false;
  }
  if (!args.json_file.empty()) {
    Expected<void> written = write_json(
        args.json_file, to_json(args, llc, machine, grid.measure, rows, grid_seconds, started));
    if (!written) {
      fmt::print(stderr, "qk-bench: cannot write {}\n", written.error().str());
      ok = false;
    }
  }
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "qk-bench: times GEMM kernels on a grid of layer shapes and puts them in context with the "
      "machine's int8 peak and DRAM bandwidth, measured in the same run (docs/bench.md)."};
  app.footer(
      "Examples:\n"
      "  qk-bench gemm --target cpu --json bench.json\n"
      "  qk-bench gemm --target cpu --quick\n"
      "  qk-bench gemm --target cpu --shapes 1x4096x11008 --competitors "
      "onednn-w8a8,onednn-int8-matmul\n"
      "\n"
      "Exit status: 0 when every row was measured, 1 when a competitor failed on a shape or a\n"
      "file could not be written, 2 for a usage error.");
  app.require_subcommand(1);

  GemmArgs args;
  std::string competitor_help =
      "Competitors to run, comma-separated, in this order (default: the starred ones):";
  const std::vector<qk::bench::Competitor> competitors = qk::bench::cpu_gemm_competitors({});
  for (const auto& c : competitors)
    competitor_help +=
        fmt::format("\n  {}{}: {}", c.name, c.runs_by_default() ? " *" : "", c.description);
  for (const auto& c : competitors) {
    if (c.left_out_here())
      competitor_help += fmt::format("\n  ({} is not starred here: {})", c.name, c.not_default_here);
  }

  CLI::App* gemm = app.add_subcommand(
      "gemm",
      "Time Y[m,n] = A[m,k] W[n,k]^T for every shape and competitor: the median of repeated runs "
      "on inputs rotated beyond the last-level cache, with the spread, Gop/s, % of the VNNI peak "
      "and, at m = 1, the weight bandwidth against DRAM's.");
  gemm->add_option("--target", args.target, "Where the kernels run (only cpu today)")
      ->check(CLI::IsMember({"cpu"}))
      ->capture_default_str();
  gemm->add_option("--threads", args.threads,
                   "Threads for every competitor and for the peak and bandwidth measurements")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  gemm->add_option("--shapes", args.shapes,
                   "Shapes MxNxK, comma-separated (default: m in 1,16,128,512,2048 x (n,k) in "
                   "(4096,4096),(11008,4096),(4096,11008))")
      ->delimiter(',')
      ->type_name("MxNxK,...");
  gemm->add_option("--competitors", args.competitors, competitor_help)
      ->delimiter(',')
      ->type_name("NAME,...");
  gemm->add_option("--json", args.json_file,
                   "Also write every figure (machine, peaks, bandwidth, each row with all its "
                   "samples) to FILE")
      ->type_name("FILE");
  gemm->add_flag("--quick", args.quick,
                 "Smoke test: shapes 1x4096x4096 and 128x4096x4096 (unless --shapes), fewer "
                 "repeats, shorter peak and bandwidth passes");
  gemm->add_option("--llc-mib", args.llc_mib,
                   "Size the rotations for a last-level cache of this many MiB instead of the one "
                   "sysfs reports (a VM may report less cache than the host has)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  gemm->add_flag("--interleave", args.interleave,
                 "Time the competitors of a shape together, alternating run by run, so that their "
                 "ratio holds when the host's speed changes (all of a shape's data in memory). "
                 "For qk's own columns: oneDNN's and OpenBLAS's threads spin after a call and "
                 "would slow the run after theirs");
  gemm->add_flag("--rotate-weights-always", args.rotate_weights_always,
                 "Rotate the weights at every m (default: only at m = 1; at m > 1 weights that fit "
                 "in the LLC stay cached between runs)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    return run_gemm(args);
  } catch (const std::exception& e) {
    // Only a failure of a library during a timed run can land here (prepare reports errors).
    fmt::print(stderr, "qk-bench: error: {}\n", e.what());
    return 1;
  } catch (const qk::BadExpectedAccess& e) {
    fmt::print(stderr, "qk-bench: error: {}\n", e.error.str());
    return 1;
  }
}
