// A kernel's loaded instances by M bucket, shared by the targets' Kernel implementations: each
// bucket's module supplied concurrently (a cold layer then costs one compile's time, not one per
// bucket), and the one a call with M rows runs.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <vector>

#include "qk/error.hpp"

namespace qk::runtime {

template <class Module>
class BucketVariants {
 public:
  struct Variant {
    std::int64_t max_m;  ///< calls with M up to this run `module`
    std::shared_ptr<const Module> module;
  };

  /// Supplies every bucket's module, `supply(bucket)` returning Expected<shared_ptr<const Module>>
  /// for a bucket with members max_m and tile, all at once on their own threads.
  /// @pre buckets ascending by max_m, not empty. Error: the first failing bucket's.
  template <class Bucket, class Supply>
  static Expected<BucketVariants> supply_all(const std::vector<Bucket>& buckets, Supply supply) {
    std::vector<std::future<Expected<std::shared_ptr<const Module>>>> supplies;
    for (const Bucket& b : buckets)
      supplies.push_back(std::async(std::launch::async, [&supply, b] { return supply(b); }));
    BucketVariants result;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      auto module = supplies[i].get();
      if (!module) return module.error();
      result.variants_.push_back({buckets[i].max_m, std::move(*module)});
    }
    return result;
  }

  /// The module of the smallest bucket holding m, or the largest bucket's (a call may exceed the
  /// layer's m_range, which is a tuning hint, not a limit).
  const Module& for_m(std::int64_t m) const {
    for (const Variant& v : variants_)
      if (m <= v.max_m) return *v.module;
    return *variants_.back().module;
  }

 private:
  std::vector<Variant> variants_;  // ascending max_m; never empty
};

}  // namespace qk::runtime
