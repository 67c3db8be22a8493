// qk::jit::compile: a layer config in, a callable kernel out.
//
// Example (examples/01_compile_one_layer.cpp has the whole program):
//   qk::LayerConfig layer{...};                        // or a layer of qk::load_plan(...)
//   auto kernel = qk::jit::compile(layer);             // render + compile, or a cache hit
//   auto weights = kernel->pack(quantized_weights);    // once per layer
//   auto ok = (*kernel)(activations, *weights, output, {.bias = bias});
//
// The first compile() of a spec renders its source, compiles it in process and stores the
// binary in the kernel cache (SQLite, docs/cache.md); later calls and later processes load it
// from there. Thread-safe: concurrent compile() calls for the same spec compile it once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "qk/error.hpp"
#include "qk/layer_config.hpp"
#include "quant/weights.hpp"

namespace qk {

/// Where a kernel runs: docs/cpu.md, docs/cuda.md, docs/cuda_emu.md.
enum class Target : std::uint8_t {
  cpu,       ///< x86-64 with AMX, AVX-512 VNNI or AVX2, compiled by clang + LLVM ORC in process
  cuda,      ///< NVIDIA GPUs through NVRTC, on device 0; "no CUDA device" where there is none
  cuda_emu,  ///< the CUDA kernels run on the CPU by an emulator, on host memory
};
template <>
struct EnumNames<Target> {
  static constexpr std::array<std::pair<Target, std::string_view>, 3> table{{
      {Target::cpu, "cpu"},
      {Target::cuda, "cuda"},
      {Target::cuda_emu, "cuda-emu"},
  }};
};

struct CompileOptions {
  /// Default: the QK_TARGET environment knob, else cpu.
  std::optional<Target> target;
  /// The kernel cache file. Default: QK_CACHE, else $XDG_CACHE_HOME/qk/kernels.db.
  std::optional<std::filesystem::path> cache;
  /// The CPU to generate code for: "host" (this machine, the default; AMX tiles where the CPU
  /// and the OS allow them), or a portable level for shipped caches: "amx" (x86-64-v4 + VNNI +
  /// AMX-INT8), "avx512" (x86-64-v4 + VNNI), "avx2" (x86-64-v3). docs/cpu.md.
  std::string cpu_level = "host";
  /// Threads a call uses; 0 = every core of the machine.
  int threads = 0;
  /// Use the tiles `qk-tune` recorded in the cache for this device (docs/tuning.md); false: the
  /// heuristic defaults of docs/cpu.md, whatever the cache holds.
  bool use_tuned = true;
};

/// A row-major matrix of `dtype` elements: rows x cols, `stride` elements between rows.
struct ConstMatrix {
  const void* data = nullptr;
  QuantType dtype = QuantType::fp32;
  std::int64_t rows = 0, cols = 0, stride = 0;
};
struct MutableMatrix {
  void* data = nullptr;
  QuantType dtype = QuantType::fp32;
  std::int64_t rows = 0, cols = 0, stride = 0;
};

/// A layer's weights in the layout its target's kernels read (docs/numerics.md §5.2), with
/// their scales. Made by Kernel::pack; immutable; shareable between threads and kernels of the
/// same layer and target.
class PackedWeights {
 public:
  struct Impl;
  explicit PackedWeights(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

/// Run-time data of one call besides activations and weights.
struct RunParams {
  std::span<const float> bias;    ///< [n] fp32, when the layer's epilogue has a bias
  float activation_scale = 0.0f;  ///< static_per_tensor activation scaling: the calibrated scale
  float output_scale = 0.0f;      ///< int8 outputs: the requantization scale
};

/// A compiled layer. Cheap to copy (shared state); calls are thread-safe.
class Kernel {
 public:
  struct Impl;
  explicit Kernel(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}

  const LayerConfig& layer() const;
  Target target() const;
  /// The canonical name of the kernel instance for the layer's largest M, e.g.
  /// "qk_w8a8_cpu_fp32_tok_nobias_none_fp16_mr8_nv3_kc512_mc96_nc768". A kernel holds one
  /// instance per distinct tile of the M buckets its layer's m_range reaches: the tuned winner
  /// of each bucket where one is recorded, else the default (docs/tuning.md, "At run time").
  const std::string& name() const;
  /// The instance a call with `m` rows runs.
  const std::string& name(std::int64_t m) const;

  /// Packs quantized weights (quant::quantize_weights) for this kernel.
  /// Errors: weights whose shape or format differ from the layer's (Errc::invalid_argument).
  Expected<PackedWeights> pack(const quant::QuantizedWeights& weights) const;

  /// out = layer(a): a is [M, k] in the layer's input_dtype, out is [M, n] in its output dtype.
  /// On the cuda target a, out, params.bias are device memory and the call returns once the
  /// kernel has run; the cuda targets (cuda, cuda-emu) need rows without padding (stride = k, n).
  /// @pre M >= 1; M need not be within the layer's m_range (that range is a tuning hint).
  /// Errors (Errc::invalid_argument) name the argument, the value and what was expected: dtypes,
  /// shapes, strides, a missing bias or scale.
  Expected<void> operator()(ConstMatrix a, const PackedWeights& weights, MutableMatrix out,
                            const RunParams& params = {}) const;

 private:
  std::shared_ptr<const Impl> impl_;
};

namespace jit {

/// Compiles `layer` for a target (see CompileOptions), or loads it from the kernel cache.
/// Errors: an invalid layer (validate_layer's errors, Errc::invalid_plan), a family or target not
/// implemented (Errc::unsupported), a failed compile (its diagnostics), an unusable cache file
/// (Errc::io_error; a corrupted cached binary is not an error: it is evicted and recompiled).
Expected<Kernel> compile(const LayerConfig& layer, const CompileOptions& options = {});

/// Counters of this process's compile() calls, for tests and `qk-bench`.
struct CompileStats {
  std::int64_t memory_hits = 0;  ///< served by a kernel already loaded in this process
  std::int64_t cache_hits = 0;   ///< loaded from the kernel cache file
  std::int64_t compiles = 0;     ///< rendered and compiled
  std::int64_t evicted = 0;      ///< cached binaries found corrupt and recompiled
  /// Precompiled headers (the templates' parsed form, most of a cold compile's time) built by
  /// this process and stored in the kernel cache, and taken from it instead (docs/cache.md).
  std::int64_t pch_builds = 0;
  std::int64_t pch_reuses = 0;
};
CompileStats stats();

}  // namespace jit
}  // namespace qk
