// The oneDNN baseline of qk's fused W8A8 kernel: the same work built from oneDNN 2.6 pieces.
#pragma once

#include <string>

#include "bench/activation_quant.hpp"
#include "bench/gemm_bench.hpp"

namespace qk::bench {

struct OneDnnW8A8Options {
  CompetitorContext context;
  Int8Storage storage = Int8Storage::u8_offset128;
  /// Time only oneDNN's int8 matmul with the per-channel scales: activations quantized once
  /// outside the timing, no per-token scaling. The difference to the full run is what the
  /// quantize and per-token dequantize steps cost.
  bool matmul_only = false;
};

/// Y[m, n] = (float(Σ_k qa[m, k] · qw[n, k]) · w_scale[n]) · a_scale[m] from fp32 activations,
/// int8 weights with per-channel scales and dynamic per-token int8 activations (numerics §6.2):
///   1. quantize A per token (quantize_rows_per_token: AVX-512, OpenMP over rows), into u8 with
///      offset 128 or s8 per `storage`;
///   2. one oneDNN matmul primitive: src u8 (source zero point 128) or s8 [m, k], weights s8
///      [k, n] in the layout oneDNN picks (format_tag::any, reordered once here, untimed),
///      dst f32 [m, n], the per-channel weight scales as constant output scales (mask 1 << 1);
///   3. the per-token activation scale in a separate pass (scale_rows), because oneDNN 2.6 has
///      no per-row output scale for matmul and its binary-multiply post-op with a [m, 1] operand
///      falls back to the reference implementation (four orders of magnitude slower).
/// Steps 1-3 are timed together. The primitive is created, and its output checked against an
/// exact integer reference on rows 0 and m - 1, before any timing.
/// Errors (Errc::unsupported): oneDNN rejects the problem, picks its reference implementation,
/// or the check fails; allocation failures.
Expected<PreparedRun> prepare_onednn_w8a8(const GemmShape& shape, const OneDnnW8A8Options& options);

/// "2.6.3" (the library loaded at run time) and its CPU threading runtime.
std::string onednn_version();

}  // namespace qk::bench
