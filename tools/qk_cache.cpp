// qk-cache: looks after kernel cache files: what is in them, prebuilding a plan's cubins for GPUs
// this machine does not have and its cpu kernels for CPUs it is not, merging the shards of a tune
// or the caches of a fleet, shipping a prebuilt cache with a model, verifying checksums, and
// removing what this qk cannot use (docs/cache.md, "Shipping and maintaining a cache").
//
// Example:
//   qk-cache build --arch sm_80,sm_90a examples/plans/llama2_7b_w8a8_smoothquant.json
//   qk-cache build --cpu-level avx512,avx2 examples/plans/llama2_7b_w8a8_smoothquant.json
//   qk-cache merge shard0.db shard1.db -o model/kernels.db
//   QK_CACHE=model/kernels.db qk-cache verify
//
// Exit status: 0 on success, 1 when a file is unusable, verify finds damage or a build fails, 2
// usage error (an unknown arch or cpu level, or neither given, included).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cache/cache_maintenance.hpp"
#include "cache/kernel_cache.hpp"
#include "runtime/cpu_prebuild.hpp"
#include "runtime/cuda_backend.hpp"
#include "runtime/cuda_prebuild.hpp"
#include "templates/embedded.hpp"
#include "tools/terminal_text.hpp"
#include "tuner/retime.hpp"

