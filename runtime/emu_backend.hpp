// The cuda-emu target's kernel supply: for a CUDA kernel spec, its cuda-emu rendering compiled for
// this CPU by the in-process clang and loaded with the emulator's services, from memory, from the
// kernel cache, or compiled (once per spec).
#pragma once

#include <memory>

#include "cache/kernel_cache.hpp"
#include "codegen/cuda_kernel_spec.hpp"
#include "codegen/render_cuda.hpp"
#include "qk/error.hpp"
#include "runtime/clang_compiler.hpp"
#include "runtime/emu_block.hpp"
#include "runtime/jit_loader.hpp"
#include "runtime/module_supply.hpp"

namespace qk::runtime {

/// A CUDA kernel compiled for cuda-emu, loaded: what its launches need.
struct EmuKernelModule {
  codegen::CudaKernelSpec spec;
  codegen::RenderedCudaKernel rendered;  ///< its name, block size and shared memory
  std::string name;                      ///< the cuda-emu kernel's name (rendered.name + "_emu")
  JitModule module;
  emu::ThreadEntry entry = nullptr;  ///< runs the kernel as one CUDA thread
  /// runs its quantize producer as one CUDA thread; null when A is quantized in the CTA
  emu::ThreadEntry producer_entry = nullptr;
};

class EmuBackend {
 public:
  /// The process-wide backend, created on first use (its compiler builds the precompiled header
  /// of the emulation and CUDA templates lazily, on the first compile).
  static Expected<EmuBackend*> get();

  /// The module of `spec`, and how it was supplied. `cache` may be null.
  Expected<std::shared_ptr<const EmuKernelModule>> kernel(const codegen::CudaKernelSpec& spec,
                                                          cache::KernelCache* cache,
                                                          Supply* supply);

  /// The cache key of spec's cuda-emu binary: its target is "cuda-emu;" + this CPU's key, its
  /// template revision that of the cuda and emu folders together.
  cache::BinaryKey binary_key(const codegen::CudaKernelSpec& spec) const;

 private:
  EmuBackend(std::unique_ptr<ClangCompiler> compiler, std::unique_ptr<JitLoader> loader);
  using Result = ModuleSupply<EmuKernelModule>::Result;
  Result load(const codegen::CudaKernelSpec& spec, std::span<const std::uint8_t> object);

  std::unique_ptr<ClangCompiler> compiler_;
  std::unique_ptr<JitLoader> loader_;
  ModuleSupply<EmuKernelModule> kernels_;  // by key hash
};

/// The revision of everything a cuda-emu binary is built from: the cuda and emu templates.
std::string emu_template_revision();

}  // namespace qk::runtime
