// Kernel specs, canonical names, tile validation and rendering for the cuda target (no GPU, no
// compiler: tests/runtime/nvrtc_compiler_test.cpp compiles what is rendered here).
#include "codegen/cuda_kernel_spec.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "codegen/render_cuda.hpp"
#include "codegen/render_cuda_emu.hpp"

namespace qk::codegen {
namespace {

LayerConfig w8a8_layer() {
  LayerConfig l;
  l.name = "fc";
  l.n = 4096;
  l.k = 4096;
  l.input_dtype = QuantType::fp16;
  l.activation_scaling = ActivationScaling::static_per_tensor;
  l.epilogue = {true, Activation::none, QuantType::fp16};
  return l;
}

/// The fp16 (or bf16) baseline: both operands in the activations' type, no scales.
LayerConfig float_layer(QuantType type) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = l.activation_quant = l.input_dtype = type;
  l.activation_scaling = ActivationScaling::none;
  return l;
}

/// W4A16: int4 weights in groups of `group` k, with zero points or not, fp16 activations.
LayerConfig w4a16_layer(int group, bool zero_points) {
  LayerConfig l = float_layer(QuantType::fp16);
  l.weight_quant = QuantType::int4;
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = group;
  l.weight_symmetric = !zero_points;
  return l;
}

/// W4A8: int4 weights in groups of `group` k (zero points or not), int8 activations.
LayerConfig w4a8_layer(int group, bool zero_points) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = QuantType::int4;
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = group;
  l.weight_symmetric = !zero_points;
  return l;
}

/// FP8: `activation` (e4m3 or e5m2) activations quantized in the kernel, e4m3 weights.
LayerConfig fp8_layer(QuantType activation) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = QuantType::fp8_e4m3;
  l.activation_quant = activation;
  return l;
}

const CudaTile kBig{128, 128, 64, 2, 2, 3};
const CudaOperands kW8A8{QuantType::int8, QuantType::int8, ActivationScaling::static_per_tensor};

TEST(CudaKernelSpec, NameHasEveryFieldAndIsAnIdentifier) {
  auto spec = cuda_kernel_spec(w8a8_layer(), kBig, CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  const std::string name = canonical_name(*spec);
  EXPECT_EQ(name, "qk_w8a8_sm_80_fp16_st_bias_none_fp16_128x128x64_w2x2_s3");
  for (char c : name) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '_') << c;
  EXPECT_EQ(spec_hash(*spec).size(), 16u);
}

// Each field that changes generated code changes the name; the layer's name and shape do not.
TEST(CudaKernelSpec, DistinctSpecsHaveDistinctNames) {
  std::vector<LayerConfig> layers(5, w8a8_layer());
  layers[1].input_dtype = QuantType::bf16;
  layers[2].activation_scaling = ActivationScaling::dynamic_per_token;
  layers[3].epilogue.bias = false;
  layers[4].epilogue.output = QuantType::bf16;
  for (Activation a : {Activation::relu, Activation::gelu, Activation::gelu_tanh, Activation::silu})
    layers.push_back(w8a8_layer()), layers.back().epilogue.activation = a;
  layers.push_back(w8a8_layer()), layers.back().epilogue.output = QuantType::int8;
  layers.push_back(w4a8_layer(128, false)), layers.back().epilogue.output = QuantType::int8;
  layers.push_back(float_layer(QuantType::fp16));
  layers.push_back(float_layer(QuantType::bf16));
  layers.push_back(w4a16_layer(128, false));
  layers.push_back(w4a16_layer(128, true));
  layers.push_back(w4a16_layer(64, false));
  layers.push_back(w4a8_layer(128, false));
  layers.push_back(w4a8_layer(32, true));
  std::set<std::string> names;
  std::size_t specs = 0;
  for (const LayerConfig& l : layers)
    for (CudaArch arch : kCudaArchs) {
      const GemmFamily family = *family_of(l.weight_quant, l.activation_quant);
      for (const CudaTile& tile : cuda_tiles(family)) {
        auto spec = cuda_kernel_spec(l, tile, arch);
        ASSERT_TRUE(spec) << spec.error().str();
        names.insert(canonical_name(*spec));
        ++specs;
      }
    }
  EXPECT_EQ(specs, layers.size() * kCudaArchs.size() * 3);
  EXPECT_EQ(names.size(), specs);

  LayerConfig renamed = w8a8_layer();
  renamed.name = "other";
  renamed.n = 11008;
  renamed.k = 512;
  EXPECT_EQ(canonical_name(*cuda_kernel_spec(renamed, kBig, CudaArch::sm_80)),
            canonical_name(*cuda_kernel_spec(w8a8_layer(), kBig, CudaArch::sm_80)));
}

