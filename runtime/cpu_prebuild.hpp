// Prebuilt cpu kernels for a plan (`qk-cache build --cpu-level`): which kernels a machine of each
// portable level (avx512, avx2, amx) compiles for every layer of a plan, and compiling them into
// the kernel cache without running them, so that a cache for CPUs this machine is not (an AVX-512
// or AMX server, built on an AVX2 laptop or CI box) is built here and shipped with a model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/kernel_cache.hpp"
#include "codegen/cpu_kernel_spec.hpp"
#include "qk/plan.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/prebuild.hpp"

namespace qk::runtime {

/// Parses a level list such as "avx512,avx2,amx" (no repeats, at least one). Error
/// (Errc::invalid_argument, where "--cpu-level"): an unknown or repeated item, naming it and the
/// allowed values (the portable levels: "host" is this machine, which needs no prebuild).
Expected<std::vector<std::string>> parse_cpu_levels(std::string_view text);

/// One kernel to build: `spec` for the code of backends[level].
struct CpuBuildJob {
  std::size_t level = 0;
  codegen::CpuKernelSpec spec;
};

/// One layer's need of one kernel: layer `layer` runs jobs[job] at backends[level] for calls with
/// M in [m_min, m_max]; `tuned` when a winner recorded in the cache chose it, else it is the
/// default tile.
struct CpuBuildUse {
  std::size_t layer = 0;
  std::size_t level = 0;
  std::size_t job = 0;
  std::int64_t m_min = 0, m_max = 0;
  bool tuned = false;
};

/// A layer the cpu target does not implement, and why (cpu_kernel_spec's message).
struct CpuBuildSkip {
  std::size_t layer = 0;
  std::string reason;
};

struct CpuBuildList {
  std::vector<CpuBuildJob> jobs;      ///< distinct (level, spec): each compiled once
  std::vector<CpuBuildUse> uses;      ///< by layer, then level, then ascending M
  std::vector<CpuBuildSkip> skipped;  ///< by layer
};

/// Every kernel `plan` needs on `backends` (one per level; compile_only ones): for each layer and
/// level, the tiles qk::jit::compile on a machine of that level picks (choose_tiles) for each M
/// bucket of the layer's m_range: the default tile, and also the winner of every device of that
/// level whose tuning records `cache` holds (may be null: defaults only). A machine whose records
/// are not in the cache runs the defaults, so both are built. A layer the cpu target does not
/// implement is skipped with the reason. Error: any other failure of cpu_kernel_spec, naming the
/// layer and level.
Expected<CpuBuildList> cpu_build_list(const Plan& plan, std::span<const CpuBackend* const> backends,
                                      cache::KernelCache* cache);

/// The built layers grouped by identical needs (the same kernels at the same levels for the same
/// M: a model's repeated blocks), each group ascending, groups in order of their first layer.
std::vector<std::vector<std::size_t>> layers_with_same_kernels(const CpuBuildList& list);

/// Compiles (or finds in `cache`) and stores every job on `threads` threads (at least 1), loading
/// none, and returns the results in job order; `on_done` as for run_build_jobs.
std::vector<Expected<CpuBackend::StoredObject>> run_cpu_build(
    std::span<const CpuBackend* const> backends, cache::KernelCache& cache,
    std::span<const CpuBuildJob> jobs, int threads,
    const std::function<void(std::size_t, const Expected<CpuBackend::StoredObject>&)>& on_done =
        {});

}  // namespace qk::runtime
