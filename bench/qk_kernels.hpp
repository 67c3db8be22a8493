// qk's own fused kernels as qk-bench competitors, and the latency of qk::jit::compile.
#pragma once

#include <filesystem>
#include <string>

#include "bench/gemm_bench.hpp"
#include "qk/error.hpp"

namespace qk::bench {

/// The weight formats qk-bench runs qk's kernels with. The `_bf16` ones are the weight-only
/// families (W8A16, W4A16): bf16 activations multiplied as given, not quantized.
enum class QkWeights { int8_per_channel, int4_group128, int8_per_channel_bf16, int4_group128_bf16 };

/// qk's fused kernel for `shape`: fp32 activations quantized per token inside the kernel (bf16
/// activations, not quantized, for the weight-only formats), weights in `weights` packed once,
/// fp32 output (with int8 weights: the same work as onednn-w8a8). Compiled with qk::jit::compile
/// (kernel cache: QK_CACHE or the default), with the tiles qk-tune recorded for this machine when
/// `use_tuned` (docs/tuning.md), else the heuristic defaults; for `cpu_level`
/// (CompileOptions::cpu_level: "avx512" runs the VNNI kernels on an AMX machine too). Before
/// timing, rows 0 and m - 1 are checked against the reference of docs/numerics.md.
Expected<PreparedRun> prepare_qk(const GemmShape& shape, QkWeights weights,
                                 const CompetitorContext& context, bool use_tuned = true,
                                 const std::string& cpu_level = "host");

struct CompileLatency {
  double cold_ms = 0;  ///< compile() in a fresh process with an empty cache (PCH built and stored)
  double cache_hit_ms = 0;  ///< compile() in another fresh process that finds it in the cache
  /// compile() of another kernel (the layer with a relu) in a third fresh process: not in the
  /// cache, but the precompiled header the first one stored is
  double cold_with_pch_ms = 0;
};

/// Measures the three in child processes (fork), with a temporary cache file under `scratch`.
/// Call it before this process has compiled or run any qk kernel.
Expected<CompileLatency> measure_compile_latency(const std::filesystem::path& scratch);

}  // namespace qk::bench