namespace {

using qk::tools::escape;
using qk::tools::EscapeMode;

int fail(const qk::Error& error) {
  fmt::print(stderr, "qk-cache: error: {}\n", escape(error.str(), EscapeMode::text));
  return 1;
}

/// The template revisions of this qk, one per template folder (target).
std::vector<std::string> current_revisions() {
  std::vector<std::string> out;
  for (const auto& r : qk::templates::revisions()) out.emplace_back(r.revision);
  return out;
}

std::filesystem::path cache_path(const std::string& option) {
  return option.empty() ? qk::cache::KernelCache::default_path() : std::filesystem::path(option);
}

/// "w8a8 fp16->fp16 dynamic_per_token +bias/gelu 4096x4096" from a workload's JSON
/// (docs/tuning.md); the JSON itself, escaped, when it is not one.
std::string workload_summary(const std::string& json) {
  const auto w = nlohmann::json::parse(json, nullptr, false);
  if (w.is_discarded() || !w.is_object()) return escape(json, EscapeMode::ascii);
  auto field = [&](const char* key) {
    const auto it = w.find(key);
    if (it == w.end()) return std::string("?");
    return escape(it->is_string() ? it->get<std::string>() : it->dump(), EscapeMode::ascii);
  };
  std::string epilogue = w.value("bias", false) ? "+bias" : "";
  if (w.contains("activation") && field("activation") != "none")
    epilogue += "/" + field("activation");
  return fmt::format("{} {}->{} {}{} {}x{}", field("family"), field("input"), field("output"),
                     field("scaling"), epilogue.empty() ? "" : " " + epilogue, field("n"),
                     field("k"));
}

/// A CUDA kernel's canonical name split into its spec and its tile, which starts at the last
/// part of the form "<m>x<n>x<k>" ("qk_w8a8_sm_80_fp16_st_bias_none_fp16" and
/// "16x128x128_w1x4_s4_k4", codegen::canonical_name; split-K, raster and producer parts are
/// optional).
std::pair<std::string, std::string> split_tile(const std::string& kernel) {
  auto is_shape = [](std::string_view part) {
    int numbers = 0;
    for (std::size_t i = 0; i < part.size();) {
      std::size_t digits = 0;
      while (i + digits < part.size() && std::isdigit(static_cast<unsigned char>(part[i + digits])))
        ++digits;
      if (digits == 0) return false;
      ++numbers;
      i += digits;
      if (i < part.size() && part[i++] != 'x') return false;
      if (i == part.size() && part.back() == 'x') return false;
    }
    return numbers == 3;
  };
  for (std::size_t cut = kernel.rfind('_'); cut != std::string::npos && cut > 0;
       cut = kernel.rfind('_', cut - 1)) {
    const std::size_t end = kernel.find('_', cut + 1);
    if (is_shape(std::string_view(kernel).substr(cut + 1, end - cut - 1)))
      return {kernel.substr(0, cut), kernel.substr(cut + 1)};
  }
  return {kernel, ""};
}

int list(const std::string& cache_option) {
  auto cache = qk::cache::KernelCache::open(cache_path(cache_option));
  if (!cache) return fail(cache.error());
  auto binaries = (*cache)->list_binaries();
  if (!binaries) return fail(binaries.error());
  const std::vector<std::string> revisions = current_revisions();
  auto current = [&](const std::string& revision) {
    return std::find(revisions.begin(), revisions.end(), revision) != revisions.end();
  };
  // Cubins (binaries whose attributes are a cubin's) get a table of their own with ptxas' report.
  std::vector<std::vector<std::string>> rows{
      {"kernel", "target", "compiler", "KiB", "compile ms", "templates"}};
  std::vector<std::vector<std::string>> cubins{{"arch", "kernel spec", "tile", "registers",
                                                "smem B", "spills B", "KiB", "compile ms",
                                                "templates", "producer regs/spills"}};
  for (const auto& b : *binaries) {
    const std::string state = current(b.key.template_revision) ? "current" : "stale";
    const std::string kib = fmt::format("{:.1f}", b.size / 1024.0);
    const std::string ms = fmt::format("{:.0f}", b.compile_ms);
    if (auto cubin = qk::runtime::parse_cubin_attributes(b.attributes)) {
      const auto [spec, tile] = split_tile(b.key.kernel);
      const auto& r = cubin->resources;
      cubins.push_back({escape(b.key.target, EscapeMode::ascii), escape(spec, EscapeMode::ascii),
                        escape(tile, EscapeMode::ascii), std::to_string(r.registers),
                        std::to_string(cubin->dynamic_smem_bytes + r.static_smem_bytes),
                        std::to_string(r.spill_store_bytes + r.spill_load_bytes), kib, ms, state,
                        cubin->producer_lowered_name.empty()
                            ? "-"
                            : fmt::format("{}/{}", cubin->producer_resources.registers,
                                          cubin->producer_resources.spill_store_bytes +
                                              cubin->producer_resources.spill_load_bytes)});
      continue;
    }
    const std::string target = b.key.target.substr(0, b.key.target.find(';'));
    rows.push_back({b.key.kernel, target, b.key.compiler, kib, ms, state});
  }
  fmt::print("{}: {} binaries\n", (*cache)->path().string(), rows.size() - 1);
  fmt::print("{}", qk::tools::format_table(rows, {3, 4}));
  fmt::print("\n{} cubins\n", cubins.size() - 1);
  fmt::print("{}", qk::tools::format_table(cubins, {3, 4, 5, 6, 7}));
  auto winners = (*cache)->list_winners();
  if (!winners) return fail(winners.error());
  fmt::print("\n{} tuned winners\n", winners->size());
  rows = {{"workload", "M<=", "winner", "ms", "default ms", "device", "state"}};
  for (const auto& w : *winners) {
    const auto& r = w.winner;
    rows.push_back({workload_summary(w.workload_json), std::to_string(r.bucket), r.config_name,
                    fmt::format("{:.3f}", r.median_ns * 1e-6),
                    fmt::format("{:.3f}", r.default_median_ns * 1e-6),
                    escape(r.device_fingerprint, EscapeMode::ascii),
                    !w.checksum_ok                  ? "DAMAGED"
                    : !current(r.template_revision) ? "stale"
                                                    : "ok"});
  }
  fmt::print("{}", qk::tools::format_table(rows, {1, 3, 4}));
  return 0;
}

int merge(const std::vector<std::string>& sources, const std::string& output,
          const qk::cache::MergeFilter& filter) {
  auto cache = qk::cache::KernelCache::open(output);
  if (!cache) return fail(cache.error());
  for (const std::string& source : sources) {
    if (std::filesystem::exists(source) && std::filesystem::equivalent(source, (*cache)->path()))
      return fail({qk::Errc::invalid_argument, source, "is the output file itself"});
    auto stats = qk::cache::merge_into(**cache, source, filter);
    if (!stats) return fail(stats.error());
    fmt::print("{}: +{} binaries, +{} measurements, +{} winners", source, stats->binaries,
               stats->timings, stats->winners);
    if (stats->binaries_skipped)
      fmt::print(", {} binaries of other targets left out", stats->binaries_skipped);
    if (stats->headers_skipped)
      fmt::print(", {} precompiled headers left out", stats->headers_skipped);
    if (stats->binaries_damaged || stats->winners_damaged)
      fmt::print(", {} damaged binaries and {} damaged winners NOT copied", stats->binaries_damaged,
                 stats->winners_damaged);
    fmt::print("\n");
  }
  fmt::print("-> {}\n", (*cache)->path().string());
  return 0;
}

/// Re-times the top_k winners of this device beside their defaults (tuner/retime.hpp).
int retime(const std::string& cache_option, std::size_t top_k, const std::string& cpu_level,
           int threads) {
  qk::tuner::TuneSettings settings;
  settings.cache = cache_path(cache_option);
  settings.cpu_level = cpu_level;
  settings.threads = threads;
  auto results = qk::tuner::retime_winners(settings, top_k);
  if (!results) return fail(results.error());
  std::vector<std::vector<std::string>> rows{
      {"workload", "M<=", "winner", "claimed", "measured now", "verdict"}};
  std::size_t replaced = 0;
  for (const auto& r : *results) {
    const auto ratio = [](double a, double b) {
      return b > 0 ? fmt::format("{:.2f}x", a / b) : "-";
    };
    replaced += !r.confirmed;
    rows.push_back({workload_summary(r.workload_json), std::to_string(r.stored.bucket),
                    r.stored.config_name, ratio(r.stored.default_median_ns, r.stored.median_ns),
                    r.winner_ns && r.default_ns ? ratio(*r.default_ns, *r.winner_ns) : "-",
                    r.confirmed         ? "confirmed"
                    : r.problem.empty() ? "not faster here: default restored"
                                        : "failed (" + escape(r.problem, EscapeMode::ascii) +
                                              "): default restored"});
  }
  fmt::print("re-timed {} winner(s) of this device beside their defaults\n{}", results->size(),
             qk::tools::format_table(rows, {1, 3, 4}));
  fmt::print("{} confirmed, {} replaced by their default\n", results->size() - replaced, replaced);
  return 0;
}

int verify(const std::string& cache_option) {
  auto cache = qk::cache::KernelCache::open(cache_path(cache_option));
  if (!cache) return fail(cache.error());
  auto report = qk::cache::verify(**cache, current_revisions());
  if (!report) return fail(report.error());
  fmt::print("{}\n", (*cache)->path().string());
  for (const std::string& p : report->provenance) fmt::print("  made by {}\n", p);
  fmt::print("  binaries: {} ({} damaged, {} of other template revisions)\n", report->binaries,
             report->binaries_damaged, report->binaries_stale);
  fmt::print("  winners:  {} ({} damaged, {} of other template revisions)\n", report->winners,
             report->winners_damaged, report->winners_stale);
  for (const std::string& p : report->problems) fmt::print("  DAMAGED {}\n", p);
  const bool damaged = report->binaries_damaged || report->winners_damaged;
  fmt::print("{}\n", damaged ? "damaged records are never used; `qk-cache gc` keeps the rest, or "
                               "rebuild the file"
                             : "ok");
  return damaged ? 1 : 0;
}

struct BuildOptions {
  std::string archs;       // cuda, "sm_80,sm_90a"; empty: none
  std::string cpu_levels;  // cpu, "avx512,avx2"; empty: none
  std::string plan;
  std::string cache;
  int jobs = 0;  // 0: one per core
};

/// What the build of one target prints beside its results.
struct BuildContext {
  const qk::Plan& plan;
  qk::cache::KernelCache& cache;
  int threads;
};

std::string plan_label(const qk::Plan& plan, std::size_t layer) {
  return escape(qk::runtime::layer_label(plan, layer), EscapeMode::ascii);
}

void print_skipped(const BuildContext& context, std::size_t layer, const std::string& reason) {
  fmt::print(stderr, "skipped {}: {}\n", plan_label(context.plan, layer),
             escape(reason, EscapeMode::text));
}

/// "[3/12] qk_w8a8_… 412 ms": one line on stderr as each kernel is done.
template <class Result>
void print_progress(std::size_t done, std::size_t total, const std::string& name,
                    const qk::Expected<Result>& r) {
  if (!r)
    fmt::print(stderr, "[{}/{}] {} FAILED: {}\n", done, total, name,
               escape(r.error().str(), EscapeMode::text));
  else
    fmt::print(stderr, "[{}/{}] {} {}\n", done, total, name,
               r->from_cache ? "in the cache" : fmt::format("{:.0f} ms", r->compile_ms));
}

/// The label of each group's first layer in the tables, "layers[0] (q) +6 with the same kernels"
/// (a model's repeated blocks get one set of rows); the other layers of a group have none.
std::map<std::size_t, std::string> group_labels(
    const qk::Plan& plan, const std::vector<std::vector<std::size_t>>& groups) {
  std::map<std::size_t, std::string> out;
  for (const auto& group : groups)
    out[group.front()] = group.size() == 1
                             ? plan_label(plan, group.front())
                             : fmt::format("{} +{} with the same kernels",
                                           plan_label(plan, group.front()), group.size() - 1);
  return out;
}

std::string m_range(std::int64_t m_min, std::int64_t m_max) {
  return m_min == m_max ? fmt::format("{}", m_max) : fmt::format("{}-{}", m_min, m_max);
}

/// The compile-time column of a kernel's row: its first row only.
template <class Result>
std::string compile_cell(const Result& r, bool shown) {
  return shown ? "(same kernel)" : r.from_cache ? "cached" : fmt::format("{:.0f}", r.compile_ms);
}

/// Kernels compiled, found in the cache and failed; compile ms of those compiled; bytes of all.
struct BuildTotals {
  std::size_t compiled = 0, cached = 0, failed = 0, bytes = 0;
  double compile_ms = 0;

