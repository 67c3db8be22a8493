// The cuda target's kernel supply: for a spec, its cubin from the kernel cache, or compiled with
// NVRTC and stored. Shared by `qk-cache build` (cubins for GPUs this machine does not have) and,
// later, qk::jit::compile for the cuda target. Needs no GPU and no driver.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/kernel_cache.hpp"
#include "codegen/cuda_kernel_spec.hpp"
#include "qk/error.hpp"
#include "runtime/nvrtc_compiler.hpp"

namespace qk::runtime {

/// What a cubin's consumer needs besides its bytes, stored with it in the cache
/// (binaries.attributes): the kernel's lowered name (for cuModuleGetFunction), its launch shape,
/// and ptxas' resource report (for `qk-cache list` and resource checks without a recompile).
struct CubinAttributes {
  std::string lowered_name;
  int threads = 0;             ///< block size
  int dynamic_smem_bytes = 0;  ///< dynamic shared memory per block (the launch's)
  CudaResources resources;
  /// The quantize producer compiled into the same cubin (a tile with a_quant producer): its
  /// lowered name (empty: none) and ptxas' registers and spills.
  std::string producer_lowered_name;
  CudaResources producer_resources;
};

/// Every field equal (CudaResources has no operator== of its own).
bool operator==(const CubinAttributes& a, const CubinAttributes& b);

/// "lowered=_ZN2qk4cuda…;threads=128;dynamic_smem=96256;registers=221;stack=0;spill_stores=0;
/// spill_loads=0;static_smem=0;barriers=1": every field, in this order; a cubin with a producer
/// adds ";producer=_ZN2qk4cuda13quantize_rows…;producer_registers=30;producer_spill_stores=0;
/// producer_spill_loads=0" (absent otherwise, so the records of older cubins read as before).
std::string format_cubin_attributes(const CubinAttributes& attributes);

/// The inverse of format_cubin_attributes. Error (Errc::parse_error): a missing, unknown or
/// repeated field, or a number that does not parse, naming the field and the text; the producer
/// fields come all or none.
Expected<CubinAttributes> parse_cubin_attributes(std::string_view text);

/// A cubin for one spec.
struct CudaCubin {
  std::string name;  ///< canonical_name(spec)
  std::vector<std::uint8_t> cubin;
  CubinAttributes attributes;
  double compile_ms = 0;    ///< of the compile that produced it (then or earlier)
  bool from_cache = false;  ///< found in the cache rather than compiled now
};

class CudaBackend {
 public:
  /// NVRTC serving `config`'s headers (by default the embedded templates/cuda/).
  static Expected<std::unique_ptr<CudaBackend>> create(NvrtcConfig config = cuda_template_config());

  /// The cache key of spec's cubin: its canonical name and spec hash, the revision of
  /// templates/cuda/, the arch, NVRTC's version and flags_key().
  cache::BinaryKey binary_key(const codegen::CudaKernelSpec& spec) const;

  /// The cubin of `spec`: the cache's, when it holds a valid one (checksum and attributes intact),
  /// else compiled now and stored. `cache` may be null (always compile). A cache that cannot be
  /// read or written is not fatal: the cubin is compiled, and a failed store is a warning on
  /// stderr. Thread-safe (NVRTC and the cache are). Errors: NVRTC's (Errc::compile_error …).
  Expected<CudaCubin> cubin(const codegen::CudaKernelSpec& spec, cache::KernelCache* cache) const;

  const NvrtcCompiler& compiler() const { return *compiler_; }

 private:
  explicit CudaBackend(std::unique_ptr<NvrtcCompiler> compiler);
  std::unique_ptr<NvrtcCompiler> compiler_;
};

}  // namespace qk::runtime
