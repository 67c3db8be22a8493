#include "tuner/workload_tuner.hpp"

#include <algorithm>
#include <future>
#include <limits>
#include <map>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "codegen/cpu_kernel_spec.hpp"
#include "codegen/cpu_search_space.hpp"
#include "codegen/workload.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tiled_compile.hpp"
#include "tuner/tuning_problem.hpp"

namespace qk::tuner {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The stored name of a fidelity: "rung0", "rung1", ... or "full".
std::string fidelity_name(Fidelity f) {
  return f == kFullFidelity ? std::string("full") : "rung" + std::to_string(f);
}

MeasureOptions options_for(Fidelity f, const TuneSettings& settings) {
  if (f == kFullFidelity) return settings.full;
  MeasureOptions o = settings.quick;
  o.min_repeats *= f + 1;
  o.max_repeats *= f + 1;
  o.min_seconds *= f + 1;
  o.max_seconds = std::min(o.max_seconds * (f + 1), settings.full.max_seconds);
  return o;
}

/// One bucket's candidates: compiled kernels (or why not), checked once, measured.
class BucketTuner {
 public:
  BucketTuner(const LayerConfig& layer, std::int64_t bucket, const TuneSettings& settings,
              cache::KernelCache& cache, const runtime::TuningKeys& keys,
              std::vector<codegen::CpuTile> space, BucketReport& report)
      : layer_(layer),
        bucket_(bucket),
        settings_(settings),
        cache_(cache),
        keys_(keys),
        space_(std::move(space)),
        report_(report) {
    for (const codegen::CpuTile& t : space_) names_.push_back(codegen::canonical_name(t));
    kernels_.resize(space_.size());
  }

  const std::vector<std::string>& names() const { return names_; }

  /// Earlier measurements of this bucket (resuming): by config and fidelity.
  Expected<void> load_earlier() {
    auto earlier = cache_.find_timings(keys_.workload_hash, bucket_, keys_.device_fingerprint,
                                       keys_.template_revision);
    if (!earlier) return earlier.error();
    for (cache::TimingRecord& t : *earlier) earlier_[{t.config_name, t.fidelity}] = std::move(t);
    return {};
  }

  /// Compiles (or loads from the cache) the candidates `indices`, as many at once as the
  /// machine has cores. Those an earlier run measured are skipped: evaluate() compiles them
  /// only if the search measures them anew.
  void compile(const std::vector<std::size_t>& indices) {
    const auto start = Clock::now();
    const std::size_t parallel = std::max(1u, std::thread::hardware_concurrency());
    for (std::size_t first = 0; first < indices.size(); first += parallel) {
      std::vector<std::pair<std::size_t, std::future<Expected<Kernel>>>> batch;
      for (std::size_t b = first; b < std::min(indices.size(), first + parallel); ++b) {
        const std::size_t i = indices[b];
        if (kernels_[i] || Clock::now() > settings_.deadline) continue;
        // Measured by an earlier run: compiled only if the search measures it anew.
        if (earlier_.count({names_[i], fidelity_name(0)}) ||
            earlier_.count({names_[i], fidelity_name(kFullFidelity)}))
          continue;
        progress("compiling", i);
        batch.emplace_back(i, std::async(std::launch::async, [this, i] {
                             return runtime::compile_with_tiles(
                                 layer_,
                                 {.cache = settings_.cache,
                                  .cpu_level = settings_.cpu_level,
                                  .threads = settings_.threads},
                                 {{std::numeric_limits<std::int64_t>::max(), space_[i]}});
                           }));
      }
      for (auto& [i, future] : batch) kernels_[i].emplace(future.get());
    }
    report_.compile_seconds += seconds_since(start);
  }

  /// One evaluation for search(); counted as done for the progress display when it returns.
  Score evaluate(std::size_t i, Fidelity fidelity, TuningProblem& problem) {
    cache::TimingRecord record;
    Score score;
    if (auto known = prepare(i, fidelity, problem, record)) {
      score = *known;
    } else {
      progress("timing", i);
      const auto start = Clock::now();
      const Measurement m = measure([&](std::size_t run) { problem.run(**kernels_[i], run); },
                                    options_for(fidelity, settings_));
      report_.measure_seconds += seconds_since(start);
      score = finish(i, std::move(record), &m);
    }
    ++done_;
    return score;
  }

