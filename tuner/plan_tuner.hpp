// Tuning a whole plan: its layers' workloads (layers that share one are tuned once) x their M
// buckets, optionally one shard of that work for running on many machines, and the per layer
// and bucket summary qk-tune prints (docs/tuning.md).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qk/plan.hpp"
#include "tuner/workload_tuner.hpp"

namespace qk::tuner {

/// One unit of a plan's work: a workload (named by its first layer) and one bucket of M.
struct WorkItem {
  std::size_t layer = 0;                 ///< index of the first layer with this workload
  std::vector<std::size_t> also_layers;  ///< later layers that share the workload
  std::int64_t bucket = 0;
};

/// The plan's work in a fixed order (layers as in the plan, buckets ascending), one item per
/// distinct (workload, bucket). `buckets`: the bucket list to use instead of codegen::m_buckets
/// (each layer takes those holding some M of its m_range).
std::vector<WorkItem> plan_work(const Plan& plan,
                                const std::optional<std::vector<std::int64_t>>& buckets);

/// Shard `index` of `count`: the items whose position modulo count is index. The shards of one
/// count partition the work. @pre 0 <= index < count
std::vector<WorkItem> shard(const std::vector<WorkItem>& work, int index, int count);

/// A summary row: one layer and bucket.
struct ReportRow {
  std::string layer;
  std::string shares_with;  ///< the layer whose workload this one shares (tuned there), or empty
  BucketReport bucket;
};

struct PlanReport {
  std::vector<ReportRow> rows;
  std::size_t items = 0;  ///< work items of this shard
  double seconds = 0;     ///< wall time of the whole tune
};

struct PlanTuneOptions {
  TuneSettings settings;
  std::optional<std::vector<std::int64_t>> buckets;
  int shard_index = 0, shard_count = 1;
  /// Called with the layer being tuned (its first layer's name) and the tuner's progress.
  std::function<void(std::string_view layer, std::size_t item, std::size_t items, const Progress&)>
      progress;
};

/// Tunes the shard's work and stores the measurements and winners in settings.cache.
Expected<PlanReport> tune_plan(const Plan& plan, const PlanTuneOptions& options);

}  // namespace qk::tuner
