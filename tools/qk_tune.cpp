// qk-tune: tunes every layer of a plan on this machine, per bucket of M, and stores every
// measurement and the winners in the kernel cache, where qk::jit::compile finds them
// (docs/tuning.md).
//
// Example:
//   qk-tune --cpu examples/plans/llama2_7b_w8a8_smoothquant.json --budget 600 --report tune.json
//
// Exit status: 0 when the shard's work was tuned (or the budget ran out: the table says which
// buckets wait for the next run), 1 for an unusable plan, cache or device, 2 for a usage error.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cache/kernel_cache.hpp"
#include "codegen/m_buckets.hpp"
#include "qk/plan.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/cpu_device.hpp"
#include "runtime/tiled_compile.hpp"
#include "tools/terminal_text.hpp"
#include "tuner/plan_tuner.hpp"

namespace {

using qk::tools::escape;
using qk::tools::EscapeMode;

struct Args {
  std::string plan_file;
  bool cpu = false;
  std::optional<int> gpu;
  std::string cache;
  double budget_seconds = 0;
  std::string shard = "0/1";
  std::string buckets;
  std::string report_file;
  std::string cpu_level = "host";
  int threads = 0;
  std::uint64_t seed = 1;
  std::size_t sample = 24;
  bool quiet = false;
};

int fail(const std::string& message) {
  fmt::print(stderr, "qk-tune: error: {}\n", escape(message, EscapeMode::text));
  return 1;
}

/// "i/n" with 0 <= i < n.
std::optional<std::pair<int, int>> parse_shard(const std::string& text) {
  int index = -1, count = 0;
  char slash = 0;
  char rest = 0;
  if (std::sscanf(text.c_str(), "%d%c%d%c", &index, &slash, &count, &rest) != 3 || slash != '/')
    return std::nullopt;
  if (count < 1 || index < 0 || index >= count) return std::nullopt;
  return std::pair{index, count};
}

std::string ms(const std::optional<double>& ns) {
  return ns ? fmt::format("{:.3f}", *ns * 1e-6) : "-";
}

std::string speedup(const qk::tuner::BucketReport& b) {
  if (!b.default_ns || !b.chosen_ns || *b.chosen_ns <= 0) return "-";
  return fmt::format("{:.2f}x", *b.default_ns / *b.chosen_ns);
}

/// One row per tuned workload and bucket; layers that share a workload are named under the table
/// instead of repeating its rows.
void print_table(const qk::tuner::PlanReport& report) {
  std::map<std::string, std::vector<std::string>> sharing;  // tuned layer -> the others
  for (const auto& r : report.rows)
    if (!r.shares_with.empty() && r.bucket.bucket == report.rows.front().bucket.bucket)
      sharing[r.shares_with].push_back(r.layer);
  std::vector<std::vector<std::string>> rows{{"layer", "M<=", "default tile", "ms", "tuned tile",
                                              "ms", "speedup", "space", "measured", "reused",
                                              "failed"}};
  for (const auto& r : report.rows) {
    if (!r.shares_with.empty()) continue;
    const auto& b = r.bucket;
    const auto others = sharing.find(r.layer);
    const std::string layer =
        escape(r.layer, EscapeMode::ascii) +
        (others == sharing.end() ? "" : fmt::format(" (+{})", others->second.size()));
    rows.push_back({layer, std::to_string(b.bucket), b.default_config, ms(b.default_ns),
                    !b.unsupported.empty() ? "(not implemented for this target)"
                    : b.complete           ? (b.replaced_default ? b.chosen_config : "= default")
                                           : "(budget ran out)",
                    ms(b.chosen_ns), speedup(b), std::to_string(b.space),
                    std::to_string(b.measured), std::to_string(b.reused),
                    std::to_string(b.failed)});
  }
  fmt::print("{}", qk::tools::format_table(rows, {1, 3, 5, 6, 7, 8, 9, 10}));
  for (const auto& [tuned, others] : sharing) {
    std::string names;
    for (const std::string& o : others)
      names += (names.empty() ? "" : ", ") + escape(o, EscapeMode::ascii);
    fmt::print("(+{}) {} share the workload of {}, and its winners\n", others.size(), names,
               escape(tuned, EscapeMode::ascii));
  }
}

/// Writes `text` to `file` through a temporary file renamed into place: a reader never sees a
/// half-written report.
qk::Expected<void> write_atomically(const std::string& file, const std::string& text) {
  const std::string tmp = fmt::format("{}.tmp-{}", file, getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out.flush()) return qk::Error{qk::Errc::io_error, file, "cannot write the report"};
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return qk::Error{qk::Errc::io_error, file, "cannot write the report: " + ec.message()};
  }
  return {};
}