TEST(CudaKernelSpec, WhatIsNotImplementedIsUnsupportedAndSaysWhat) {
  struct Case {
    LayerConfig layer;
    std::string field;
  };
  std::vector<Case> cases;
  LayerConfig l = w8a8_layer();
  l.activation_quant = QuantType::fp16;
  l.activation_scaling = ActivationScaling::none;
  cases.push_back({l, "family w8a16"});
  l = w8a8_layer();
  l.input_dtype = QuantType::fp32;
  cases.push_back({l, "input_dtype fp32"});
  l = w8a8_layer();
  l.activation_scaling = ActivationScaling::dynamic_per_tensor;
  cases.push_back({l, "activation_scaling dynamic_per_tensor"});
  l = w8a8_layer();
  l.epilogue.output = QuantType::fp32;
  cases.push_back({l, "epilogue.output fp32"});
  for (const Case& c : cases) {
    auto spec = cuda_kernel_spec(c.layer, kBig, CudaArch::sm_80);
    ASSERT_FALSE(spec) << c.field;
    EXPECT_EQ(spec.error().code, Errc::unsupported);
    EXPECT_NE(spec.error().message.find(c.field), std::string::npos) << spec.error().str();
  }
}

TEST(CudaKernelSpec, FloatBaselinesReadBothOperandsInTheirType) {
  for (QuantType type : {QuantType::fp16, QuantType::bf16}) {
    auto spec =
        cuda_kernel_spec(float_layer(type), cuda_tiles(GemmFamily::fp16).front(), CudaArch::sm_86);
    ASSERT_TRUE(spec) << spec.error().str();
    EXPECT_EQ(operands(*spec), (CudaOperands{type, type, ActivationScaling::none}));
    EXPECT_EQ(canonical_name(*spec), fmt::format("qk_{0}_sm_86_{0}_none_bias_none_fp16_"
                                                 "128x128x32_w2x2_s4_r8",
                                                 to_string(type)));
  }
}

TEST(CudaKernelSpec, W4A16NamesItsGroupsAndTakesOnlyPerGroupWeights) {
  auto spec = cuda_kernel_spec(w4a16_layer(32, true), kBig, CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  EXPECT_EQ(canonical_name(*spec),
            "qk_w4a16_sm_80_fp16_none_g32z_bias_none_fp16_128x128x64_w2x2_s3");
  EXPECT_EQ(operands(*spec),
            (CudaOperands{QuantType::fp16, QuantType::int4, ActivationScaling::none, 32, true}));
  LayerConfig channel = w4a16_layer(32, false);
  channel.weight_granularity = WeightGranularity::per_channel;
  channel.block_size = 0;
  auto refused = cuda_kernel_spec(channel, kBig, CudaArch::sm_80);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::unsupported);
  EXPECT_NE(refused.error().message.find("weight_granularity per_channel"), std::string::npos)
      << refused.error().str();
}

