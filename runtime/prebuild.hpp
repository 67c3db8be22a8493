// What `qk-cache build` does the same way for every target (runtime/cuda_prebuild.hpp,
// runtime/cpu_prebuild.hpp): reading a comma-separated list of targets, naming a plan's layers,
// grouping the layers that need the same kernels, and compiling the distinct kernels on a few
// threads.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "qk/error.hpp"
#include "qk/plan.hpp"

namespace qk::runtime {

/// The items of a comma-separated `text` ("sm_80,sm_90a"), each one of `allowed`, none twice, at
/// least one. Error (Errc::invalid_argument, where `option`): an item not allowed, saying it is not
/// `what` and listing the allowed ones, or an item listed twice.
/// Example: parse_list("avx2,avx9", "--cpu-level", "a portable cpu level", {"avx512", "avx2"})
/// fails with "item 2 is 'avx9', not a portable cpu level; allowed: avx512, avx2".
Expected<std::vector<std::string>> parse_list(std::string_view text, std::string_view option,
                                              std::string_view what,
                                              std::span<const std::string_view> allowed);

/// "layers[3] (q_proj)": how tables and errors name a layer of a plan. The name is the plan's
/// free text, to be escaped by whoever prints it.
std::string layer_label(const Plan& plan, std::size_t layer);

/// Why a layer is skipped when `refused` of the `targets` targets refused it with `first_reason`:
/// that reason when all did, "on <refused> only: <reason>" when some did, empty when none did.
std::string skip_reason(const std::vector<std::string>& refused, std::size_t targets,
                        const std::string& first_reason);

/// The layers of `uses` (each with a member `layer`) grouped by equal needs: the list of
/// need_of(use) over a layer's uses, in order (any ordered value, e.g. the kernel a use runs on
/// which target for which M). Each group ascending, groups in order of their first layer.
template <class Use, class NeedOf>
std::vector<std::vector<std::size_t>> layers_with_same_needs(std::span<const Use> uses,
                                                             NeedOf need_of) {
  using Need = decltype(need_of(uses.front()));
  std::map<std::size_t, std::vector<Need>> needs;  // by layer
  for (const Use& u : uses) needs[u.layer].push_back(need_of(u));
  std::map<std::vector<Need>, std::size_t> group_of;
  std::vector<std::vector<std::size_t>> groups;
  for (const auto& [layer, need] : needs) {
    const auto [it, added] = group_of.try_emplace(need, groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(layer);
  }
  return groups;
}

/// compile(job) for every job on `threads` threads (at least 1; the caller is one of them), the
/// results in job order. `on_done(job, result)` is called as each job finishes, one call at a time
/// (for progress). A failed job does not stop the others.
template <class Job, class Result>
std::vector<Expected<Result>> run_build_jobs(
    std::span<const Job> jobs, int threads,
    const std::function<Expected<Result>(const Job&)>& compile,
    const std::function<void(std::size_t, const Expected<Result>&)>& on_done) {
  std::vector<Expected<Result>> results(jobs.size(), Error{Errc::invalid_argument, "", "not run"});
  std::atomic<std::size_t> next{0};
  std::mutex report;
  auto work = [&] {
    for (std::size_t job; (job = next++) < jobs.size();) {
      Expected<Result> result = compile(jobs[job]);
      std::lock_guard lock(report);
      results[job] = std::move(result);
      if (on_done) on_done(job, results[job]);
    }
  };
  const int workers =
      std::clamp<int>(threads, 1, static_cast<int>(std::max<std::size_t>(1, jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < workers; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  return results;
}

}  // namespace qk::runtime
