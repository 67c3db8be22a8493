// The cpu target's kernel supply: for a spec, the loaded kernel module, from memory, from the
// kernel cache, or compiled (once per spec, however many threads ask at the same time).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "cache/kernel_cache.hpp"
#include "codegen/cpu_kernel_spec.hpp"
#include "qk/error.hpp"
#include "runtime/clang_compiler.hpp"
#include "runtime/cpu_target.hpp"
#include "runtime/jit_loader.hpp"
#include "runtime/module_supply.hpp"
#include "templates/cpu/abi.h"

namespace qk::runtime {

/// A kernel's code, loaded: its two entry points (templates/cpu/abi.h).
struct CpuKernelModule {
  codegen::CpuKernelSpec spec;
  std::string name;
  JitModule module;
  QkCpuQuantizeFn quantize = nullptr;
  QkCpuGemmFn gemm = nullptr;
};

class CpuBackend {
 public:
  /// The process-wide backend of a CPU level ("host", "avx512", "avx2", "amx"); created on first
  /// use. Its ISA follows the level's features: AVX-512 VNNI -> avx512 kernels, and with
  /// AMX-TILE and AMX-INT8 -> amx (the avx512 kernels, W8A8 also on AMX tiles) once Linux grants
  /// the tile state (request_amx_permission; refused, "host" stays avx512), else AVX2 with FMA
  /// and F16C -> avx2 kernels. Errors: an unknown level; a level whose code this machine cannot
  /// run; a level with neither (Errc::unsupported); "amx" when Linux refuses the tile state.
  static Expected<CpuBackend*> get(const std::string& cpu_level);

  /// A backend of a portable level ("avx512", "avx2", "amx") that only compiles, for caches
  /// built on another machine than the one that runs them (`qk-cache build --cpu-level`): it
  /// neither checks that this machine can run the level's code nor asks Linux for the AMX tile
  /// state, and takes the ISA a machine of that level runs ("amx": amx, as on a machine that was
  /// granted the tile state). kernel() on it is Errc::unsupported; compile_into() works.
  /// Errors: an unknown level, or "host" (Errc::invalid_argument, naming the portable ones).
  static Expected<std::unique_ptr<CpuBackend>> compile_only(const std::string& cpu_level);

  /// The module of `spec`, and how it was supplied. `cache` may be null (no persistent cache).
  /// A spec for another ISA than code_isa(isa()), or with an AMX tile on a backend that is not
  /// amx, is Errc::invalid_argument.
  Expected<std::shared_ptr<const CpuKernelModule>> kernel(const codegen::CpuKernelSpec& spec,
                                                          cache::KernelCache* cache,
                                                          Supply* supply);

  /// What compile_into() put in (or found in) the cache.
  struct StoredObject {
    std::string name;         ///< the spec's canonical name
    std::int64_t bytes = 0;   ///< the object's size
    double compile_ms = 0;    ///< the compile's wall time (as recorded, when found in the cache)
    bool from_cache = false;  ///< found intact in the cache: nothing compiled
  };

  /// Compiles `spec` (unless `cache` holds an intact copy) and stores the object under
  /// binary_key(spec), without loading it: exactly the record kernel() on a backend of the same
  /// level then finds. The precompiled header is kept in `cache` as kernel() keeps it. Errors: a
  /// spec kernel() refuses, the compile's, and a failure to store (unlike kernel(), for which the
  /// stored copy is only a saving).
  Expected<StoredObject> compile_into(const codegen::CpuKernelSpec& spec,
                                      cache::KernelCache& cache) const;

  /// The cache key of spec's binary on this backend.
  cache::BinaryKey binary_key(const codegen::CpuKernelSpec& spec) const;
  const CpuTarget& target() const { return target_; }
  /// The level this backend was made for: "host", "avx512", "avx2" or "amx".
  const std::string& level() const { return level_; }
  /// The level of this backend's kernels: its tile rules; every spec it compiles has
  /// code_isa(isa()).
  codegen::CpuIsa isa() const { return isa_; }

 private:
  CpuBackend(std::string level, CpuTarget target, codegen::CpuIsa isa,
             std::unique_ptr<ClangCompiler> compiler, std::unique_ptr<JitLoader> loader);
  /// A backend of `target`'s code with `isa`; without a loader, one that only compiles.
  static Expected<std::unique_ptr<CpuBackend>> create(std::string level, CpuTarget target,
                                                      codegen::CpuIsa isa, bool with_loader);
  /// Errc::invalid_argument when `spec` is not for this backend's ISA (kernel()'s contract).
  Expected<void> check(const codegen::CpuKernelSpec& spec) const;
  cache::BinaryKey pch_key() const;
  using Result = ModuleSupply<CpuKernelModule>::Result;
  Result load(const codegen::CpuKernelSpec& spec, std::span<const std::uint8_t> object);

  std::string level_;
  CpuTarget target_;
  codegen::CpuIsa isa_;
  std::unique_ptr<ClangCompiler> compiler_;
  std::unique_ptr<JitLoader> loader_;      // null on a compile-only backend
  ModuleSupply<CpuKernelModule> kernels_;  // by key hash
};

}  // namespace qk::runtime