TEST(CudaKernelSpec, Fp8NeedsSm89OrSm90aAndNamesItsActivationCode) {
  for (CudaArch arch : {CudaArch::sm_80, CudaArch::sm_86}) {
    auto refused = cuda_kernel_spec(fp8_layer(QuantType::fp8_e4m3), kBig, arch);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, Errc::unsupported);
    EXPECT_NE(refused.error().message.find(std::string(to_string(arch)) + " has none"),
              std::string::npos)
        << refused.error().str();
  }
  std::set<std::string> names;
  for (CudaArch arch : {CudaArch::sm_89, CudaArch::sm_90a})
    for (QuantType a : {QuantType::fp8_e4m3, QuantType::fp8_e5m2})
      for (const CudaTile& tile : cuda_tiles(GemmFamily::fp8)) {
        auto spec = cuda_kernel_spec(fp8_layer(a), tile, arch);
        ASSERT_TRUE(spec) << spec.error().str();
        EXPECT_EQ(operands(*spec),
                  (CudaOperands{a, QuantType::fp8_e4m3, ActivationScaling::static_per_tensor}));
        names.insert(canonical_name(*spec));
      }
  EXPECT_EQ(names.size(), 2u * 2u * 3u);
  EXPECT_EQ(
      canonical_name(*cuda_kernel_spec(fp8_layer(QuantType::fp8_e5m2), kBig, CudaArch::sm_89)),
      "qk_fp8_sm_89_fp16_st_e5m2_bias_none_fp16_128x128x64_w2x2_s3");
  LayerConfig e5m2_weights = fp8_layer(QuantType::fp8_e4m3);
  e5m2_weights.weight_quant = QuantType::fp8_e5m2;
  auto refused = cuda_kernel_spec(e5m2_weights, kBig, CudaArch::sm_89);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("weight_quant fp8_e5m2"), std::string::npos)
      << refused.error().str();
}

// sm_90a emulates the fp8 mma with fp16 ones: more registers a thread, so fewer CTAs.
TEST(CudaTile, EmulatedFp8LeavesRoomForItsRegisters) {
  const CudaOperands fp8{QuantType::fp8_e4m3, QuantType::fp8_e4m3,
                         ActivationScaling::static_per_tensor};
  const CudaTile mid{64, 64, 64, 2, 2, 3};
  EXPECT_EQ(intended_blocks_per_sm(mid, kW8A8, CudaArch::sm_90a), 4);
  EXPECT_EQ(intended_blocks_per_sm(mid, fp8, CudaArch::sm_90a), 2);
  EXPECT_EQ(intended_blocks_per_sm(mid, fp8, CudaArch::sm_89), 2);  // shared memory, as w8a8
}

TEST(CudaKernelSpec, W4A8SumsGroupsOfInt8ProductsAndTakesOnlyPerGroupWeights) {
  auto spec = cuda_kernel_spec(w4a8_layer(64, true), kBig, CudaArch::sm_86);
  ASSERT_TRUE(spec) << spec.error().str();
  EXPECT_EQ(canonical_name(*spec), "qk_w4a8_sm_86_fp16_st_g64z_bias_none_fp16_128x128x64_w2x2_s3");
  EXPECT_EQ(operands(*spec), (CudaOperands{QuantType::int8, QuantType::int4,
                                           ActivationScaling::static_per_tensor, 64, true}));
  LayerConfig channel = w4a8_layer(64, false);
  channel.weight_granularity = WeightGranularity::per_channel;
  channel.block_size = 0;
  auto refused = cuda_kernel_spec(channel, kBig, CudaArch::sm_86);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("per_group for w4a8"), std::string::npos)
      << refused.error().str();
  // Two sets of accumulators: the 128x128 tile of 4 warps is held to one CTA even on sm_90a.
  EXPECT_EQ(intended_blocks_per_sm(kBig, operands(*spec), CudaArch::sm_90a), 1);
}

// int4's own tile rules: warp tiles of whole n32 quads; k-tiles and groups that nest.
TEST(CudaTile, Int4TilesNestWithTheGroups) {
  const CudaOperands g128{QuantType::fp16, QuantType::int4, ActivationScaling::none, 128, false};
  const CudaOperands g32z{QuantType::fp16, QuantType::int4, ActivationScaling::none, 32, true};
  EXPECT_TRUE(validate({64, 64, 64, 2, 2, 3}, g128, CudaArch::sm_86));
  auto narrow = validate({64, 32, 64, 2, 2, 3}, g128, CudaArch::sm_86);  // 16 columns a warp
  ASSERT_FALSE(narrow);
  EXPECT_NE(narrow.error().where.find(".block_n"), std::string::npos) << narrow.error().str();
  auto straddles = validate({64, 64, 96, 2, 2, 3}, g128, CudaArch::sm_86);  // 96 vs 128
  ASSERT_FALSE(straddles);
  EXPECT_NE(straddles.error().where.find(".block_k"), std::string::npos) << straddles.error().str();
  // Per stage: A 128 x 144, W 128 x (32 + 16), and 2 groups x 128 columns x (scale, zero).
  EXPECT_EQ(gemm_smem_bytes(kBig, g32z), 3 * (128 * 144 + 128 * 48 + 2 * 128 * 8));
  EXPECT_EQ(gemm_smem_bytes(kBig, g128), 3 * (128 * 144 + 128 * 48 + 128 * 4));
}