  template <class Result>
  void add(const qk::Expected<Result>& r, std::size_t size) {
    if (!r) {
      ++failed;
      return;
    }
    bytes += size;
    if (r->from_cache) {
      ++cached;
    } else {
      ++compiled;
      compile_ms += r->compile_ms;
    }
  }
  std::string str(const char* compiler) const {
    return fmt::format(
        "{} kernel(s): {} compiled ({:.1f} s of {}), {} already in the cache, {} "
        "failed; {:.1f} KiB",
        compiled + cached + failed, compiled, compile_ms / 1000, compiler, cached, failed,
        bytes / 1024.0);
  }
};

/// The cuda part of qk-cache build: every cubin the plan's layers need on each arch.
int build_cuda(const BuildContext& context, const qk::runtime::CudaBuildList& list,
               std::size_t archs, const qk::runtime::CudaBackend& backend) {
  for (const auto& s : list.skipped) print_skipped(context, s.layer, s.reason);
  fmt::print(stderr, "{} kernel(s) for {} layer use(s) on {} arch(s), {} thread(s), into {}\n",
             list.jobs.size(), list.uses.size(), archs, context.threads,
             context.cache.path().string());
  std::size_t done = 0;
  const auto results = qk::runtime::run_cuda_build(
      backend, &context.cache, list.jobs, context.threads,
      [&](std::size_t job, const qk::Expected<qk::runtime::CudaCubin>& r) {
        print_progress(++done, list.jobs.size(), qk::codegen::canonical_name(list.jobs[job]), r);
      });

  const auto labels = group_labels(context.plan, qk::runtime::layers_with_same_kernels(list));
  std::vector<std::vector<std::string>> rows{
      {"layer", "arch", "M", "tile", "registers", "smem B", "spills B", "cubin KiB", "compile ms"}};
  std::vector<bool> shown(list.jobs.size(), false);
  for (const auto& use : list.uses) {
    if (!labels.contains(use.layer)) continue;
    const auto& spec = list.jobs[use.job];
    std::vector<std::string> row{labels.at(use.layer), std::string(qk::to_string(use.arch)),
                                 m_range(use.m_min, use.m_max),
                                 qk::codegen::canonical_name(spec.tile)};
    const auto& r = results[use.job];
    if (!r) {
      row.insert(row.end(), {"-", "-", "-", "-", "FAILED"});
    } else {
      const auto& res = r->attributes.resources;
      row.insert(
          row.end(),
          {std::to_string(res.registers),
           std::to_string(r->attributes.dynamic_smem_bytes + res.static_smem_bytes),
           std::to_string(res.spill_store_bytes + res.spill_load_bytes),
           fmt::format("{:.1f}", r->cubin.size() / 1024.0), compile_cell(*r, shown[use.job])});
    }
    shown[use.job] = true;
    rows.push_back(std::move(row));
  }
  fmt::print("{}", qk::tools::format_table(rows, {4, 5, 6, 7, 8}));

  BuildTotals totals;
  for (const auto& r : results) totals.add(r, r ? r->cubin.size() : 0);
  fmt::print("{} of cubins; {} layer(s) skipped\n", totals.str("NVRTC"), list.skipped.size());
  return totals.failed ? 1 : 0;
}

/// The cpu part of qk-cache build: every object a machine of each level compiles for the plan's
/// layers, compiled here and stored without being loaded.
int build_cpu(const BuildContext& context,
              const std::vector<const qk::runtime::CpuBackend*>& backends) {
  auto list = qk::runtime::cpu_build_list(context.plan, backends, &context.cache);
  if (!list) return fail(list.error());
  for (const auto& s : list->skipped) print_skipped(context, s.layer, s.reason);
  fmt::print(stderr, "{} kernel(s) for {} layer use(s) at {} cpu level(s), {} thread(s), into {}\n",
             list->jobs.size(), list->uses.size(), backends.size(), context.threads,
             context.cache.path().string());
  std::size_t done = 0;
  const auto results = qk::runtime::run_cpu_build(
      backends, context.cache, list->jobs, context.threads,
      [&](std::size_t, const qk::Expected<qk::runtime::CpuBackend::StoredObject>& r) {
        print_progress(++done, list->jobs.size(), r ? r->name : std::string("a kernel"), r);
      });

  const auto labels = group_labels(context.plan, qk::runtime::layers_with_same_kernels(*list));
  std::vector<std::vector<std::string>> rows{
      {"layer", "level", "M", "tile", "chosen by", "object KiB", "compile ms"}};
  std::vector<bool> shown(list->jobs.size(), false);
  for (const auto& use : list->uses) {
    if (!labels.contains(use.layer)) continue;
    const auto& r = results[use.job];
    rows.push_back(
        {labels.at(use.layer), backends[use.level]->level(), m_range(use.m_min, use.m_max),
         qk::codegen::canonical_name(list->jobs[use.job].spec.tile),
         use.tuned ? "tuned" : "default", r ? fmt::format("{:.1f}", r->bytes / 1024.0) : "-",
         r ? compile_cell(*r, shown[use.job]) : "FAILED"});
    shown[use.job] = true;
  }
  fmt::print("{}", qk::tools::format_table(rows, {5, 6}));

  std::vector<BuildTotals> per_level(backends.size());
  for (std::size_t job = 0; job < results.size(); ++job) {
    const auto& r = results[job];
    per_level[list->jobs[job].level].add(r, r ? static_cast<std::size_t>(r->bytes) : 0);
  }
  std::size_t failed = 0;
  for (std::size_t level = 0; level < backends.size(); ++level) {
    fmt::print("{}: {} of objects\n", backends[level]->level(), per_level[level].str("clang"));
    failed += per_level[level].failed;
  }
  fmt::print("{} layer(s) skipped\n", list->skipped.size());
  return failed ? 1 : 0;
}

/// qk-cache build: the kernels the plan's layers need on each cuda arch and at each cpu level,
/// into the cache.
int build(const BuildOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  const auto usage = [](const qk::Error& error) {
    fail(error);
    return 2;
  };
  if (options.archs.empty() && options.cpu_levels.empty())
    return usage({qk::Errc::invalid_argument, "build",
                  "give --arch (cuda archs) or --cpu-level (cpu levels), or both"});
  // Everything the user gave is checked before the cache file is opened: bad input writes nothing.
  std::vector<qk::codegen::CudaArch> archs;
  if (!options.archs.empty()) {
    auto parsed = qk::runtime::parse_cuda_archs(options.archs);
    if (!parsed) return usage(parsed.error());
    archs = std::move(*parsed);
  }
  std::vector<std::string> levels;
  if (!options.cpu_levels.empty()) {
    auto parsed = qk::runtime::parse_cpu_levels(options.cpu_levels);
    if (!parsed) return usage(parsed.error());
    levels = std::move(*parsed);
  }
  auto plan = qk::load_plan(options.plan);
  if (!plan) return fail(plan.error());
  std::unique_ptr<qk::runtime::CudaBackend> cuda;
  qk::runtime::CudaBuildList cuda_list;
  if (!archs.empty()) {
    auto list = qk::runtime::cuda_build_list(*plan, archs);
    if (!list) return fail(list.error());
    cuda_list = std::move(*list);
    auto created = qk::runtime::CudaBackend::create();
    if (!created) return fail(created.error());
    cuda = std::move(*created);
  }
  std::vector<std::unique_ptr<qk::runtime::CpuBackend>> cpu;
  for (const std::string& level : levels) {
    auto created = qk::runtime::CpuBackend::compile_only(level);
    if (!created) return fail(created.error());
    cpu.push_back(std::move(*created));
  }
  auto cache = qk::cache::KernelCache::open(cache_path(options.cache));
  if (!cache) return fail(cache.error());

  const int threads = options.jobs > 0
                          ? options.jobs
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const BuildContext context{*plan, **cache, threads};
  int status = 0;
  if (cuda) status = std::max(status, build_cuda(context, cuda_list, archs.size(), *cuda));
  if (!cpu.empty()) {
    std::vector<const qk::runtime::CpuBackend*> backends;
    for (const auto& b : cpu) backends.push_back(b.get());
    status = std::max(status, build_cpu(context, backends));
  }
  fmt::print("wall {:.1f} s with {} thread(s)\n",
             std::chrono::duration<double>(Clock::now() - started).count(), threads);
  return status;
}

int gc(const std::string& cache_option) {
  auto cache = qk::cache::KernelCache::open(cache_path(cache_option));
  if (!cache) return fail(cache.error());
  auto stats = qk::cache::collect_garbage(**cache, current_revisions());
  if (!stats) return fail(stats.error());
  fmt::print(
      "{}: removed {} binaries, {} measurements, {} winners, {} workloads of other "
      "template revisions; {:.1f} -> {:.1f} MiB\n",
      (*cache)->path().string(), stats->binaries, stats->timings, stats->winners, stats->workloads,
      stats->bytes_before / 1048576.0, stats->bytes_after / 1048576.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "qk-cache: inspects, merges, ships, verifies and cleans kernel cache files "
      "(docs/cache.md)."};
  app.footer(
      "The cache file: --cache FILE, else QK_CACHE, else ~/.cache/qk/kernels.db.\n"
      "Examples:\n"
      "  qk-cache list\n"
      "  qk-cache build --arch sm_80,sm_86,sm_89,sm_90a plan.json\n"
      "  qk-cache build --cpu-level avx512,avx2 plan.json --cache model/kernels.db\n"
      "  qk-cache merge shard0.db shard1.db -o merged.db\n"
      "  qk-cache export --target cpu= --without-pch -o model/kernels.db\n"
      "  qk-cache import model/kernels.db\n"
      "  qk-cache verify --cache model/kernels.db\n"
      "Exit status: 0 ok, 1 unusable file or damage found, 2 usage error.");
  app.require_subcommand(1);
  std::string cache_option, output;
  qk::cache::MergeFilter export_filter;
  std::vector<std::string> sources;
  std::string import_file;

  auto add_cache = [&](CLI::App* sub) {
    sub->add_option("--cache", cache_option, "The cache file")->type_name("FILE");
  };
  CLI::App* list_cmd = app.add_subcommand("list", "Show the binaries and tuned winners of a cache");
  add_cache(list_cmd);
  CLI::App* merge_cmd = app.add_subcommand(
      "merge", "Merge cache files (tune shards, fleets) into one, all or nothing");
  merge_cmd->add_option("SOURCES", sources, "Cache files to merge")
      ->required()
      ->check(CLI::ExistingFile);
  merge_cmd->add_option("-o,--output", output, "The merged file (created, or merged into)")
      ->required();
  CLI::App* export_cmd = app.add_subcommand(
      "export", "Copy a cache's records for one target into a file to ship with a model");
  add_cache(export_cmd);
  export_cmd
      ->add_option("--target", export_filter.target,
                   "Keep binaries whose target contains TEXT (e.g. cpu= or sm_90a)")
      ->required()
      ->type_name("TEXT");
  export_cmd->add_option("-o,--output", output, "The file to write")->required();
  bool without_headers = false;
  export_cmd->add_flag("--without-pch", without_headers,
                       "Leave out the precompiled headers (about 8 MiB per cpu level): only a "
                       "machine that compiles a kernel the file lacks would use them");
  CLI::App* import_cmd =
      app.add_subcommand("import", "Merge a shipped cache file into this machine's cache");
  add_cache(import_cmd);
  import_cmd->add_option("FILE", import_file, "The shipped cache")
      ->required()
      ->check(CLI::ExistingFile);
  CLI::App* verify_cmd = app.add_subcommand(
      "verify", "Check every binary's and winner's checksum and show the file's provenance");
  add_cache(verify_cmd);
  std::size_t retime_top_k = 0;
  std::string cpu_level = "host";
  int threads = 0;
  verify_cmd
      ->add_option("--retime", retime_top_k,
                   "Also re-time the K winners of this device with the largest claimed speedups "
                   "beside their defaults; a winner not faster here is replaced by its default")
      ->type_name("K");
  verify_cmd->add_option("--cpu-level", cpu_level, "The code target, as for qk-tune")
      ->check(CLI::IsMember({"host", "amx", "avx512", "avx2"}))
      ->capture_default_str();
  verify_cmd->add_option("--threads", threads, "Threads per call, as for qk-tune (0: all)")
      ->check(CLI::Range(0, 1024));
  BuildOptions build_options;
  CLI::App* build_cmd = app.add_subcommand(
      "build",
      "Compile the kernels a plan's layers need on each cuda arch (NVRTC, no GPU needed) and/or "
      "at each cpu level (clang; nothing is run, so any level builds on any x86-64 machine); "
      "at least one of --arch, --cpu-level");
  build_cmd
      ->add_option("--arch", build_options.archs,
                   "cuda: comma-separated archs: sm_80, sm_86, sm_89, sm_90a")
      ->type_name("LIST");
  build_cmd
      ->add_option("--cpu-level", build_options.cpu_levels,
                   "cpu: comma-separated portable levels: avx512, avx2, amx (this machine need "
                   "not run them)")
      ->type_name("LIST");
  build_cmd->add_option("PLAN", build_options.plan, "The plan (plan.json)")->required();
  build_cmd->add_option("--cache", build_options.cache, "The cache file")->type_name("FILE");
  build_cmd
      ->add_option("-j,--jobs", build_options.jobs, "Parallel compiles (default: one per core)")
      ->check(CLI::Range(1, 1024));
  CLI::App* gc_cmd = app.add_subcommand(
      "gc", "Delete what this qk cannot use (other template revisions) and compact the file");
  add_cache(gc_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (list_cmd->parsed()) return list(cache_option);
  if (build_cmd->parsed()) return build(build_options);
  if (merge_cmd->parsed()) return merge(sources, output, {});
  if (export_cmd->parsed()) {
    if (std::filesystem::exists(output))
      return fail({qk::Errc::invalid_argument, output,
                   "exists already; export writes a new file (use merge to add to one)"});
    export_filter.precompiled_headers = !without_headers;
    return merge({cache_path(cache_option).string()}, output, export_filter);
  }
  if (import_cmd->parsed()) return merge({import_file}, cache_path(cache_option).string(), {});
  if (verify_cmd->parsed()) {
    const int status = verify(cache_option);
    if (status != 0 || retime_top_k == 0) return status;
    return retime(cache_option, retime_top_k, cpu_level, threads);
  }
  return gc(cache_option);
}
