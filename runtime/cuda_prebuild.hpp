// Prebuilt cubins for a plan (`qk-cache build`): which kernels the cuda target needs for every
// layer of a plan on each arch, and compiling them in parallel into the kernel cache. NVRTC needs
// no GPU, so a cache for GPUs this machine does not have is built here and shipped with a model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/kernel_cache.hpp"
#include "codegen/cuda_kernel_spec.hpp"
#include "qk/plan.hpp"
#include "runtime/cuda_backend.hpp"
#include "runtime/prebuild.hpp"

namespace qk::runtime {

/// Parses an arch list such as "sm_80,sm_90a" (no repeats, at least one). Error
/// (Errc::invalid_argument, where "--arch"): an unknown or repeated item, naming it and the
/// allowed values.
Expected<std::vector<codegen::CudaArch>> parse_cuda_archs(std::string_view text);

/// One layer's need of one kernel: layer `layer` of the plan runs jobs[job] on `arch` for calls
/// with M in [m_min, m_max] (the M buckets that tile serves, within the layer's m_range).
struct CudaBuildUse {
  std::size_t layer = 0;
  codegen::CudaArch arch = codegen::CudaArch::sm_80;
  std::size_t job = 0;
  std::int64_t m_min = 0, m_max = 0;
};

/// A layer the cuda target does not implement (yet), and why: cuda_kernel_spec's message.
struct CudaBuildSkip {
  std::size_t layer = 0;
  std::string reason;
};

struct CudaBuildList {
  std::vector<codegen::CudaKernelSpec> jobs;  ///< distinct specs: each compiled once
  std::vector<CudaBuildUse> uses;             ///< by layer, then arch, then ascending M
  std::vector<CudaBuildSkip> skipped;         ///< by layer
};

/// Every kernel `plan` needs on `archs`: for each layer and arch, the tile default_cuda_tiles()
/// gives each M bucket of the layer's [m_min, m_max] (codegen::m_buckets, as the cpu target
/// buckets M). A layer the cuda target does not implement is skipped with the reason. Error: any
/// other failure of cuda_kernel_spec (a shipped tile invalid on an arch), naming the layer.
Expected<CudaBuildList> cuda_build_list(const Plan& plan, std::span<const codegen::CudaArch> archs);

/// The built layers grouped by identical needs (the same kernels on the same archs for the same M
/// buckets: a model's repeated blocks), each group ascending, groups in order of their first layer.
std::vector<std::vector<std::size_t>> layers_with_same_kernels(const CudaBuildList& list);

/// Compiles (or finds in `cache`) every job on `threads` threads (at least 1) and returns the
/// results in job order. `on_done(job, result)` is called as each job finishes, one call at a
/// time (for progress). A failed job does not stop the others.
std::vector<Expected<CudaCubin>> run_cuda_build(
    const CudaBackend& backend, cache::KernelCache* cache,
    std::span<const codegen::CudaKernelSpec> jobs, int threads,
    const std::function<void(std::size_t, const Expected<CudaCubin>&)>& on_done = {});

}  // namespace qk::runtime
