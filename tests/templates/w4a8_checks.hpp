// Checks of the W4A8 kernel template (templates/cpu/w4a8.hpp) that every ISA's test executable
// runs on its own tiles (the config's isa picks the code path): awkward shapes with exact
// integer parts (docs/numerics.md §6.2), tiles, scalings and epilogues.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "cpu/w4a8.hpp"
#include "kernel_cases.hpp"
#include "kernel_harness.hpp"

namespace qk::test {

// The configs that every ISA runs, named by what they cover; each ISA's file picks their tiles.
template <cpu::Isa I, Tile T>
constexpr cpu::W4A8Config w4a8_plain = tiled<I, T>(cpu::W4A8Config{});
template <cpu::Isa I, Tile T>
constexpr cpu::W4A8Config w4a8_fp16_static = tiled<I, T>(cpu::W4A8Config{
    .input = cpu::InputType::fp16,
    .scaling = cpu::Scaling::static_per_tensor,
    .bias = true,
    .act = cpu::Act::gelu,
    .output = cpu::OutputType::fp16});
template <cpu::Isa I, Tile T>
constexpr cpu::W4A8Config w4a8_bf16_tensor = tiled<I, T>(cpu::W4A8Config{
    .input = cpu::InputType::bf16,
    .scaling = cpu::Scaling::dynamic_per_tensor,
    .act = cpu::Act::silu,
    .output = cpu::OutputType::int8});

/// The int4 layer of config C: n x k weights quantized as `w`.
template <cpu::W4A8Config C>
LayerConfig w4a8_layer(std::int64_t n, std::int64_t k, Weights w) {
  LayerConfig layer = layer_for(C);
  layer.weight_quant = QuantType::int4;
  layer.n = n;
  layer.k = k;
  layer.weight_granularity = w.granularity;
  layer.block_size = w.block_size;
  layer.weight_symmetric = w.symmetric;
  return layer;
}

/// The W4A8 kernel of config C on m rows of an n x k layer, against the reference.
template <cpu::W4A8Config C>
void check_w4a8(std::int64_t m, std::int64_t n, std::int64_t k, Weights w, unsigned seed) {
  check_kernel<cpu::W4A8Kernel<C>>(C, w4a8_layer<C>(n, k, w), m, quant::pack_cpu_int4, 0, seed);
}

/// §6.2: per-group sums are exact and folded in the reference's order (equal fp32 outputs), on
/// partial tiles, per group and per channel, symmetric and with zero points.
template <cpu::Isa I, Tile T>
void check_w4a8_awkward_shapes() {
  constexpr cpu::W4A8Config C = w4a8_plain<I, T>;
  sweep_m_n({1, 3, 17, 129}, {16, 33, 130},
            {{check_w4a8<C>, 256, {WeightGranularity::per_group, 64, true}},
             {check_w4a8<C>, 96, {WeightGranularity::per_group, 32, false}},
             {check_w4a8<C>, 200, {WeightGranularity::per_channel, 0, false}},
             {check_w4a8<C>, 37, {WeightGranularity::per_channel, 0, true}}},
            {}, 1);
}

/// The plain config on groups of 128 (GROUPS_128: 150 x 384), the config GROUPS_256 on groups of
/// 256 with zero points (70 x 512), fp16 activations with a static scale (48 x 128, groups of
/// 32), bf16 ones scaled per tensor (33 x 64), then the ISA's own cases, on every m of `ms`.
/// Callers pick the first two for tiles other than the defaults; GROUPS_256 is a whole config
/// because AVX2 gives it an epilogue of its own.
template <cpu::Isa I, Tile GROUPS_128, cpu::W4A8Config GROUPS_256, Tile FP16_STATIC,
          Tile BF16_TENSOR>
void check_w4a8_tiles_scalings_and_epilogues(std::initializer_list<std::int64_t> ms,
                                             std::initializer_list<Case> isa_only = {}) {
  static_assert(GROUPS_256.isa == I, "GROUPS_256 is generated for the ISA under test.");
  constexpr auto groups_128 = w4a8_plain<I, GROUPS_128>;
  constexpr auto fp16_static = w4a8_fp16_static<I, FP16_STATIC>;
  constexpr auto bf16_tensor = w4a8_bf16_tensor<I, BF16_TENSOR>;
  sweep_m(ms,
          {{check_w4a8<groups_128>, 150, 384, {WeightGranularity::per_group, 128, true}},
           {check_w4a8<GROUPS_256>, 70, 512, {WeightGranularity::per_group, 256, false}},
           {check_w4a8<fp16_static>, 48, 128, {WeightGranularity::per_group, 32, true}},
           {check_w4a8<bf16_tensor>, 33, 64, {WeightGranularity::per_tensor, 0, false}}},
          isa_only, 100);
}

}  // namespace qk::test
