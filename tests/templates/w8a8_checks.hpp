// Checks of the W8A8 kernel template (templates/cpu/w8a8.hpp) that every ISA's test executable
// runs on its own tiles (the config's isa picks the code path): awkward shapes, K blocking,
// every scaling, input and epilogue, and K at the int32 bound.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "cpu/w8a8.hpp"
#include "kernel_cases.hpp"
#include "kernel_harness.hpp"

namespace qk::test {

// The configs that every ISA runs, named by what they cover; each ISA's file picks their tiles.
template <cpu::Isa I, Tile T>
constexpr cpu::W8A8Config w8a8_plain = tiled<I, T>(cpu::W8A8Config{});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A8Config w8a8_fp16_static = tiled<I, T>(cpu::W8A8Config{
    .input = cpu::InputType::fp16,
    .scaling = cpu::Scaling::static_per_tensor,
    .bias = true,
    .act = cpu::Act::relu,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A8Config w8a8_bf16_tensor = tiled<I, T>(cpu::W8A8Config{
    .input = cpu::InputType::bf16,
    .scaling = cpu::Scaling::dynamic_per_tensor,
    .act = cpu::Act::silu,
    .output = cpu::OutputType::bf16});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A8Config w8a8_gelu_int8 = tiled<I, T>(cpu::W8A8Config{
    .bias = true, .act = cpu::Act::gelu, .output = cpu::OutputType::int8});
template <cpu::Isa I, Tile T>
constexpr cpu::W8A8Config w8a8_gelu_tanh = tiled<I, T>(cpu::W8A8Config{
    .input = cpu::InputType::fp16, .bias = true, .act = cpu::Act::gelu_tanh});

/// The W8A8 kernel of config C on m rows of an n x k layer, against the reference (AVX-512's u8
/// operand's codes are offset by 128, AVX2's s8 codes are not). Of `w`, only the granularity
/// applies.
template <cpu::W8A8Config C>
void check_w8a8(std::int64_t m, std::int64_t n, std::int64_t k, Weights w, unsigned seed) {
  LayerConfig layer = layer_for(C);
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = w.granularity;
  check_kernel<cpu::W8A8Kernel<C>>(C, layer, m, quant::pack_cpu_int8,
                                   C.isa == cpu::Isa::avx2 ? 0 : 128, seed);
}

/// Tile T on every m x n x k of partial tiles and K not a multiple of the 4-k step, per channel.
template <cpu::Isa I, Tile T>
void check_w8a8_awkward_shapes() {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130})
      for (std::int64_t k : {4, 37, 200, 1031})
        check_w8a8<w8a8_plain<I, T>>(m, n, k, {WeightGranularity::per_channel}, seed++);
}

/// Tiles whose kc is smaller than K (the int32 workspace carried between K blocks) and whose mc
/// and nc split the block.
template <cpu::Isa I, Tile SMALL, Tile WIDE, Tile TALL>
void check_w8a8_k_blocking() {
  unsigned seed = 100;
  for (std::int64_t m : {1, 5, 31})
    for (std::int64_t k : {60, 300}) {
      check_w8a8<w8a8_plain<I, SMALL>>(m, 50, k, {WeightGranularity::per_channel}, seed++);
      check_w8a8<w8a8_plain<I, WIDE>>(m, 150, k, {WeightGranularity::per_tensor}, seed++);
      check_w8a8<w8a8_plain<I, TALL>>(m, 70, k, {WeightGranularity::per_channel}, seed++);
    }
}

/// Each scaling, input type and epilogue (the configs above, on the tiles named after them),
/// then the ISA's own cases, on every m of `ms`.
template <cpu::Isa I, Tile FP16_STATIC, Tile BF16_TENSOR, Tile GELU_INT8, Tile GELU_TANH>
void check_w8a8_scalings_and_epilogues(std::initializer_list<std::int64_t> ms,
                                       std::initializer_list<Case> isa_only = {}) {
  sweep_m(ms,
          {{check_w8a8<w8a8_fp16_static<I, FP16_STATIC>>, 48, 96, {WeightGranularity::per_channel}},
           {check_w8a8<w8a8_bf16_tensor<I, BF16_TENSOR>>, 40, 132, {WeightGranularity::per_tensor}},
           {check_w8a8<w8a8_gelu_int8<I, GELU_INT8>>, 33, 64, {WeightGranularity::per_channel}},
           {check_w8a8<w8a8_gelu_tanh<I, GELU_TANH>>, 17, 260, {WeightGranularity::per_channel}}},
          isa_only, 200);
}

/// docs/numerics.md §6.2: the largest K whose int32 sums cannot overflow; the result is exact.
template <cpu::Isa I, Tile T>
void check_w8a8_at_the_k_bound() {
  const std::int64_t k = 2147483647LL / (127 * 127);
  check_w8a8<w8a8_plain<I, T>>(1, 16, k, {WeightGranularity::per_channel}, 7);
}

}  // namespace qk::test
