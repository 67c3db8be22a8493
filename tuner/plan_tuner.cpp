#include "tuner/plan_tuner.hpp"

#include <chrono>
#include <map>

#include "codegen/m_buckets.hpp"
#include "codegen/workload.hpp"

namespace qk::tuner {

std::vector<WorkItem> plan_work(const Plan& plan,
                                const std::optional<std::vector<std::int64_t>>& buckets) {
  std::vector<WorkItem> work;
  std::map<std::string, std::size_t> first_of;  // workload hash -> first item of its layer
  for (std::size_t l = 0; l < plan.layers.size(); ++l) {
    const LayerConfig& layer = plan.layers[l];
    const std::string hash = codegen::workload_of(layer, "cpu").hash;
    const auto all = buckets ? *buckets : codegen::m_buckets(layer.m_max);
    const auto in_range = codegen::buckets_in_range(all, layer.m_min, layer.m_max);
    if (auto it = first_of.find(hash); it != first_of.end()) {
      for (std::size_t i = it->second; i < work.size() && work[i].layer == work[it->second].layer;
           ++i)
        work[i].also_layers.push_back(l);
      continue;
    }
    first_of[hash] = work.size();
    for (std::int64_t b : in_range) work.push_back({l, {}, b});
  }
  return work;
}

std::vector<WorkItem> shard(const std::vector<WorkItem>& work, int index, int count) {
  std::vector<WorkItem> mine;
  for (std::size_t i = 0; i < work.size(); ++i)
    if (static_cast<int>(i % static_cast<std::size_t>(count)) == index) mine.push_back(work[i]);
  return mine;
}

Expected<PlanReport> tune_plan(const Plan& plan, const PlanTuneOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<WorkItem> work =
      shard(plan_work(plan, options.buckets), options.shard_index, options.shard_count);
  PlanReport report;
  report.items = work.size();
  // Consecutive items of one layer are tuned in one call: the weights are made once per layer.
  for (std::size_t first = 0; first < work.size();) {
    std::size_t last = first;
    std::vector<std::int64_t> buckets;
    while (last < work.size() && work[last].layer == work[first].layer)
      buckets.push_back(work[last++].bucket);
    const LayerConfig& layer = plan.layers[work[first].layer];
    TuneSettings settings = options.settings;
    if (options.progress)
      settings.progress = [&](const Progress& p) {
        std::size_t item = first;
        while (item + 1 < last && work[item].bucket < p.bucket) ++item;
        options.progress(layer.name, item, work.size(), p);
      };
    auto tuned = tune_workload(layer, buckets, settings);
    if (!tuned && tuned.error().code == Errc::unsupported) {
      // A family the target does not implement yet: said in the summary, the rest is tuned.
      for (std::size_t i = first; i < last; ++i) {
        BucketReport skipped;
        skipped.bucket = work[i].bucket;
        skipped.unsupported = tuned.error().message;
        report.rows.push_back({layer.name, "", skipped});
      }
      first = last;
      continue;
    }
    if (!tuned) return Error{tuned.error().code, layer.name, tuned.error().str()};
    for (const BucketReport& b : *tuned) {
      report.rows.push_back({layer.name, "", b});
      for (std::size_t also : work[first].also_layers)
        report.rows.push_back({plan.layers[also].name, layer.name, b});
    }
    first = last;
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace qk::tuner