  /// The final rung for search(): the candidates that need a full measurement are timed
  /// together, interleaved run by run, so that the winner and the default it must beat see the
  /// same host (measure_interleaved). The time cap grows with their number.
  std::vector<Score> evaluate_final(const std::vector<std::size_t>& indices,
                                    TuningProblem& problem) {
    std::vector<Score> scores(indices.size());
    std::vector<std::size_t> timed;  // positions in indices
    std::vector<cache::TimingRecord> records;
    std::vector<std::function<void(std::size_t)>> runs;
    std::size_t stride = 0;
    for (std::size_t j = 0; j < indices.size(); ++j) {
      const std::size_t i = indices[j];
      cache::TimingRecord record;
      if (auto known = prepare(i, kFullFidelity, problem, record)) {
        scores[j] = *known;
        continue;
      }
      timed.push_back(j);
      records.push_back(std::move(record));
      // The candidates share the problem's rotating copies: run j of the candidate in `slot`
      // takes copy j * stride + slot, so no run reads the copy the run before it just warmed.
      runs.push_back([&problem, &stride, kernel = &**kernels_[i], slot = runs.size()](
                         std::size_t run) { problem.run(*kernel, run * stride + slot); });
    }
    stride = runs.size();
    if (!runs.empty()) {
      progress("timing together", indices[timed.front()]);
      MeasureOptions options = settings_.full;
      options.max_seconds *= static_cast<double>(runs.size());
      const auto start = Clock::now();
      const std::vector<Measurement> m = measure_interleaved(runs, options);
      report_.measure_seconds += seconds_since(start);
      for (std::size_t t = 0; t < timed.size(); ++t)
        scores[timed[t]] = finish(indices[timed[t]], std::move(records[t]), &m[t]);
    }
    done_ += indices.size();
    return scores;
  }

  bool over_budget() const { return over_budget_; }
  void set_total(std::size_t total) { total_ = total; }

 private:
  /// Candidate i at `fidelity`: its Score when no measurement is needed (measured before, over
  /// budget, failed to compile or its check); otherwise nullopt, with `record` ready for
  /// finish() and the kernel compiled and checked.
  std::optional<Score> prepare(std::size_t i, Fidelity fidelity, TuningProblem& problem,
                               cache::TimingRecord& record) {
    const auto key = std::make_pair(names_[i], fidelity_name(fidelity));
    if (auto it = earlier_.find(key); it != earlier_.end()) {
      ++report_.reused;
      progress("reused", i);
      return score_of(it->second);
    }
    if (auto it = this_run_.find(key); it != this_run_.end()) return score_of(it->second);
    if (Clock::now() > settings_.deadline) {
      over_budget_ = true;
      return Score::failed();
    }
    if (!kernels_[i]) compile({i});
    if (!kernels_[i]) {  // the deadline passed while compiling others
      over_budget_ = true;
      return Score::failed();
    }
    record.workload_hash = keys_.workload_hash;
    record.bucket = bucket_;
    record.config_name = names_[i];
    record.device_fingerprint = keys_.device_fingerprint;
    record.template_revision = keys_.template_revision;
    record.fidelity = fidelity_name(fidelity);

    const Expected<Kernel>& kernel = *kernels_[i];
    if (!kernel) {
      record.status = kernel.error().code == Errc::compile_error ? "compile_error" : "invalid";
      record.reason = kernel.error().str();
    } else if (wrong_.count(i)) {
      record.status = "wrong_result";
      record.reason = "failed its check earlier in this run";
    } else if (checked_.insert(i).second) {
      progress("checking", i);
      const auto start = Clock::now();
      if (auto ok = problem.check(*kernel); !ok) {
        wrong_.insert(i);
        record.status = "wrong_result";
        record.reason = ok.error().str();
      }
      report_.measure_seconds += seconds_since(start);
    }
    if (record.status != "ok") return finish(i, std::move(record), nullptr);
    return std::nullopt;
  }

  /// Stores candidate i's record, with its measurement when it ran, and returns its score.
  Score finish(std::size_t i, cache::TimingRecord record, const Measurement* m) {
    if (m) {
      record.median_ns = m->median_ns;
      record.spread_ns = m->p75_ns - m->p25_ns;
      record.repeats = m->repeats;
      measured_.insert(i);
      report_.measured = measured_.size();
    } else if (failed_.insert(i).second) {
      ++report_.failed;
    }
    // A record that cannot be stored costs only the resumption of this measurement.
    if (auto stored = cache_.store_timing(record); !stored)
      fmt::print(stderr, "qk-tune: warning: could not store a measurement: {}\n",
                 stored.error().str());
    this_run_[{record.config_name, record.fidelity}] = record;
    return score_of(record);
  }

  static Score score_of(const cache::TimingRecord& t) {
    if (!t.median_ns) return Score::failed();
    return {t.median_ns, t.spread_ns.value_or(0)};
  }

