// qk-cache: looks after kernel cache files: what is in them, merging the shards of a tune or the
// caches of a fleet, shipping a prebuilt cache with a model, verifying checksums, and removing
// what this qk cannot use (docs/cache.md, "Shipping and maintaining a cache").
//
// Example:
//   qk-cache merge shard0.db shard1.db -o model/kernels.db
//   QK_CACHE=model/kernels.db qk-cache verify
//
// Exit status: 0 on success, 1 when a file is unusable or verify finds damage, 2 usage error.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cache/cache_maintenance.hpp"
#include "cache/kernel_cache.hpp"
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

int list(const std::string& cache_option) {
  auto cache = qk::cache::KernelCache::open(cache_path(cache_option));
  if (!cache) return fail(cache.error());
  auto binaries = (*cache)->list_binaries();
  if (!binaries) return fail(binaries.error());
  const std::vector<std::string> revisions = current_revisions();
  auto current = [&](const std::string& revision) {
    return std::find(revisions.begin(), revisions.end(), revision) != revisions.end();
  };
  fmt::print("{}: {} binaries\n", (*cache)->path().string(), binaries->size());
  std::vector<std::vector<std::string>> rows{
      {"kernel", "target", "compiler", "KiB", "compile ms", "templates"}};
  for (const auto& b : *binaries) {
    const std::string target = b.key.target.substr(0, b.key.target.find(';'));
    rows.push_back({b.key.kernel, target, b.key.compiler, fmt::format("{:.1f}", b.size / 1024.0),
                    fmt::format("{:.0f}", b.compile_ms),
                    current(b.key.template_revision) ? "current" : "stale"});
  }
  fmt::print("{}", qk::tools::format_table(rows, {3, 4}));
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
          const std::string& target_filter) {
  auto cache = qk::cache::KernelCache::open(output);
  if (!cache) return fail(cache.error());
  for (const std::string& source : sources) {
    if (std::filesystem::exists(source) && std::filesystem::equivalent(source, (*cache)->path()))
      return fail({qk::Errc::invalid_argument, source, "is the output file itself"});
    auto stats = qk::cache::merge_into(**cache, source, target_filter);
    if (!stats) return fail(stats.error());
    fmt::print("{}: +{} binaries, +{} measurements, +{} winners", source, stats->binaries,
               stats->timings, stats->winners);
    if (stats->binaries_skipped)
      fmt::print(", {} binaries of other targets left out", stats->binaries_skipped);
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
      "  qk-cache merge shard0.db shard1.db -o merged.db\n"
      "  qk-cache export --target cpu= -o model/kernels.db\n"
      "  qk-cache import model/kernels.db\n"
      "  qk-cache verify --cache model/kernels.db\n"
      "Exit status: 0 ok, 1 unusable file or damage found, 2 usage error.");
  app.require_subcommand(1);
  std::string cache_option, output, target_filter;
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
      ->add_option("--target", target_filter,
                   "Keep binaries whose target contains TEXT (e.g. cpu= or sm_90a)")
      ->required()
      ->type_name("TEXT");
  export_cmd->add_option("-o,--output", output, "The file to write")->required();
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
      ->check(CLI::IsMember({"host", "avx512"}))
      ->capture_default_str();
  verify_cmd->add_option("--threads", threads, "Threads per call, as for qk-tune (0: all)")
      ->check(CLI::Range(0, 1024));
  CLI::App* gc_cmd = app.add_subcommand(
      "gc", "Delete what this qk cannot use (other template revisions) and compact the file");
  add_cache(gc_cmd);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (list_cmd->parsed()) return list(cache_option);
  if (merge_cmd->parsed()) return merge(sources, output, {});
  if (export_cmd->parsed()) {
    if (std::filesystem::exists(output))
      return fail({qk::Errc::invalid_argument, output,
                   "exists already; export writes a new file (use merge to add to one)"});
    return merge({cache_path(cache_option).string()}, output, target_filter);
  }
  if (import_cmd->parsed()) return merge({import_file}, cache_path(cache_option).string(), {});
  if (verify_cmd->parsed()) {
    const int status = verify(cache_option);
    if (status != 0 || retime_top_k == 0) return status;
    return retime(cache_option, retime_top_k, cpu_level, threads);
  }
  return gc(cache_option);
}
