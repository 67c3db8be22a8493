// The case lists of the weight-only kernel template (W8A16, W4A16, WFP8A16 and the float
// baselines) that every ISA's test executable runs on its own tiles: each names the configs it
// needs by what they cover (the callers pick the tiles) and runs them on fixed shapes and seeds.
// The checks themselves are in weight_only_checks.hpp.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "kernel_cases.hpp"
#include "weight_only_checks.hpp"

namespace qk::test {

// The configs that every ISA runs, named by what they cover; each ISA's file picks their tiles.
template <cpu::Isa I, Tile T>
constexpr cpu::W8A16Config w8a16_bf16 = tiled<I, T>(cpu::W8A16Config{});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A16Config w8a16_fp16 = tiled<I, T>(cpu::W8A16Config{
    .input = cpu::InputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A16Config w8a16_fp16_gelu_fp16 = tiled<I, T>(cpu::W8A16Config{
    .input = cpu::InputType::fp16,
    .bias = true,
    .act = cpu::Act::gelu,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A16Config w8a16_relu_int8 = tiled<I, T>(cpu::W8A16Config{
    .bias = true, .act = cpu::Act::relu, .output = cpu::OutputType::int8});

template <cpu::Isa I, Tile T>
constexpr cpu::W4A16Config w4a16_bf16 = tiled<I, T>(cpu::W4A16Config{});
template <cpu::Isa I, Tile T>
constexpr cpu::W4A16Config w4a16_fp16 = tiled<I, T>(cpu::W4A16Config{
    .input = cpu::InputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::W4A16Config w4a16_silu_bf16 = tiled<I, T>(cpu::W4A16Config{
    .bias = true, .act = cpu::Act::silu, .output = cpu::OutputType::bf16});
template <cpu::Isa I, Tile T>
constexpr cpu::W4A16Config w4a16_fp16_tanh = tiled<I, T>(cpu::W4A16Config{
    .input = cpu::InputType::fp16, .act = cpu::Act::gelu_tanh});

template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e4m3_bf16 = tiled<I, T>(cpu::WFp8A16Config{});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e4m3_fp16 = tiled<I, T>(cpu::WFp8A16Config{
    .input = cpu::InputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e5m2_bf16 = tiled<I, T>(cpu::WFp8A16Config{
    .weight = cpu::WeightType::fp8_e5m2});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e5m2_fp16 = tiled<I, T>(cpu::WFp8A16Config{
    .weight = cpu::WeightType::fp8_e5m2, .input = cpu::InputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e4m3_gelu_fp16 = tiled<I, T>(cpu::WFp8A16Config{
    .input = cpu::InputType::fp16,
    .bias = true,
    .act = cpu::Act::gelu,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e5m2_silu_bf16 = tiled<I, T>(cpu::WFp8A16Config{
    .weight = cpu::WeightType::fp8_e5m2,
    .bias = true,
    .act = cpu::Act::silu,
    .output = cpu::OutputType::bf16});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e4m3_relu_int8 = tiled<I, T>(cpu::WFp8A16Config{
    .bias = true, .act = cpu::Act::relu, .output = cpu::OutputType::int8});
template <cpu::Isa I, Tile T>
constexpr cpu::WFp8A16Config e5m2_fp16_tanh = tiled<I, T>(cpu::WFp8A16Config{
    .weight = cpu::WeightType::fp8_e5m2,
    .input = cpu::InputType::fp16,
    .act = cpu::Act::gelu_tanh});

template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig fp16_baseline = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::fp16, .input = cpu::InputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig bf16_baseline = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::bf16, .input = cpu::InputType::bf16});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig fp32_baseline = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::fp32, .input = cpu::InputType::fp32});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig fp16_gelu_fp16 = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::fp16,
    .input = cpu::InputType::fp16,
    .bias = true,
    .act = cpu::Act::gelu,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig bf16_silu_bf16 = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::bf16,
    .input = cpu::InputType::bf16,
    .bias = true,
    .act = cpu::Act::silu,
    .output = cpu::OutputType::bf16});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig fp32_relu_int8 = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::fp32,
    .input = cpu::InputType::fp32,
    .bias = true,
    .act = cpu::Act::relu,
    .output = cpu::OutputType::int8});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig bf16_tanh_fp16 = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::bf16,
    .input = cpu::InputType::bf16,
    .act = cpu::Act::gelu_tanh,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::FloatConfig fp32_bias = tiled<I, T>(cpu::FloatConfig{
    .weight = cpu::WeightType::fp32, .input = cpu::InputType::fp32, .bias = true});

/// A cache block of more rows (mc = 8) than the register tile (mr = 4) over nv = 1 and nc = 64:
/// the kernel buffers K blocks of 24 values (weight_only.hpp's BUFFER_K), on every ISA.
constexpr Tile kBuffered{.mr = 4, .nv = 1, .mc = 8, .nc = 64};

/// Awkward shapes for int8 weights: partial row tiles (m = 3, 17, 129), partial column panels and
/// tiles (n = 33, 130), K not a multiple of the packing step (per-channel k = 37, 201), per
/// tensor, per channel and per group, bf16 and fp16 activations; then the ISA's own cases.
template <cpu::Isa I, Tile BF16, Tile FP16>
void check_w8a16_awkward_shapes(std::initializer_list<KCase> isa_only = {}) {
  constexpr auto bf16 = w8a16_bf16<I, BF16>;
  constexpr auto fp16 = w8a16_fp16<I, FP16>;
  sweep_m_n({1, 3, 17, 129}, {16, 33, 130},
            {{check_weight_only_kernel<bf16>, 201, {WeightGranularity::per_channel}},
             {check_weight_only_kernel<fp16>, 37, {WeightGranularity::per_tensor}},
             {check_weight_only_kernel<bf16>, 256, {WeightGranularity::per_group, 128}},
             {check_weight_only_kernel<fp16>, 96, {WeightGranularity::per_group, 32}}},
            isa_only, 1);
}

/// Awkward shapes for int4 weights, per group and per channel, with and without zero points; then
/// the ISA's own cases. Returns the next unused seed.
template <cpu::Isa I, Tile BF16, Tile FP16>
unsigned check_w4a16_awkward_shapes(std::initializer_list<KCase> isa_only = {}) {
  constexpr auto bf16 = w4a16_bf16<I, BF16>;
  constexpr auto fp16 = w4a16_fp16<I, FP16>;
  return sweep_m_n(
      {1, 3, 17, 129}, {16, 33, 130},
      {{check_weight_only_kernel<bf16>, 256, {WeightGranularity::per_group, 128, true}},
       {check_weight_only_kernel<fp16>, 96, {WeightGranularity::per_group, 32, false}},
       {check_weight_only_kernel<bf16>, 200, {WeightGranularity::per_channel, 0, false}},
       {check_weight_only_kernel<fp16>, 37, {WeightGranularity::per_channel, 0, true}}},
      isa_only, 1000);
}

/// Weights that are fp16 subnormals (check_weight_only_subnormal_weights), m = 1 and 9, on int8
/// and int4 decode tiles (one row: the in-register tile) and an int4 config that buffers 9 rows.
template <cpu::Isa I, Tile W8_DECODE, Tile W4_DECODE, Tile W4_BUFFERED>
void check_subnormal_weights() {
  for (std::int64_t m : {1, 9}) {
    check_weight_only_subnormal_weights<w8a16_fp16<I, W8_DECODE>>(m, 3000 + m);
    check_weight_only_subnormal_weights<w4a16_fp16<I, W4_DECODE>>(m, 3100 + m);
    check_weight_only_subnormal_weights<w4a16_fp16<I, W4_BUFFERED>>(m, 3200 + m);
  }
}

/// Tiles other than the defaults, and every epilogue (bias, activation functions, fp16, bf16 and
/// int8 outputs), of int8 and int4 weights.
template <cpu::Isa I, Tile W8_WIDE, Tile W8_FP16_GELU, Tile W8_RELU_INT8, Tile W4_WIDE,
          Tile W4_SILU_BF16, Tile W4_FP16_TANH>
void check_integer_weights_tiles_and_epilogues() {
  constexpr auto w8_wide = w8a16_bf16<I, W8_WIDE>;
  constexpr auto w8_fp16_gelu = w8a16_fp16_gelu_fp16<I, W8_FP16_GELU>;
  constexpr auto w8_relu_int8 = w8a16_relu_int8<I, W8_RELU_INT8>;
  constexpr auto w4_wide = w4a16_bf16<I, W4_WIDE>;
  constexpr auto w4_silu_bf16 = w4a16_silu_bf16<I, W4_SILU_BF16>;
  constexpr auto w4_fp16_tanh = w4a16_fp16_tanh<I, W4_FP16_TANH>;
  sweep_m(
      {1, 5, 40},
      {{check_weight_only_kernel<w8_wide>, 150, 384, {WeightGranularity::per_group, 64}},
       {check_weight_only_kernel<w8_fp16_gelu>, 70, 300, {WeightGranularity::per_channel}},
       {check_weight_only_kernel<w8_relu_int8>, 33, 64, {WeightGranularity::per_tensor}},
       {check_weight_only_kernel<w4_wide>, 150, 384, {WeightGranularity::per_group, 128, false}},
       {check_weight_only_kernel<w4_silu_bf16>, 70, 512, {WeightGranularity::per_group, 256, true}},
       {check_weight_only_kernel<w4_fp16_tanh>, 48, 64, {WeightGranularity::per_tensor, 0, false}}},
      {}, 2000);
}

/// Cache blocks of more rows than one register tile dequantize K blocks of weights into the
/// workspace once and run FMA-only tiles on them, carrying fp32 sums between K blocks. On
/// kBuffered a K block is 24 values: blocks that cross scale groups (32) and end inside them, a
/// short last block (k_padded = 40), the direct path for m <= mr.
template <cpu::Isa I>
void check_buffered_k_blocks_cross_groups() {
  constexpr auto w8 = w8a16_fp16<I, kBuffered>;
  constexpr auto w4 = w4a16_bf16<I, kBuffered>;
  static_assert(cpu::WeightOnlyKernel<w8>::BUFFER_K == 24, "W8 buffers K blocks of 24 values.");
  static_assert(cpu::WeightOnlyKernel<w4>::BUFFER_K == 24, "W4 buffers K blocks of 24 values.");
  sweep_m({3, 5, 8, 13, 29},
          {{check_weight_only_kernel<w8>, 40, 160, {WeightGranularity::per_group, 32}},
           {check_weight_only_kernel<w8>, 40, 37, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<w4>, 40, 160, {WeightGranularity::per_group, 32, false}},
           {check_weight_only_kernel<w4>, 40, 37, {WeightGranularity::per_channel, 0, true}}},
          {}, 3000);
}

/// Awkward shapes for fp8 weights of both formats, per channel and per tensor.
template <cpu::Isa I, Tile E4M3_BF16, Tile E4M3_FP16, Tile E5M2_BF16, Tile E5M2_FP16>
void check_fp8_weights_awkward_shapes() {
  sweep_m_n(
      {1, 3, 17, 129}, {16, 33, 130},
      {{check_weight_only_kernel<e4m3_bf16<I, E4M3_BF16>>, 201, {WeightGranularity::per_channel}},
       {check_weight_only_kernel<e4m3_fp16<I, E4M3_FP16>>, 37, {WeightGranularity::per_tensor}},
       {check_weight_only_kernel<e5m2_bf16<I, E5M2_BF16>>, 37, {WeightGranularity::per_tensor}},
       {check_weight_only_kernel<e5m2_fp16<I, E5M2_FP16>>, 201, {WeightGranularity::per_channel}}},
      {}, 4000);
}

/// Other tiles, the buffered K blocks of a tall cache block (kBuffered), and every epilogue of fp8
/// weights.
template <cpu::Isa I, Tile E4M3_GELU_FP16, Tile E5M2_SILU_BF16, Tile E4M3_RELU_INT8>
void check_fp8_weights_tiles_and_epilogues() {
  constexpr auto e4m3_gelu = e4m3_gelu_fp16<I, E4M3_GELU_FP16>;
  constexpr auto e5m2_silu = e5m2_silu_bf16<I, E5M2_SILU_BF16>;
  constexpr auto e4m3_relu = e4m3_relu_int8<I, E4M3_RELU_INT8>;
  constexpr auto e5m2_buffered = e5m2_fp16_tanh<I, kBuffered>;
  static_assert(cpu::WeightOnlyKernel<e5m2_buffered>::BUFFER_K == 24,
                "e5m2_buffered buffers K blocks of 24 values.");
  sweep_m({1, 5, 13, 40},
          {{check_weight_only_kernel<e4m3_gelu>, 70, 300, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<e5m2_silu>, 150, 384, {WeightGranularity::per_tensor}},
           {check_weight_only_kernel<e4m3_relu>, 33, 64, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<e5m2_buffered>, 40, 101, {WeightGranularity::per_channel}}},
          {}, 6000);
}

/// Every fp8 code through the whole kernel, NaN and Inf included (check_every_fp8_code), on the
/// in-register path (m <= mr) and the buffered one (kBuffered).
template <cpu::Isa I, Tile E4M3_FP16, Tile E4M3_BF16, Tile E5M2_FP16, Tile E5M2_BF16>
void check_every_fp8_code_on_each() {
  for (std::int64_t m : {1, 3, 17}) {
    check_every_fp8_code<e4m3_fp16<I, E4M3_FP16>>(m, 10 + m);
    check_every_fp8_code<e4m3_bf16<I, E4M3_BF16>>(m, 20 + m);
    check_every_fp8_code<e5m2_fp16<I, E5M2_FP16>>(m, 30 + m);
    check_every_fp8_code<e5m2_bf16<I, E5M2_BF16>>(m, 40 + m);
    check_every_fp8_code<e4m3_bf16<I, kBuffered>>(m, 50 + m);
  }
}

/// Awkward shapes for the float baselines: each of fp16, bf16 and fp32, then the ISA's own
/// configs, on every m x n x k (k = 37, 201).
template <cpu::Isa I, Tile FP16, Tile BF16, Tile FP32, auto... ISA_ONLY>
void check_float_baseline_awkward_shapes() {
  unsigned seed = 5000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {37, 201}) {
        const Weights w{WeightGranularity::per_channel};
        check_weight_only_kernel<fp16_baseline<I, FP16>>(m, n, k, w, seed++);
        check_weight_only_kernel<bf16_baseline<I, BF16>>(m, n, k, w, seed++);
        check_weight_only_kernel<fp32_baseline<I, FP32>>(m, n, k, w, seed++);
        (check_weight_only_kernel<ISA_ONLY>(m, n, k, w, seed++), ...);
      }
}

/// Other tiles, the buffered K blocks of tall cache blocks (kBuffered and FP32_BUFFERED: mc >
/// mr), and every epilogue of the float baselines.
template <cpu::Isa I, Tile FP16_GELU_FP16, Tile BF16_SILU_BF16, Tile FP32_RELU_INT8,
          Tile FP32_BUFFERED>
void check_float_baseline_tiles_and_epilogues() {
  constexpr auto fp16_gelu = fp16_gelu_fp16<I, FP16_GELU_FP16>;
  constexpr auto bf16_silu = bf16_silu_bf16<I, BF16_SILU_BF16>;
  constexpr auto fp32_relu = fp32_relu_int8<I, FP32_RELU_INT8>;
  constexpr auto bf16_buffered = bf16_tanh_fp16<I, kBuffered>;
  constexpr auto fp32_buffered = fp32_bias<I, FP32_BUFFERED>;
  sweep_m({1, 5, 13, 40},
          {{check_weight_only_kernel<fp16_gelu>, 70, 300, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<bf16_silu>, 150, 384, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<fp32_relu>, 33, 64, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<bf16_buffered>, 40, 101, {WeightGranularity::per_channel}},
           {check_weight_only_kernel<fp32_buffered>, 40, 37, {WeightGranularity::per_channel}}},
          {}, 7000);
}

}  // namespace qk::test
