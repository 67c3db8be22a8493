// The `cuda` target's compiler: CUDA C++ source -> a cubin per architecture, with NVRTC in
// process (no nvcc, no temporary files). The kernel templates are served to NVRTC as headers
// from the copies embedded in the library.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/cuda_tile.hpp"
#include "qk/error.hpp"

namespace qk::runtime {

/// A header NVRTC resolves `#include "<name>"` to, from memory.
struct NvrtcHeader {
  std::string name;  ///< as the source spells it, e.g. "cuda/gemm.cuh"
  std::string contents;
};

struct NvrtcConfig {
  std::vector<NvrtcHeader> headers = {};
  /// Options after qk's own (see NvrtcCompiler::options), e.g. {"-lineinfo"}. Part of flags_key().
  std::vector<std::string> extra_options = {};
};

/// What ptxas reports for one kernel (its -v output), in the units it reports.
struct CudaResources {
  int registers = 0;          ///< 32-bit registers per thread
  int stack_bytes = 0;        ///< stack frame per thread (local memory)
  int spill_store_bytes = 0;  ///< bytes spilled to local memory
  int spill_load_bytes = 0;   ///< bytes reloaded from local memory
  int static_smem_bytes = 0;  ///< shared memory declared statically (dynamic is the launch's)
  int barriers = 0;           ///< named barriers used
};

/// Reads the resources of `mangled_name` from a ptxas -v log ("ptxas info : Used 218 registers,
/// used 1 barriers, …" and "… bytes stack frame, … bytes spill stores, … bytes spill loads").
/// Error: Errc::parse_error when the log has no entry for the kernel or an unexpected line.
Expected<CudaResources> parse_ptxas_info(std::string_view log, std::string_view mangled_name);

/// Another kernel of the same program (the GEMM's quantize producer): its mangled name and
/// ptxas' report.
struct CompiledCompanion {
  std::string lowered_name;
  CudaResources resources;
};

struct CompiledCubin {
  std::vector<std::uint8_t> cubin;  ///< an ELF cubin for exactly one arch (SASS, no PTX)
  std::string lowered_name;         ///< the kernel's mangled name, for cuModuleGetFunction
  CudaResources resources;
  std::vector<CompiledCompanion> companions;  ///< of companion_expressions, in their order
  std::string log;                            ///< NVRTC's log (ptxas -v included)
  double compile_ms = 0;                      ///< wall time of nvrtcCompileProgram
};

/// Compiles CUDA C++ for one architecture at a time with NVRTC.
///
/// Every compile uses: --gpu-architecture=<arch> -std=c++17 --ptxas-options=-v, then the
/// config's extra options. No fast math: the numerics contract needs IEEE division (§2.3).
///
/// Thread-safety: compile() may be called from several threads at once (each call has its own
/// nvrtcProgram; NVRTC is thread-safe across programs).
///
/// Example:
///   auto nvrtc = NvrtcCompiler::create(cuda_template_config());
///   auto bin = (*nvrtc)->compile(k.source, k.name, CudaArch::sm_80, k.name_expression);
class NvrtcCompiler {
 public:
  /// Error: Errc::invalid_argument for a header without a name.
  static Expected<std::unique_ptr<NvrtcCompiler>> create(NvrtcConfig config);
  ~NvrtcCompiler();
  NvrtcCompiler(const NvrtcCompiler&) = delete;
  NvrtcCompiler& operator=(const NvrtcCompiler&) = delete;

  /// Compiles `source` to a cubin for `arch` and lowers `name_expression` (a kernel template
  /// instantiation, e.g. "qk::cuda::gemm<qk_gen::X_config>") to its mangled name, and each of
  /// `companion_expressions` (more kernels of the same source, e.g. the quantize producer) too.
  /// `name` names the source in diagnostics ("<name>.cu(12): error …") and is the error's where.
  /// Errors: Errc::compile_error whose message holds NVRTC's log and the options;
  /// Errc::parse_error when ptxas's report for a kernel cannot be read.
  Expected<CompiledCubin> compile(std::string_view source, std::string_view name,
                                  codegen::CudaArch arch, std::string_view name_expression,
                                  std::span<const std::string> companion_expressions = {}) const;

  /// Every option of a compile for `arch`, in order.
  std::vector<std::string> options(codegen::CudaArch arch) const;

  /// "nvrtc 13.0": the compiler and its version, part of every cache key.
  std::string version() const;

  /// Everything besides the arch that changes the cubin, as canonical text for the cache key: the
  /// options and a digest of the headers' names and contents.
  std::string flags_key() const;

 private:
  struct Impl;
  explicit NvrtcCompiler(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The config that serves the embedded CUDA templates (templates/cuda/) as NVRTC headers.
NvrtcConfig cuda_template_config();

}  // namespace qk::runtime
