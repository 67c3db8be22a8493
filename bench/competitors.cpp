#include "bench/competitors.hpp"

#include "bench/machine.hpp"
#include "bench/onednn_w8a8.hpp"
#include "bench/openblas_sgemm.hpp"
#include "bench/qk_kernels.hpp"

namespace qk::bench {

namespace {

/// Without vpdpbusd, oneDNN sums u8 x s8 pairs with vpmaddubsw into saturating int16
/// (2 * 255 * 127 > 32767), so its int8 matmul fails the reference check on every shape.
std::string onednn_int8_caveat() {
  if (cpu_supports_avx512_vnni()) return {};
  return "this CPU has no AVX-512 VNNI, and without it oneDNN's int8 matmul sums u8 x s8 pairs "
         "in saturating int16 and fails the reference check (docs/bench.md, \"Caveats\")";
}

}  // namespace

std::vector<Competitor> cpu_gemm_competitors(const CompetitorContext& context) {
  auto onednn = [context](Int8Storage storage, bool matmul_only) {
    return [context, storage, matmul_only](const GemmShape& shape) {
      return prepare_onednn_w8a8(shape, {context, storage, matmul_only});
    };
  };
  auto qk = [context](QkWeights weights, bool use_tuned) {
    return [context, weights, use_tuned](const GemmShape& shape) {
      return prepare_qk(shape, weights, context, use_tuned);
    };
  };
  return {
      {"qk-w8a8",
       "qk's fused W8A8 kernel (qk::jit::compile): fp32 activations quantized per token inside the "
       "kernel, int8 per-channel weights, fp32 output; the tiles qk-tune recorded, if any",
       true, true, qk(QkWeights::int8_per_channel, true)},
      {"qk-w8a8-default",
       "qk-w8a8 with the heuristic default tiles, whatever the cache records (beside qk-w8a8: "
       "what tuning gained)",
       true, false, qk(QkWeights::int8_per_channel, false)},
      {"qk-w8a8-vnni",
       "qk-w8a8 at cpu level avx512: the AVX-512 VNNI kernels only, no AMX tiles (beside qk-w8a8 "
       "on an AMX machine: what the AMX tiles gained)",
       true, false,
       [context](const GemmShape& shape) {
         return prepare_qk(shape, QkWeights::int8_per_channel, context, true, "avx512");
       }},
      {"qk-w4a8",
       "qk's fused W4A8 kernel: fp32 activations quantized per token inside the kernel, int4 "
       "weights with a scale per group of 128 (half the weight bytes of int8), fp32 output",
       true, false, qk(QkWeights::int4_group128, true)},
      {"qk-w4a8-default", "qk-w4a8 with the heuristic default tiles", true, false,
       qk(QkWeights::int4_group128, false)},
      {"qk-w8a16",
       "qk's weight-only W8A16 kernel: bf16 activations multiplied as given, int8 per-channel "
       "weights dequantized to bf16 in the kernel, fp32 sums and output",
       false, false, qk(QkWeights::int8_per_channel_bf16, true)},
      {"qk-w4a16",
       "qk's weight-only W4A16 kernel: bf16 activations, int4 weights with a scale per group of "
       "128 dequantized to bf16 in the kernel, fp32 sums and output",
       false, false, qk(QkWeights::int4_group128_bf16, true)},
      {"onednn-w8a8",
       "oneDNN W8A8, the work of qk's fused kernel: fp32 activations quantized per token to u8 "
       "(offset 128), int8 matmul with per-channel scales, per-token scaling",
       true, true, onednn(Int8Storage::u8_offset128, false), onednn_int8_caveat()},
      {"openblas-sgemm", "OpenBLAS cblas_sgemm, fp32 activations x fp32 weights", false, true,
       [context](const GemmShape& shape) { return prepare_openblas_sgemm(shape, context); }},
      {"onednn-w8a8-s8", "onednn-w8a8 with s8 activation codes (oneDNN adds the offset itself)",
       true, false, onednn(Int8Storage::s8, false)},
      {"onednn-int8-matmul",
       "onednn-w8a8's matmul alone: pre-quantized u8 input, per-channel scales, no per-token "
       "step (the difference is what quantize + dequantize cost)",
       true, false, onednn(Int8Storage::u8_offset128, true)},
  };
}

}  // namespace qk::bench