  void progress(std::string_view stage, std::size_t i) {
    if (settings_.progress)
      settings_.progress({bucket_, std::string(stage), names_[i], done_, total_});
  }

  const LayerConfig& layer_;
  std::int64_t bucket_;
  const TuneSettings& settings_;
  cache::KernelCache& cache_;
  const runtime::TuningKeys& keys_;
  std::vector<codegen::CpuTile> space_;
  std::vector<std::string> names_;
  std::vector<std::optional<Expected<Kernel>>> kernels_;
  // Measurements by (config, fidelity): from earlier runs (resuming), and from this one.
  std::map<std::pair<std::string, std::string>, cache::TimingRecord> earlier_, this_run_;
  std::set<std::size_t> checked_, wrong_, measured_, failed_;
  BucketReport& report_;
  bool over_budget_ = false;
  std::size_t done_ = 0, total_ = 0;
};

}  // namespace

Expected<std::vector<BucketReport>> tune_workload(const LayerConfig& layer,
                                                  std::span<const std::int64_t> buckets,
                                                  const TuneSettings& settings) {
  if (auto errors = validate_layer(layer, "layer"); !errors.empty()) return errors.front();
  const GemmFamily family = *family_of(layer.weight_quant, layer.activation_quant);
  const CompileOptions options{
      .cache = settings.cache, .cpu_level = settings.cpu_level, .threads = settings.threads};
  auto backend = runtime::CpuBackend::get(settings.cpu_level);
  if (!backend) return backend.error();
  const codegen::CpuIsa isa = (*backend)->isa();
  // Compiling the default tile first checks the family is implemented and the cache usable,
  // and gives the kernel that packs the weights.
  auto packer = runtime::compile_with_tiles(
      layer, options,
      {{std::numeric_limits<std::int64_t>::max(), codegen::default_cpu_tile(family, 1, isa)}});
  if (!packer) return packer.error();
  auto cache = cache::KernelCache::open(settings.cache);
  if (!cache) return cache.error();
  const runtime::TuningKeys keys =
      runtime::tuning_keys(layer, **backend, runtime::call_threads(options));
  const codegen::Workload workload = codegen::workload_of(layer, "cpu");
  if (auto stored = (*cache)->store_workload({workload.hash, workload.json, layer.n, layer.k});
      !stored)
    return stored.error();
  auto weights = LayerWeights::create(*packer, 0x9e3779b97f4a7c15ULL);
  if (!weights) return weights.error();

  std::vector<BucketReport> reports;
  for (std::int64_t bucket : buckets) {
    BucketReport& report = reports.emplace_back();
    report.bucket = bucket;
    const codegen::CpuTile default_tile = codegen::default_cpu_tile(family, bucket, isa);
    report.default_config = codegen::canonical_name(default_tile);
    std::vector<codegen::CpuTile> space =
        codegen::cpu_search_space(family, bucket, layer.n, layer.k, isa);
    report.space = space.size();
    const std::size_t keep = static_cast<std::size_t>(
        std::find(space.begin(), space.end(), default_tile) - space.begin());

    BucketTuner tuner(layer, bucket, settings, **cache, keys, std::move(space), report);
    if (auto loaded = tuner.load_earlier(); !loaded) return loaded.error();
    tuner.set_total(planned_evaluations(tuner.names().size(), settings.search));
    auto problem = TuningProblem::create(layer, *weights, bucket, 0x51ed270b + bucket);
    if (!problem) return problem.error();
    tuner.compile(first_rung(tuner.names().size(), keep, settings.search));

    const SearchResult result = search(
        tuner.names(), keep,
        [&](std::size_t i, Fidelity f) { return tuner.evaluate(i, f, *problem); }, settings.search,
        [&](const std::vector<std::size_t>& indices) {
          return tuner.evaluate_final(indices, *problem);
        });
    if (tuner.over_budget()) continue;
    const Decision d = decide(result, tuner.names(), keep);
    report.complete = true;
    report.chosen_config = tuner.names()[d.chosen];
    report.default_ns = d.default_ns;
    report.chosen_ns = d.chosen_ns;
    report.replaced_default = d.replaced_default;
    if (!d.chosen_ns) continue;  // nothing ran at all: no winner to record
    double spread = 0;
    for (const auto& [i, score] : result.finals)
      if (i == d.chosen) spread = score.spread_ns;
    auto stored =
        (*cache)->store_winner({keys.workload_hash, bucket, keys.device_fingerprint,
                                keys.template_revision, report.chosen_config, *d.chosen_ns, spread,
                                report.default_config, d.default_ns.value_or(0), 0});
    if (!stored) return stored.error();
  }
  return reports;
}

}  // namespace qk::tuner
