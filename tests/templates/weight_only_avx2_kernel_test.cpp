// The weight-only kernel template for AVX2 (Isa::avx2) with integer weights, W8A16 and W4A16,
// compiled ahead of time for x86-64-v3 with AVX-512 disabled (tests/CMakeLists.txt), against the
// reference of docs/numerics.md §6.3: weights dequantized exactly as the contract (bit for bit,
// which the tight bound of check_weight_only sees), fp32 sums within (K + 2) u_fp32.
#include <gtest/gtest.h>

#include "weight_only_checks.hpp"

#if defined(__AVX512F__) || !defined(__AVX2__)
#error "This test must be compiled for x86-64-v3 without AVX-512 (see tests/CMakeLists.txt)."
#endif

namespace qk {
namespace {

using cpu::Act;
using cpu::InputType;
using cpu::Isa;
using cpu::OutputType;
using cpu::W4A16Config;
using cpu::W8A16Config;
using test::check_weight_only_kernel;
using test::Weights;

// The default tiles of codegen's avx2 buckets: 1 x 32 (M <= 4) and 4 x 16.
constexpr W8A16Config kW8Bf16{.isa = Isa::avx2, .mr = 4, .nv = 1};
constexpr W8A16Config kW8Fp16{.isa = Isa::avx2, .input = InputType::fp16, .mr = 4, .nv = 1};
constexpr W8A16Config kW8Decode{.isa = Isa::avx2, .mr = 1, .nv = 2};
constexpr W4A16Config kW4Bf16{.isa = Isa::avx2, .mr = 4, .nv = 1};
constexpr W4A16Config kW4Fp16{.isa = Isa::avx2, .input = InputType::fp16, .mr = 4, .nv = 1};
constexpr W4A16Config kW4Decode{.isa = Isa::avx2, .input = InputType::fp16, .mr = 1, .nv = 2};

// Awkward shapes: partial row tiles (m = 3, 17, 129 against mr = 4), partial column panels and
// tiles (n = 33, 130: the second ymm of a panel partly or wholly past n), K not a multiple of the
// packing step (per-channel k = 37, 201), int8 per tensor, per channel and per group.
TEST(WeightOnlyAvx2Kernel, W8A16AwkwardShapes) {
  unsigned seed = 1;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check_weight_only_kernel<kW8Bf16>(m, n, 201, {WeightGranularity::per_channel}, seed++);
      check_weight_only_kernel<kW8Fp16>(m, n, 37, {WeightGranularity::per_tensor}, seed++);
      check_weight_only_kernel<kW8Bf16>(m, n, 256, {WeightGranularity::per_group, 128}, seed++);
      check_weight_only_kernel<kW8Fp16>(m, n, 96, {WeightGranularity::per_group, 32}, seed++);
      check_weight_only_kernel<kW8Decode>(m, n, 201, {WeightGranularity::per_tensor}, seed++);
    }
}

// int4 with groups of 32 to 256, with and without zero points, and per channel.
TEST(WeightOnlyAvx2Kernel, W4A16AwkwardShapesAndGroups) {
  unsigned seed = 1000;
  for (std::int64_t m : {1, 3, 17, 129})
    for (std::int64_t n : {16, 33, 130}) {
      check_weight_only_kernel<kW4Bf16>(m, n, 256, {WeightGranularity::per_group, 128}, seed++);
      check_weight_only_kernel<kW4Fp16>(m, n, 96, {WeightGranularity::per_group, 32, false},
                                        seed++);
      check_weight_only_kernel<kW4Bf16>(m, n, 200, {WeightGranularity::per_channel, 0, false},
                                        seed++);
      check_weight_only_kernel<kW4Fp16>(m, n, 37, {WeightGranularity::per_channel, 0, true},
                                        seed++);
      check_weight_only_kernel<kW4Decode>(m, n, 512, {WeightGranularity::per_group, 256, false},
                                          seed++);
    }
  for (int group : {32, 64, 128, 256})
    for (bool symmetric : {true, false}) {
      check_weight_only_kernel<kW4Decode>(1, 70, 512,
                                          {WeightGranularity::per_group, group, symmetric}, seed++);
      check_weight_only_kernel<kW4Bf16>(9, 70, 512,
                                        {WeightGranularity::per_group, group, symmetric}, seed++);
    }
}

// Decode (the in-register tile) and a buffered block on weights that are fp16 subnormals.
TEST(WeightOnlyAvx2Kernel, SubnormalWeightsInFp16) {
  constexpr W8A16Config w8_decode_fp16{.isa = Isa::avx2, .input = InputType::fp16, .mr = 1, .nv = 2};
  for (std::int64_t m : {1, 9}) {
    test::check_weight_only_subnormal_weights<kW4Decode>(m, 3000 + m);
    test::check_weight_only_subnormal_weights<w8_decode_fp16>(m, 3100 + m);
    test::check_weight_only_subnormal_weights<kW4Fp16>(m, 3200 + m);
  }
}

// Tiles within 16 ymm other than the defaults (1 x 32, 2 x 16, 3 x 16, 5 x 16), and every epilogue:
// bias, activation functions, fp16/bf16/int8 outputs.
TEST(WeightOnlyAvx2Kernel, TilesAndEpilogues) {
  constexpr W8A16Config w8_wide{.isa = Isa::avx2, .mr = 1, .nv = 2, .mc = 8, .nc = 128};
  constexpr W8A16Config w8_fp16_gelu{.isa = Isa::avx2,
                                     .input = InputType::fp16,
                                     .bias = true,
                                     .act = Act::gelu,
                                     .output = OutputType::fp16,
                                     .mr = 2,
                                     .nv = 1,
                                     .mc = 8,
                                     .nc = 96};
  constexpr W8A16Config w8_relu_int8{.isa = Isa::avx2,
                                     .bias = true,
                                     .act = Act::relu,
                                     .output = OutputType::int8,
                                     .mr = 5,
                                     .nv = 1,
                                     .mc = 10,
                                     .nc = 64};
  constexpr W4A16Config w4_wide{.isa = Isa::avx2, .mr = 1, .nv = 2, .mc = 8, .nc = 96};
  constexpr W4A16Config w4_silu_bf16{.isa = Isa::avx2,
                                     .bias = true,
                                     .act = Act::silu,
                                     .output = OutputType::bf16,
                                     .mr = 2,
                                     .nv = 1,
                                     .mc = 4,
                                     .nc = 128};
  constexpr W4A16Config w4_fp16_tanh{.isa = Isa::avx2,
                                     .input = InputType::fp16,
                                     .act = Act::gelu_tanh,
                                     .output = OutputType::fp32,
                                     .mr = 3,
                                     .nv = 1,
                                     .mc = 12,
                                     .nc = 64};
  unsigned seed = 2000;
  for (std::int64_t m : {1, 5, 40}) {
    check_weight_only_kernel<w8_wide>(m, 150, 384, {WeightGranularity::per_group, 64}, seed++);
    check_weight_only_kernel<w8_fp16_gelu>(m, 70, 300, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<w8_relu_int8>(m, 33, 64, {WeightGranularity::per_tensor}, seed++);
    check_weight_only_kernel<w4_wide>(m, 150, 384, {WeightGranularity::per_group, 128, false},
                                      seed++);
    check_weight_only_kernel<w4_silu_bf16>(m, 70, 512, {WeightGranularity::per_group, 256, true},
                                           seed++);
    check_weight_only_kernel<w4_fp16_tanh>(m, 48, 64, {WeightGranularity::per_tensor, 0, false},
                                           seed++);
  }
}

// Cache blocks of more rows than one register tile dequantize K blocks of weights into the
// workspace once and run FMA-only tiles on them, carrying fp32 sums between K blocks. With
// mc = 8, nc = 64 and nv = 1 a K block is 24 values: blocks that cross scale groups (32) and end
// inside them, a short last block (k_padded = 40), the direct path for m <= mr.
TEST(WeightOnlyAvx2Kernel, BufferedKBlocksCrossGroups) {
  constexpr W8A16Config w8{
      .isa = Isa::avx2, .input = InputType::fp16, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
  constexpr W4A16Config w4{.isa = Isa::avx2, .mr = 4, .nv = 1, .mc = 8, .nc = 64};
  static_assert(cpu::WeightOnlyKernel<w8>::BUFFER_K == 24);
  unsigned seed = 3000;
  for (std::int64_t m : {3, 5, 8, 13, 29}) {
    check_weight_only_kernel<w8>(m, 40, 160, {WeightGranularity::per_group, 32}, seed++);
    check_weight_only_kernel<w8>(m, 40, 37, {WeightGranularity::per_channel}, seed++);
    check_weight_only_kernel<w4>(m, 40, 160, {WeightGranularity::per_group, 32, false}, seed++);
    check_weight_only_kernel<w4>(m, 40, 37, {WeightGranularity::per_channel, 0, true}, seed++);
  }
}

}  // namespace
}  // namespace qk