// Every family's shipped tiles, with every scaling it takes, on every arch.
TEST(CudaTile, ShippedTilesAreValidOnEveryArch) {
  const std::vector<CudaOperands> operand_sets{
      kW8A8,
      {QuantType::int8, QuantType::int8, ActivationScaling::dynamic_per_token},
      {QuantType::fp16, QuantType::fp16, ActivationScaling::none},
      {QuantType::bf16, QuantType::bf16, ActivationScaling::none},
      {QuantType::fp16, QuantType::int4, ActivationScaling::none, 32, true},
      {QuantType::bf16, QuantType::int4, ActivationScaling::none, 64, false},
      {QuantType::fp16, QuantType::int4, ActivationScaling::none, 128, true},
      {QuantType::fp16, QuantType::int4, ActivationScaling::none, 256, false},
      {QuantType::fp8_e4m3, QuantType::fp8_e4m3, ActivationScaling::dynamic_per_token},
      {QuantType::fp8_e5m2, QuantType::fp8_e4m3, ActivationScaling::static_per_tensor},
      {QuantType::int8, QuantType::int4, ActivationScaling::dynamic_per_token, 32, true},
      {QuantType::int8, QuantType::int4, ActivationScaling::static_per_tensor, 256, false}};
  const GemmFamily families[] = {GemmFamily::w8a8,  GemmFamily::w8a8,  GemmFamily::fp16,
                                 GemmFamily::bf16,  GemmFamily::w4a16, GemmFamily::w4a16,
                                 GemmFamily::w4a16, GemmFamily::w4a16, GemmFamily::fp8,
                                 GemmFamily::fp8,   GemmFamily::w4a8,  GemmFamily::w4a8};
  ASSERT_EQ(std::size(families), operand_sets.size());
  for (std::size_t i = 0; i < operand_sets.size(); ++i) {
    ASSERT_EQ(cuda_tiles(families[i]).size(), 3u) << to_string(families[i]);
    for (CudaArch arch : kCudaArchs)
      for (const CudaTile& tile : cuda_tiles(families[i])) {
        auto ok = validate(tile, operand_sets[i], arch);
        EXPECT_TRUE(ok) << ok.error().str();
        EXPECT_GE(intended_blocks_per_sm(tile, operand_sets[i], arch), 1);
      }
  }
  EXPECT_TRUE(cuda_tiles(GemmFamily::w8a16).empty());
}

// 16-bit W rows are twice as wide: the w8a8 prefill tile's 3 stages no longer fit sm_86.
TEST(CudaTile, SixteenBitWeightsDoubleTheirStage) {
  const CudaOperands fp16{QuantType::fp16, QuantType::fp16, ActivationScaling::none};
  EXPECT_EQ(gemm_smem_bytes(kBig, fp16), 3 * (128 * 144 + 128 * 144));
  EXPECT_FALSE(validate(kBig, fp16, CudaArch::sm_86));
  EXPECT_TRUE(validate(kBig, fp16, CudaArch::sm_80));
  EXPECT_EQ(gemm_smem_bytes(cuda_tiles(GemmFamily::fp16).front(), fp16), 4 * (128 * 80 * 2));
}

