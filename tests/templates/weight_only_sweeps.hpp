// The case lists of the weight-only kernel template (W8A16, W4A16, WFP8A16 and the float
// baselines) that every ISA's test executable runs on its own configs: each names the configs it
// needs by what they cover (the callers pick the tiles) and runs them on fixed shapes and seeds.
// The checks themselves are in weight_only_checks.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "kernel_cases.hpp"
#include "weight_only_checks.hpp"

namespace qk::test {

/// Awkward shapes for int8 weights: partial row tiles (m = 3, 17, 129), partial column panels and
/// tiles (n = 33, 130), K not a multiple of the packing step (per-channel k = 37, 201), per
/// tensor, per channel and per group, bf16 and fp16 activations; then the ISA's own cases.
template <auto BF16, auto FP16>
void check_w8a16_awkward_shapes(std::initializer_list<KCase> isa_only = {}) {
  sweep_m_n({1, 3, 17, 129}, {16, 33, 130},
            {{check_weight_only_kernel<BF16>, 201, {WeightGranularity::per_channel}},
             {check_weight_only_kernel<FP16>, 37, {WeightGranularity::per_tensor}},
             {check_weight_only_kernel<BF16>, 256, {WeightGranularity::per_group, 128}},
             {check_weight_only_kernel<FP16>, 96, {WeightGranularity::per_group, 32}}},
            isa_only, 1);
}

/// Awkward shapes for int4 weights, per group and per channel, with and without zero points; then
/// the ISA's own cases. Returns the next unused seed.
template <auto BF16, auto FP16>
unsigned check_w4a16_awkward_shapes(std::initializer_list<KCase> isa_only = {}) {
  return sweep_m_n(
      {1, 3, 17, 129}, {16, 33, 130},
      {{check_weight_only_kernel<BF16>, 256, {WeightGranularity::per_group, 128, true}},
       {check_weight_only_kernel<FP16>, 96, {WeightGranularity::per_group, 32, false}},
       {check_weight_only_kernel<BF16>, 200, {WeightGranularity::per_channel, 0, false}},
       {check_weight_only_kernel<FP16>, 37, {WeightGranularity::per_channel, 0, true}}},
      isa_only, 1000);
}

/// Weights that are fp16 subnormals (check_weight_only_subnormal_weights), m = 1 and 9, on int8
/// and int4 decode tiles (one row: the in-register tile) and an int4 config that buffers 9 rows.
template <auto W8_DECODE, auto W4_DECODE, auto W4_BUFFERED>
void check_subnormal_weights() {
  for (std::int64_t m : {1, 9}) {
    check_weight_only_subnormal_weights<W8_DECODE>(m, 3000 + m);
    check_weight_only_subnormal_weights<W4_DECODE>(m, 3100 + m);
    check_weight_only_subnormal_weights<W4_BUFFERED>(m, 3200 + m);
  }
}

/// Tiles other than the defaults, and every epilogue (bias, activation functions, fp16, bf16 and
/// int8 outputs), of int8 and int4 weights.
template <auto W8_WIDE, auto W8_FP16_GELU, auto W8_RELU_INT8, auto W4_WIDE, auto W4_SILU_BF16,
          auto W4_FP16_TANH>
void check_integer_weights_tiles_and_epilogues() {
  sweep_m(
      {1, 5, 40},
      {{check_weight_only_kernel<W8_WIDE>, 150, 384, {WeightGranularity::per_group, 64}},
       {check_weight_only_kernel<W8_FP16_GELU>, 70, 300, {WeightGranularity::per_channel}},
       {check_weight_only_kernel<W8_RELU_INT8>, 33, 64, {WeightGranularity::per_tensor}},
       {check_weight_only_kernel<W4_WIDE>, 150, 384, {WeightGranularity::per_group, 128, false}},
       {check_weight_only_kernel<W4_SILU_BF16>, 70, 512, {WeightGranularity::per_group, 256, true}},
       {check_weight_only_kernel<W4_FP16_TANH>, 48, 64, {WeightGranularity::per_tensor, 0, false}}},
      {}, 2000);
}

/// Cache blocks of more rows than one register tile dequantize K blocks of weights into the
/// workspace once and run FMA-only tiles on them, carrying fp32 sums between K blocks. With
/// mc = 8, nc = 64 and nv = 1 a K block is 24 values: blocks that cross scale groups (32) and end
/// inside them, a short last block (k_padded = 40), the direct path for m <= mr.
template <auto W8, auto W4>
void check_buffered_k_blocks_cross_groups() {
  static_assert(cpu::WeightOnlyKernel<W8>::BUFFER_K == 24, "W8 buffers K blocks of 24 values.");
  static_assert(cpu::WeightOnlyKernel<W4>::BUFFER_K == 24, "W4 buffers K blocks of 24 values.");
  sweep_m({3, 5, 8, 13, 29},
          {{check_weight_only_kernel<W8>, 40, 160, {WeightGranularity::per_group, 32}},
           {check_weight_only_kernel<W8>, 40, 37, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<W4>, 40, 160, {WeightGranularity::per_group, 32, false}},
           {check_weight_only_kernel<W4>, 40, 37, {WeightGranularity::per_channel, 0, true}}},
          {}, 3000);
}

/// Awkward shapes for fp8 weights of both formats, per channel and per tensor.
template <auto E4M3_BF16, auto E4M3_FP16, auto E5M2_BF16, auto E5M2_FP16>
void check_fp8_weights_awkward_shapes() {
  sweep_m_n({1, 3, 17, 129}, {16, 33, 130},
            {{check_weight_only_kernel<E4M3_BF16>, 201, {WeightGranularity::per_channel}},
             {check_weight_only_kernel<E4M3_FP16>, 37, {WeightGranularity::per_tensor}},
             {check_weight_only_kernel<E5M2_BF16>, 37, {WeightGranularity::per_tensor}},
             {check_weight_only_kernel<E5M2_FP16>, 201, {WeightGranularity::per_channel}}},
            {}, 4000);
}

/// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue of fp8
/// weights.
template <auto E4M3_GELU_FP16, auto E5M2_SILU_BF16, auto E4M3_RELU_INT8, auto E5M2_BUFFERED>
void check_fp8_weights_tiles_and_epilogues() {
  static_assert(cpu::WeightOnlyKernel<E5M2_BUFFERED>::BUFFER_K == 24,
                "E5M2_BUFFERED buffers K blocks of 24 values.");
  sweep_m({1, 5, 13, 40},
          {{check_weight_only_kernel<E4M3_GELU_FP16>, 70, 300, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<E5M2_SILU_BF16>, 150, 384, {WeightGranularity::per_tensor}},
           {check_weight_only_kernel<E4M3_RELU_INT8>, 33, 64, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<E5M2_BUFFERED>, 40, 101, {WeightGranularity::per_channel}}},
          {}, 6000);
}

/// Every fp8 code through the whole kernel, NaN and Inf included (check_every_fp8_code), on the
/// in-register path (m <= mr) and the buffered one.
template <auto E4M3_FP16, auto E4M3_BF16, auto E5M2_FP16, auto E5M2_BF16, auto E4M3_BUFFERED>
void check_every_fp8_code_on_each() {
  for (std::int64_t m : {1, 3, 17}) {
    check_every_fp8_code<E4M3_FP16>(m, 10 + m);
    check_every_fp8_code<E4M3_BF16>(m, 20 + m);
    check_every_fp8_code<E5M2_FP16>(m, 30 + m);
    check_every_fp8_code<E5M2_BF16>(m, 40 + m);
    check_every_fp8_code<E4M3_BUFFERED>(m, 50 + m);
  }
}

/// Awkward shapes for the float baselines: each config on every m x n x k (k = 37, 201).
template <auto... CONFIGS>
void check_float_baseline_awkward_shapes() {
  unsigned seed = 5000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {37, 201})
        (check_weight_only_kernel<CONFIGS>(m, n, k, {WeightGranularity::per_channel}, seed++), ...);
}

/// Other tiles, the buffered K blocks of a tall cache block (mc > mr), and every epilogue of the
/// float baselines.
template <auto FP16_GELU_FP16, auto BF16_SILU_BF16, auto FP32_RELU_INT8, auto BF16_BUFFERED,
          auto FP32_BUFFERED>
void check_float_baseline_tiles_and_epilogues() {
  sweep_m({1, 5, 13, 40},
          {{check_weight_only_kernel<FP16_GELU_FP16>, 70, 300, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<BF16_SILU_BF16>, 150, 384, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<FP32_RELU_INT8>, 33, 64, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<BF16_BUFFERED>, 40, 101, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<FP32_BUFFERED>, 40, 37, {WeightGranularity::per_channel}}},
          {}, 7000);
}

}  // namespace qk::test