nlohmann::json report_json(const qk::tuner::PlanReport& report, const Args& args,
                           const std::string& device, const std::string& cache) {
  nlohmann::json rows = nlohmann::json::array();
  auto ns = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json();
  };
  for (const auto& r : report.rows) {
    const auto& b = r.bucket;
    rows.push_back({{"layer", r.layer},
                    {"shares_with", r.shares_with},
                    {"bucket", b.bucket},
                    {"default_config", b.default_config},
                    {"default_ns", ns(b.default_ns)},
                    {"chosen_config", b.chosen_config},
                    {"chosen_ns", ns(b.chosen_ns)},
                    {"replaced_default", b.replaced_default},
                    {"complete", b.complete},
                    {"unsupported", b.unsupported},
                    {"space", b.space},
                    {"measured", b.measured},
                    {"reused", b.reused},
                    {"failed", b.failed},
                    {"compile_seconds", b.compile_seconds},
                    {"measure_seconds", b.measure_seconds}});
  }
  return {{"plan", args.plan_file},
          {"device", device},
          {"cache", cache},
          {"shard", args.shard},
          {"seed", args.seed},
          {"seconds", report.seconds},
          {"rows", rows}};
}

int run(const Args& args) {
  if (args.gpu)
    return fail(fmt::format(
        "--gpu {}: no CUDA device: the cuda target is not available in this build and no GPU is "
        "visible on this machine; use --cpu to tune the cpu target",
        *args.gpu));
  const auto shard = parse_shard(args.shard);
  if (!shard)
    return fail(fmt::format("--shard \"{}\": expected i/n with 0 <= i < n, e.g. 0/4", args.shard));
  std::optional<std::vector<std::int64_t>> buckets;
  if (!args.buckets.empty()) {
    auto parsed = qk::codegen::parse_m_buckets(args.buckets);
    if (!parsed) return fail("--buckets: " + parsed.error().str());
    buckets = *parsed;
  }
  if (!(args.budget_seconds >= 0) || !std::isfinite(args.budget_seconds))
    return fail(fmt::format("--budget {}: must be a number of seconds >= 0 (0: no limit)",
                            args.budget_seconds));
  auto plan = qk::load_plan(args.plan_file);
  if (!plan) return fail(plan.error().str());

  const std::filesystem::path cache = args.cache.empty() ? qk::cache::KernelCache::default_path()
                                                         : std::filesystem::path(args.cache);
  auto backend = qk::runtime::CpuBackend::get(args.cpu_level);
  if (!backend) return fail(backend.error().str());
  const std::string device = qk::runtime::cpu_device_fingerprint(
      (*backend)->target(), qk::runtime::call_threads({.threads = args.threads}));

  qk::tuner::PlanTuneOptions options;
  options.settings.cache = cache;
  options.settings.cpu_level = args.cpu_level;
  options.settings.threads = args.threads;
  options.settings.search.seed = args.seed;
  options.settings.search.sample = args.sample;
  if (args.budget_seconds > 0)
    options.settings.deadline = std::chrono::steady_clock::now() +
                                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(args.budget_seconds));
  options.buckets = buckets;
  options.shard_index = shard->first;
  options.shard_count = shard->second;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const auto started = std::chrono::steady_clock::now();
  if (!args.quiet)
    options.progress = [&](std::string_view layer, std::size_t item, std::size_t items,
                           const qk::tuner::Progress& p) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const std::string line = fmt::format("[{}/{} {:.0f} s] {} M<={}: {} {} ({}/{})", item + 1,
                                           items, elapsed, escape(layer, EscapeMode::ascii),
                                           p.bucket, p.stage, p.candidate, p.done, p.total);
      if (tty)
        fmt::print(stderr, "\r\033[K{}", line);
      else if (p.stage == "compiling" && p.done == 0)
        fmt::print(stderr, "{}\n", line);
    };

  fmt::print(stderr, "qk-tune: {} layer(s) of {} on {}\n  cache {}\n", plan->layers.size(),
             escape(args.plan_file, EscapeMode::text), device, cache.string());
  auto report = qk::tuner::tune_plan(*plan, options);
  if (tty && !args.quiet) fmt::print(stderr, "\r\033[K");
  if (!report) return fail(report.error().str());

  print_table(*report);
  std::size_t changed = 0, incomplete = 0;
  for (const auto& r : report->rows) {
    if (!r.shares_with.empty()) continue;
    changed += r.bucket.replaced_default;
    incomplete += !r.bucket.complete && r.bucket.unsupported.empty();
  }
  double compiling = 0, measuring = 0;
  for (const auto& r : report->rows) {
    if (!r.shares_with.empty()) continue;
    compiling += r.bucket.compile_seconds;
    measuring += r.bucket.measure_seconds;
  }
  fmt::print(
      "\n{} work item(s) in {:.1f} s ({:.1f} s compiling, {:.1f} s checking and timing, "
      "the rest making data and references); the tuned tile replaced the default in {}",
      report->items, report->seconds, compiling, measuring, changed);
  if (incomplete)
    fmt::print("; {} bucket(s) wait for more budget (run again: measurements are kept)",
               incomplete);
  fmt::print(".\n");
  if (!args.report_file.empty()) {
    if (auto written = write_atomically(
            args.report_file, report_json(*report, args, device, cache.string()).dump(2) + "\n");
        !written)
      return fail(written.error().str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "qk-tune: tunes the kernels of every layer of a plan on this machine, per bucket of M, and "
      "stores every measurement and the winners in the kernel cache, where qk::jit::compile uses "
      "them (docs/tuning.md)."};
  app.footer(
      "Examples:\n"
      "  qk-tune --cpu examples/plans/llama2_7b_w8a8_smoothquant.json\n"
      "  qk-tune --cpu plan.json --budget 600 --report tune.json\n"
      "  qk-tune --cpu plan.json --shard 1/4 --cache shard1.db   (then: qk-cache merge)\n"
      "\n"
      "A tune is resumable: measurements are stored as they are taken, so a run stopped (or out\n"
      "of budget) continues where it stopped.\n"
      "Exit status: 0 done (or budget used up), 1 unusable plan, cache or device, 2 usage error.");
  Args args;
  app.add_option("PLAN", args.plan_file, "The plan to tune (docs/plan.md)")
      ->required()
      ->check(CLI::ExistingFile);
  auto* cpu = app.add_flag("--cpu", args.cpu, "Tune the cpu target on this machine");
  auto* gpu = app.add_option("--gpu", args.gpu, "Tune the cuda target on GPU N")->type_name("N");
  cpu->excludes(gpu);
  gpu->excludes(cpu);
  app.add_option("--cache", args.cache,
                 "The kernel cache file (default: QK_CACHE, else ~/.cache/qk/kernels.db)")
      ->type_name("FILE");
  app.add_option("--budget", args.budget_seconds,
                 "Stop starting new measurements after this many seconds (0: no limit)")
      ->type_name("SECONDS");
  app.add_option("--shard", args.shard,
                 "Tune only shard i of n of the plan's work (layer x bucket items)")
      ->type_name("i/n")
      ->capture_default_str();
  app.add_option("--buckets", args.buckets,
                 "Buckets of M, ascending (default: 1,2,4,8,16 then powers of two up to each "
                 "layer's m_range max)")
      ->type_name("M,M,...");
  app.add_option("--report", args.report_file, "Also write the summary and timings as JSON")
      ->type_name("FILE.json");
  app.add_option("--cpu-level", args.cpu_level,
                 "The code target: host (this CPU), or a portable level: amx (x86-64-v4 + VNNI + "
                 "AMX-INT8), avx512 (x86-64-v4 + VNNI), avx2 (x86-64-v3)")
      ->check(CLI::IsMember({"host", "amx", "avx512", "avx2"}))
      ->capture_default_str();
  app.add_option("--threads", args.threads, "Threads per kernel call (0: every core)")
      ->check(CLI::Range(0, 1024))
      ->capture_default_str();
  app.add_option("--seed", args.seed, "Seed of the candidate sample (same seed, same candidates)")
      ->capture_default_str();
  app.add_option("--sample", args.sample,
                 "Candidates sampled per bucket when the space is large (successive halving)")
      ->check(CLI::Range(std::size_t{2}, std::size_t{10000}))
      ->capture_default_str();
  app.add_flag("--quiet,-q", args.quiet, "No progress line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!args.cpu && !args.gpu) {
    fmt::print(stderr, "qk-tune: error: say where to tune: --cpu, or --gpu N\n");
    return 2;
  }
  return run(args);
}