// Each rule, broken once; the error names the field.
TEST(CudaTile, ValidationNamesTheBrokenRule) {
  struct Case {
    CudaTile tile;
    std::string field;
  };
  const std::vector<Case> cases{
      {{128, 128, 64, 0, 2, 3}, ".warps_m"},
      {{128, 128, 64, 8, 8, 3}, ".warps_m"},  // 2048 threads
      {{120, 128, 64, 2, 2, 3}, ".block_m"},  // not whole m16 tiles per warp
      {{128, 136, 64, 2, 2, 3}, ".block_n"},  // not whole n16 pairs per warp
      {{128, 128, 48, 2, 2, 3}, ".block_k"},  // not a multiple of 32
      {{128, 128, 64, 2, 2, 1}, ".stages"},   // no overlap
      {{32, 32, 32, 2, 2, 2}, ".block_k"},    // 128 A copies over 128 threads, 64 W copies: uneven
      {{128, 128, 64, 2, 2, 4}, ".stages"},   // 124 KB > 99 KB on sm_86
      {{128, 128, 64, 2, 2, 3, 0}, ".split_k"},    // 1 means no split
      {{128, 128, 64, 2, 2, 3, 17}, ".split_k"},   // more slices than kMaxSplitK
      {{128, 128, 64, 2, 2, 3, 1, 0}, ".raster"},  // 1 means row-major
      {{128, 128, 64, 2, 2, 3, 1, 17}, ".raster"},
  };
  for (const Case& c : cases) {
    auto ok = validate(c.tile, kW8A8, CudaArch::sm_86);
    ASSERT_FALSE(ok) << canonical_name(c.tile);
    EXPECT_NE(ok.error().where.find(c.field), std::string::npos) << ok.error().str();
  }
}

// The limits differ per arch: a 4-stage 128x128x64 tile fits sm_80 and sm_90a, not sm_86/89.
TEST(CudaTile, SharedMemoryLimitIsPerArch) {
  const CudaTile deep{128, 128, 64, 2, 2, 4};
  EXPECT_EQ(gemm_smem_bytes(deep, kW8A8), 4 * (128 * 144 + 128 * 80) + 128 * 80);
  EXPECT_TRUE(validate(deep, kW8A8, CudaArch::sm_80));
  EXPECT_TRUE(validate(deep, kW8A8, CudaArch::sm_90a));
  EXPECT_FALSE(validate(deep, kW8A8, CudaArch::sm_86));
  EXPECT_FALSE(validate(deep, kW8A8, CudaArch::sm_89));
  EXPECT_EQ(limits(CudaArch::sm_80).smem_per_block, 163 * 1024);
  EXPECT_EQ(limits(CudaArch::sm_90a).smem_per_block, 227 * 1024);
}

// Occupancy follows shared memory: one 94 KB CTA per sm_86 SM, three 47 KB CTAs per sm_80 SM.
TEST(CudaTile, IntendedOccupancyComesFromSharedMemory) {
  EXPECT_EQ(intended_blocks_per_sm(kBig, kW8A8, CudaArch::sm_86), 1);
  const CudaTile mid{64, 64, 64, 2, 2, 3};
  EXPECT_EQ(intended_blocks_per_sm(mid, kW8A8, CudaArch::sm_86), 2);
  EXPECT_EQ(intended_blocks_per_sm(mid, kW8A8, CudaArch::sm_80), 3);
}

// The activation function and the output type reach the name and the config, for each family.
TEST(CudaKernelSpec, EpilogueFieldsReachTheNameAndTheConfig) {
  for (LayerConfig l : {w8a8_layer(), float_layer(QuantType::bf16), w4a16_layer(64, true),
                        w4a8_layer(128, false), fp8_layer(QuantType::fp8_e5m2)}) {
    l.epilogue.activation = Activation::gelu_tanh;
    l.epilogue.output = QuantType::int8;
    auto spec = cuda_kernel_spec(l, cuda_tiles(*family_of(l.weight_quant, l.activation_quant))[0],
                                 CudaArch::sm_89);
    ASSERT_TRUE(spec) << spec.error().str();
    EXPECT_EQ(spec->activation, Activation::gelu_tanh);
    EXPECT_EQ(spec->output, QuantType::int8);
    const RenderedCudaKernel k = render_cuda(*spec);
    EXPECT_NE(k.name.find("_gelu_tanh_int8_"), std::string::npos) << k.name;
    for (const char* needle :
         {"ACTIVATION = qk::cuda::Act::gelu_tanh", "OUTPUT = qk::cuda::OutputType::int8"})
      EXPECT_NE(k.source.find(needle), std::string::npos) << needle << "\n" << k.source;
  }
}

