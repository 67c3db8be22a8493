// The precompiled header of an in-process compiler (cpu, cuda-emu), kept in the kernel cache
// beside the kernels, so that a process that compiles does not rebuild it (docs/cache.md,
// "Precompiled headers").
#pragma once

#include <cstdint>
#include <string_view>

#include "cache/kernel_cache.hpp"
#include "runtime/clang_compiler.hpp"

namespace qk::runtime {

/// The cache key of `compiler`'s PCH: kernel "qk_<target_name>_pch" (e.g. "qk_cpu_pch"), the
/// templates' revision, the target's key, and the compiler's version and flags (which hold the
/// digests of the prelude and of every header it can include: a PCH of other templates is
/// another key).
cache::BinaryKey pch_key(std::string_view target_name, std::string_view template_revision,
                         std::string_view target_key, const ClangCompiler& compiler);

/// A PchStore reading and writing the binary of `key` in `cache`. A damaged row is evicted and
/// reported by the cache like a kernel's; a failure to store is a warning on stderr.
/// @pre cache is not null and outlives the store
PchStore cached_pch(cache::KernelCache* cache, cache::BinaryKey key);

/// Precompiled headers this process built (and stored), and took from a kernel cache.
struct PchCounts {
  std::int64_t built = 0;
  std::int64_t reused = 0;
};
PchCounts pch_counts();

}  // namespace qk::runtime