TEST(RenderCuda, SourceHoldsTheConfigAndTheNameExpressionNamesIt) {
  LayerConfig l = w8a8_layer();
  l.input_dtype = QuantType::bf16;
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  auto spec = cuda_kernel_spec(l, kBig, CudaArch::sm_89);
  ASSERT_TRUE(spec) << spec.error().str();
  const RenderedCudaKernel k = render_cuda(*spec);
  EXPECT_EQ(k.name, canonical_name(*spec));
  EXPECT_EQ(k.name_expression, "qk::cuda::gemm<qk_gen::" + k.name + "_config>");
  EXPECT_EQ(k.threads, 128);
  EXPECT_EQ(k.smem_bytes, gemm_smem_bytes(kBig, {QuantType::int8, QuantType::int8,
                                                 ActivationScaling::dynamic_per_token}));
  EXPECT_EQ(k.min_blocks, 1);
  for (const char* needle :
       {"#include \"cuda/gemm.cuh\"", "Code::int8", "InputType::bf16", "Scaling::dynamic_per_token",
        "BIAS = true", "Act::none", "OutputType::fp16", "BLOCK_M = 128", "BLOCK_K = 64",
        "WARPS_N = 2", "STAGES = 3", "SPLIT_K = 1", "RASTER = 1", "MIN_BLOCKS = 1"})
    EXPECT_NE(k.source.find(needle), std::string::npos) << needle << "\n" << k.source;
}

// split_k and raster reach the name only when they are not 1 (every older tile keeps its name),
// and the config always.
TEST(CudaTile, SplitKAndRasterAreNamedOnlyWhenUsed) {
  EXPECT_EQ(canonical_name(kBig), "128x128x64_w2x2_s3");
  CudaTile t = kBig;
  t.split_k = 4;
  EXPECT_EQ(canonical_name(t), "128x128x64_w2x2_s3_k4");
  t.raster = 8;
  EXPECT_EQ(canonical_name(t), "128x128x64_w2x2_s3_k4_r8");
  t.split_k = 1;
  EXPECT_EQ(canonical_name(t), "128x128x64_w2x2_s3_r8");
  auto spec = cuda_kernel_spec(w8a8_layer(), t, CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  EXPECT_EQ(canonical_name(*spec), "qk_w8a8_sm_80_fp16_st_bias_none_fp16_128x128x64_w2x2_s3_r8");
  t.split_k = 16;
  t.raster = 16;
  EXPECT_TRUE(validate(t, kW8A8, CudaArch::sm_80));
  const RenderedCudaKernel k = render_cuda(*cuda_kernel_spec(w8a8_layer(), t, CudaArch::sm_80));
  for (const char* needle : {"SPLIT_K = 16", "RASTER = 16"})
    EXPECT_NE(k.source.find(needle), std::string::npos) << needle << "\n" << k.source;
  // The error says the value and the rule.
  t.split_k = 17;
  auto bad = validate(t, kW8A8, CudaArch::sm_80);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("split_k 17 must be in [1, 16]"), std::string::npos)
      << bad.error().str();
}

// Decode has one tile row, so it splits K to reach every SM; prefill rasterizes its many tiles.
TEST(CudaDefaultTiles, DecodeSplitsKAndPrefillRasterizes) {
  for (GemmFamily f : {GemmFamily::w8a8, GemmFamily::fp16, GemmFamily::bf16, GemmFamily::w4a16,
                       GemmFamily::w4a8, GemmFamily::fp8}) {
    const auto buckets = default_cuda_tiles(f, ActivationScaling::static_per_tensor);
    ASSERT_EQ(buckets.size(), 3u);
    EXPECT_EQ(buckets[0].tile.split_k, kDecodeSplitK) << to_string(f);
    EXPECT_EQ(buckets[0].tile.raster, 1) << to_string(f);
    EXPECT_EQ(buckets[1].tile.split_k, 1) << to_string(f);
    EXPECT_EQ(buckets[2].tile.split_k, 1) << to_string(f);
    EXPECT_EQ(buckets[2].tile.raster, f == GemmFamily::fp8 ? 1 : kPrefillRaster) << to_string(f);
  }
}

}  // namespace
}  // namespace qk::codegen

namespace qk::codegen {
namespace {

TEST(CudaDefaultTiles, CoverEveryMWithShippedTilesValidOnEveryArch) {
  for (ActivationScaling s :
       {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_token}) {
    const auto buckets = default_cuda_tiles(GemmFamily::w8a8, s);
    ASSERT_FALSE(buckets.empty());
    EXPECT_EQ(buckets.back().max_m, std::numeric_limits<std::int64_t>::max());
    const auto shipped = cuda_tiles(GemmFamily::w8a8);
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      if (i > 0) {
        EXPECT_LT(buckets[i - 1].max_m, buckets[i].max_m);
      }
      CudaTile in_cta = buckets[i].tile;
      in_cta.a_quant = CudaAQuant::in_cta;
      EXPECT_NE(std::find(shipped.begin(), shipped.end(), in_cta), shipped.end())
          << canonical_name(buckets[i].tile);
      // The producer where the pre-pass would re-read A most: per-token scales past decode.
      const bool producer = s == ActivationScaling::dynamic_per_token && buckets[i].max_m > 16;
      EXPECT_EQ(buckets[i].tile.a_quant == CudaAQuant::producer, producer)
          << canonical_name(buckets[i].tile);
      for (CudaArch arch : kCudaArchs)
        EXPECT_TRUE(validate(buckets[i].tile, {QuantType::int8, QuantType::int8, s}, arch))
            << canonical_name(buckets[i].tile);
    }
    // Decode (M <= 16) wastes no m16 rows: its tile is one mma row high.
    EXPECT_EQ(buckets.front().max_m, 16);
    EXPECT_EQ(buckets.front().tile.block_m, 16);
  }
  // Families without a quantized A never take the producer.
  for (const auto& b : default_cuda_tiles(GemmFamily::w4a16, ActivationScaling::dynamic_per_token))
    EXPECT_EQ(b.tile.a_quant, CudaAQuant::in_cta);
}

}  // namespace
}  // namespace qk::codegen

namespace qk::codegen {
namespace {

// The quantize producer: a tile choice (a_quant) the name records only when taken, allowed only
// where A is 8-bit with dynamic per-token scales, and rendered as a second kernel of the source.
TEST(CudaProducer, NameSuffixOnlyForTheProducer) {
  const CudaTile tile = cuda_tiles(GemmFamily::w8a8)[1];
  EXPECT_EQ(canonical_name(tile), "64x64x64_w2x2_s3");  // every existing name unchanged
  EXPECT_EQ(canonical_name(with_producer(tile)), "64x64x64_w2x2_s3_qp");
  const CudaTile prefill = cuda_tiles(GemmFamily::w8a8)[0];  // the suffixes in a fixed order
  EXPECT_EQ(canonical_name(with_producer(prefill)), "128x128x64_w2x2_s3_r8_qp");
  EXPECT_NE(with_producer(tile), tile);
}

TEST(CudaProducer, ValidationRejectsItWithoutPerTokenQuantizedA) {
  const CudaTile tile = with_producer(cuda_tiles(GemmFamily::w8a8)[1]);
  for (ActivationScaling s : {ActivationScaling::static_per_tensor, ActivationScaling::none}) {
    auto bad = validate(tile, {QuantType::int8, QuantType::int8, s}, CudaArch::sm_80);
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::invalid_argument);
    EXPECT_NE(bad.error().where.find("a_quant"), std::string::npos) << bad.error().str();
    EXPECT_NE(bad.error().message.find("producer"), std::string::npos) << bad.error().str();
    EXPECT_NE(bad.error().message.find("dynamic_per_token"), std::string::npos);
  }
  auto sixteen_bit =
      validate(with_producer(cuda_tiles(GemmFamily::w4a16)[1]),
               {QuantType::fp16, QuantType::int4, ActivationScaling::none, 128}, CudaArch::sm_80);
  ASSERT_FALSE(sixteen_bit);
  EXPECT_NE(sixteen_bit.error().where.find("a_quant"), std::string::npos);
  // Through the spec: a static-scaled layer refuses the producer, a per-token one takes it.
  LayerConfig l = w8a8_layer();
  EXPECT_FALSE(cuda_kernel_spec(l, tile, CudaArch::sm_80));
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  auto spec = cuda_kernel_spec(l, tile, CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  EXPECT_TRUE(canonical_name(*spec).ends_with("_64x64x64_w2x2_s3_qp")) << canonical_name(*spec);
  for (LayerConfig other : {w4a8_layer(128, true), fp8_layer(QuantType::fp8_e5m2)}) {
    other.activation_scaling = ActivationScaling::dynamic_per_token;
    EXPECT_TRUE(
        cuda_kernel_spec(other, with_producer(cuda_tiles(GemmFamily::w4a8)[1]), CudaArch::sm_89));
  }
}

TEST(CudaProducer, SharedMemoryLosesTheSixteenBitStagesTheA8TileAndTheScales) {
  const CudaOperands tok{QuantType::int8, QuantType::int8, ActivationScaling::dynamic_per_token};
  for (const CudaTile& t : cuda_tiles(GemmFamily::w8a8)) {
    // A stage rows of BLOCK_K codes instead of 2 BLOCK_K halves; no 8-bit tile; no [2, BLOCK_M]
    // scales.
    const int a16 = t.block_m * (2 * t.block_k + ((2 * t.block_k / 16) % 2 == 0 ? 16 : 0));
    const int a8 = t.block_m * (t.block_k + ((t.block_k / 16) % 2 == 0 ? 16 : 0));
    EXPECT_EQ(gemm_smem_bytes(t, tok) - gemm_smem_bytes(with_producer(t), tok),
              t.stages * (a16 - a8) + a8 + 8 * t.block_m)
        << canonical_name(t);
  }
  EXPECT_EQ(gemm_smem_bytes(with_producer(cuda_tiles(GemmFamily::w8a8)[0]), tok), 3 * 2 * 128 * 80);
}

TEST(CudaProducer, RenderedSourceInstantiatesBothKernels) {
  LayerConfig l = w8a8_layer();
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  auto spec = cuda_kernel_spec(l, with_producer(cuda_tiles(GemmFamily::w8a8)[2]), CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  const RenderedCudaKernel k = render_cuda(*spec);
  ASSERT_TRUE(k.has_producer());
  EXPECT_EQ(k.producer.name_expression,
            fmt::format("qk::cuda::quantize_rows<qk_gen::{}_config>", k.name));
  EXPECT_EQ(k.producer.threads, kQuantizeRowsThreads);
  EXPECT_NE(k.source.find("A_QUANT = qk::cuda::AQuant::producer;"), std::string::npos);
  EXPECT_NE(k.source.find("#include \"cuda/quantize_rows.cuh\""), std::string::npos);
  EXPECT_NE(k.source.find("QuantizeRows<"), std::string::npos) << "the launch's static_assert";
  const RenderedEmuKernel emu = render_cuda_emu(k);
  EXPECT_NE(emu.source.find(fmt::format("void {}(const void* args)", kEmuEntrySymbol)),
            std::string::npos);
  EXPECT_NE(emu.source.find(fmt::format("void {}(const void* args)", kEmuProducerEntrySymbol)),
            std::string::npos);
  // The in-CTA kernel of the same layer has neither.
  const RenderedCudaKernel in_cta =
      render_cuda(*cuda_kernel_spec(l, cuda_tiles(GemmFamily::w8a8)[2], CudaArch::sm_80));
  EXPECT_FALSE(in_cta.has_producer());
  EXPECT_NE(in_cta.source.find("A_QUANT = qk::cuda::AQuant::in_cta;"), std::string::npos);
  EXPECT_EQ(render_cuda_emu(in_cta).source.find(kEmuProducerEntrySymbol), std::string::npos);
}

}  // namespace
}  // namespace qk::codegen
