// Kernel specs, canonical names and rendering for the cpu target.
#include "codegen/cpu_kernel_spec.hpp"

#include <set>

#include <gtest/gtest.h>

#include "codegen/render_cpu.hpp"

namespace qk::codegen {
namespace {

LayerConfig w8a8_layer() {
  LayerConfig l;
  l.name = "fc";
  l.n = 64;
  l.k = 128;
  return l;
}

TEST(CpuKernelSpec, NameHasEveryFieldAndIsAnIdentifier) {
  LayerConfig l = w8a8_layer();
  l.input_dtype = QuantType::bf16;
  l.epilogue = {true, Activation::gelu, QuantType::fp16};
  auto spec = cpu_kernel_spec(l, CpuTile{6, 4, 256, 48, 512});
  ASSERT_TRUE(spec) << spec.error().str();
  EXPECT_EQ(canonical_name(*spec), "qk_w8a8_cpu_bf16_tok_bias_gelu_fp16_mr6_nv4_kc256_mc48_nc512");
}

// Each field that changes generated code changes the name (and so the symbol and the cache key);
// the layer's name and shape do not.
TEST(CpuKernelSpec, DistinctSpecsHaveDistinctNames) {
  const CpuTile tile{8, 3, 512, 96, 768};
  std::vector<LayerConfig> layers(9, w8a8_layer());
  layers[1].input_dtype = QuantType::fp32;  // the default is fp16
  layers[2].activation_scaling = ActivationScaling::static_per_tensor;
  layers[3].activation_scaling = ActivationScaling::dynamic_per_tensor;
  layers[4].epilogue.bias = true;
  layers[5].epilogue.activation = Activation::silu;
  layers[6].epilogue.output = QuantType::int8;
  layers[7].epilogue.output = QuantType::bf16;
  layers[8].epilogue.activation = Activation::gelu_tanh;
  std::set<std::string> names, hashes;
  for (const LayerConfig& l : layers) {
    auto spec = cpu_kernel_spec(l, tile);
    ASSERT_TRUE(spec) << spec.error().str();
    names.insert(canonical_name(*spec));
    hashes.insert(spec_hash(*spec));
  }
  EXPECT_EQ(names.size(), layers.size());
  EXPECT_EQ(hashes.size(), layers.size());

  LayerConfig renamed = w8a8_layer();
  renamed.name = "another layer";
  renamed.n = 4096;
  renamed.k = 11008;
  EXPECT_EQ(canonical_name(*cpu_kernel_spec(renamed, tile)),
            canonical_name(*cpu_kernel_spec(w8a8_layer(), tile)));
  auto other_tile = cpu_kernel_spec(w8a8_layer(), CpuTile{4, 4, 256, 48, 512});
  EXPECT_NE(canonical_name(*other_tile), canonical_name(*cpu_kernel_spec(w8a8_layer(), tile)));
}

TEST(CpuKernelSpec, UnimplementedFamilyIsAClearError) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = l.activation_quant = QuantType::fp8_e4m3;  // fp8 x fp8
  auto spec = cpu_kernel_spec(l, CpuTile{});
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().code, Errc::unsupported);
  EXPECT_NE(spec.error().message.find("family fp8"), std::string::npos) << spec.error().message;
  for (const char* family : {"w8a8", "w4a8", "w8a16", "w4a16", "wfp8a16", "fp16", "bf16", "fp32"})
    EXPECT_NE(spec.error().message.find(family), std::string::npos) << spec.error().message;
}

// The ISA is part of the spec: avx2 kernels have their own names and hashes, render their Isa,
// and their register tiles must fit 16 ymm (the error names the parameter, value and rule).
TEST(CpuKernelSpec, Avx2IsInTheNameTheSourceAndTheRules) {
  LayerConfig l = w8a8_layer();
  l.input_dtype = QuantType::bf16;
  const CpuTile tile{4, 1, 16384, 96, 960};
  auto avx2 = cpu_kernel_spec(l, tile, CpuIsa::avx2);
  ASSERT_TRUE(avx2) << avx2.error().str();
  EXPECT_EQ(avx2->isa, CpuIsa::avx2);
  EXPECT_EQ(canonical_name(*avx2),
            "qk_w8a8_cpu_avx2_bf16_tok_nobias_none_fp16_mr4_nv1_kc16384_mc96_nc960");
  auto avx512 = cpu_kernel_spec(l, tile);
  ASSERT_TRUE(avx512);
  EXPECT_EQ(canonical_name(*avx512),
            "qk_w8a8_cpu_bf16_tok_nobias_none_fp16_mr4_nv1_kc16384_mc96_nc960");
  EXPECT_NE(spec_hash(*avx2), spec_hash(*avx512));
  EXPECT_NE(render_cpu(*avx2).source.find(".isa = qk::cpu::Isa::avx2,"), std::string::npos);
  EXPECT_EQ(render_cpu(*avx512).source.find(".isa"), std::string::npos);

  // 5 x 5 fits 32 zmm, not 16 ymm.
  auto too_big = cpu_kernel_spec(l, CpuTile{5, 5, 16384, 100, 960}, CpuIsa::avx2);
  ASSERT_FALSE(too_big);
  EXPECT_EQ(too_big.error().code, Errc::invalid_argument);
  EXPECT_NE(too_big.error().str().find("avx2"), std::string::npos) << too_big.error().str();

  LayerConfig w4a8 = w8a8_layer();
  w4a8.weight_quant = QuantType::int4;
  w4a8.weight_granularity = WeightGranularity::per_group;
  w4a8.block_size = 32;
  auto w4a8_spec = cpu_kernel_spec(w4a8, CpuTile{2, 1, 0, 96, 768}, CpuIsa::avx2);
  ASSERT_TRUE(w4a8_spec) << w4a8_spec.error().str();
  EXPECT_EQ(canonical_name(*w4a8_spec).find("qk_w4a8_cpu_avx2_"), 0u);
  EXPECT_NE(render_cpu(*w4a8_spec).source.find(".isa = qk::cpu::Isa::avx2,"), std::string::npos);
  EXPECT_TRUE(cpu_kernel_spec(w4a8, CpuTile{1, 4, 0, 96, 768}, CpuIsa::avx2));   // 16 ymm
  EXPECT_FALSE(cpu_kernel_spec(w4a8, CpuTile{2, 2, 0, 96, 768}, CpuIsa::avx2));  // 17 ymm

  // The weight-only families run on avx2 too, their tiles within 16 ymm: 2 mr nv accumulators,
  // two ymm per weight vector (packed, dequantized) and two more.
  LayerConfig w4a16 = w4a8;
  w4a16.activation_quant = w4a16.input_dtype = QuantType::bf16;
  w4a16.activation_scaling = ActivationScaling::none;
  auto w4a16_spec = cpu_kernel_spec(w4a16, CpuTile{1, 2, 0, 96, 960}, CpuIsa::avx2);
  ASSERT_TRUE(w4a16_spec) << w4a16_spec.error().str();
  EXPECT_EQ(canonical_name(*w4a16_spec),
            "qk_w4a16_cpu_avx2_bf16_none_nobias_none_fp16_mr1_nv2_kc0_mc96_nc960");
  EXPECT_NE(render_cpu(*w4a16_spec).source.find(".isa = qk::cpu::Isa::avx2,"), std::string::npos);
  LayerConfig e5m2 = w4a16;
  e5m2.weight_quant = QuantType::fp8_e5m2;
  e5m2.weight_granularity = WeightGranularity::per_channel;
  e5m2.block_size = 0;
  auto e5m2_spec = cpu_kernel_spec(e5m2, CpuTile{5, 1, 0, 95, 768}, CpuIsa::avx2);
  ASSERT_TRUE(e5m2_spec) << e5m2_spec.error().str();
  const std::string source = render_cpu(*e5m2_spec).source;
  // The config's isa precedes its weight, as the struct's members (designated initializers).
  EXPECT_LT(source.find(".isa = qk::cpu::Isa::avx2,"),
            source.find(".weight = qk::cpu::WeightType::fp8_e5m2,"))
      << source;
  auto too_wide = cpu_kernel_spec(w4a16, CpuTile{2, 2, 0, 96, 768}, CpuIsa::avx2);  // 18 ymm
  ASSERT_FALSE(too_wide);
  EXPECT_EQ(too_wide.error().code, Errc::invalid_argument);
  for (const char* part : {"mr", "2 x nv 2", "18", "w4a16", "avx2", "16"})
    EXPECT_NE(too_wide.error().str().find(part), std::string::npos)
        << part << ": " << too_wide.error().str();
  EXPECT_TRUE(cpu_kernel_spec(w4a16, CpuTile{2, 2, 0, 96, 768}));  // 15 of the 32 zmm
}

// The amx level's kernels are avx512 code: an AMX tile is named by its tile ("_amx") and
// rendered as W8A8Config::amx; VNNI tiles on amx are the avx512 kernels, name and all.
TEST(CpuKernelSpec, AmxTileIsInTheNameAndTheSource) {
  LayerConfig l = w8a8_layer();
  const CpuTile amx_tile{32, 2, 16384, 128, 512, true};
  auto amx = cpu_kernel_spec(l, amx_tile, CpuIsa::amx);
  ASSERT_TRUE(amx) << amx.error().str();
  EXPECT_EQ(amx->isa, CpuIsa::avx512);
  EXPECT_EQ(canonical_name(*amx),
            "qk_w8a8_cpu_fp16_tok_nobias_none_fp16_mr32_nv2_kc16384_mc128_nc512_amx");
  const std::string source = render_cpu(*amx).source;
  EXPECT_NE(source.find(".amx = true,"), std::string::npos) << source;
  EXPECT_LT(source.find(".output"), source.find(".amx")) << "designated initializers in order";
  EXPECT_LT(source.find(".amx"), source.find(".mr")) << "designated initializers in order";

  const CpuTile vnni_tile{5, 5, 16384, 100, 960};
  auto vnni = cpu_kernel_spec(l, vnni_tile, CpuIsa::amx);
  ASSERT_TRUE(vnni) << vnni.error().str();
  EXPECT_EQ(*vnni, *cpu_kernel_spec(l, vnni_tile));
  EXPECT_EQ(render_cpu(*vnni).source.find(".amx"), std::string::npos);

  auto not_amx_level = cpu_kernel_spec(l, amx_tile);
  ASSERT_FALSE(not_amx_level);
  EXPECT_NE(not_amx_level.error().str().find("amx level"), std::string::npos)
      << not_amx_level.error().str();
  LayerConfig w4a8 = w8a8_layer();
  w4a8.weight_quant = QuantType::int4;
  w4a8.weight_granularity = WeightGranularity::per_group;
  w4a8.block_size = 32;
  auto w4a8_amx = cpu_kernel_spec(w4a8, CpuTile{32, 2, 0, 128, 512, true}, CpuIsa::amx);
  ASSERT_FALSE(w4a8_amx);
  EXPECT_NE(w4a8_amx.error().str().find("w8a8 only"), std::string::npos) << w4a8_amx.error().str();
}

TEST(CpuKernelSpec, InvalidLayerIsRejected) {
  LayerConfig l = w8a8_layer();
  l.k = 0;
  auto spec = cpu_kernel_spec(l, CpuTile{});
  ASSERT_FALSE(spec);
  EXPECT_EQ(spec.error().where, "layer.k");
}

// The weight-only kernel decodes in registers only where a cache block's rows fit one register
// tile (templates/cpu/weight_only.hpp, column()); taller blocks dequantize into memory first,
// which at M = 2..4 cost 2.5-4x the time of M = 1 on AVX2. So each default bucket up to M = 4
// has a tile of at least that many rows.
TEST(CpuTile, WeightOnlyDefaultsDecodeSmallBatchesInRegisters) {
  for (CpuIsa isa : {CpuIsa::avx512, CpuIsa::avx2})
    for (GemmFamily f : {GemmFamily::w8a16, GemmFamily::w4a16, GemmFamily::wfp8a16,
                         GemmFamily::fp16, GemmFamily::bf16, GemmFamily::fp32}) {
      SCOPED_TRACE(std::string(to_string(f)) + " on " + std::string(to_string(isa)));
      std::int64_t previous_max = 0;
      for (const CpuTileBucket& bucket : default_cpu_tiles(f, isa)) {
        EXPECT_TRUE(validate(bucket.tile, f, isa));
        if (previous_max < 4)  // the bucket holds some M <= 4: all of them in one tile
          EXPECT_GE(bucket.tile.mr, std::min<std::int64_t>(bucket.max_m, 4))
              << "bucket up to M = " << bucket.max_m;
        previous_max = bucket.max_m;
      }
    }
}

// AVX2's int8 product costs four vector operations per row and 8 x 4 weights, so a tile that
// repeats rows of a short call does real work for nothing: at M = 2 a 4-row tile was 2x slower
// than a 2-row one with the weights in L3, about 1.1x from DRAM (docs/cpu.md, "Tiles").
TEST(CpuTile, Avx2W8A8DefaultsRunTwoRowsWithoutRepeats) {
  for (const CpuTileBucket& bucket : default_cpu_tiles(GemmFamily::w8a8, CpuIsa::avx2)) {
    EXPECT_TRUE(validate(bucket.tile, GemmFamily::w8a8, CpuIsa::avx2));
    if (bucket.max_m < 2) continue;
    EXPECT_EQ(bucket.tile.mr, 2) << "the bucket of M = 2 runs up to M = " << bucket.max_m;
    break;
  }
}

TEST(CpuTile, ValidationRules) {
  for (GemmFamily f : {GemmFamily::w8a8, GemmFamily::w4a8, GemmFamily::w8a16, GemmFamily::w4a16,
                       GemmFamily::wfp8a16, GemmFamily::fp16, GemmFamily::bf16, GemmFamily::fp32})
    for (const CpuTileBucket& bucket : default_cpu_tiles(f)) EXPECT_TRUE(validate(bucket.tile, f));
  EXPECT_TRUE(
      validate(CpuTile{14, 2, 256, 28, 64}, GemmFamily::w8a8));  // 28 + 2 + 1 = 31 registers
  auto too_many = validate(CpuTile{8, 4, 512, 96, 1024}, GemmFamily::w8a8);  // 32 + 4 + 1 = 37
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().message.find("37"), std::string::npos);
  EXPECT_FALSE(validate(CpuTile{6, 4, 510, 96, 1024}, GemmFamily::w8a8))
      << "kc not a multiple of 4";
  EXPECT_FALSE(validate(CpuTile{6, 4, 512, 100, 1024}, GemmFamily::w8a8))
      << "mc not a multiple of mr";
  EXPECT_FALSE(validate(CpuTile{6, 4, 512, 96, 1000}, GemmFamily::w8a8))
      << "nc not a multiple of 64";
  EXPECT_FALSE(validate(CpuTile{0, 4, 512, 96, 1024}, GemmFamily::w8a8));
  // w4a8 holds int32 and fp32 accumulators: 2 * 4 * 3 + 2 * 3 + 3 = 33 registers is too many.
  EXPECT_TRUE(validate(CpuTile{4, 2, 0, 96, 768}, GemmFamily::w4a8));
  EXPECT_FALSE(validate(CpuTile{4, 3, 0, 96, 768}, GemmFamily::w4a8));
  EXPECT_FALSE(validate(CpuTile{4, 2, 512, 96, 768}, GemmFamily::w4a8)) << "w4a8 does not block K";
  // The weight-only tile: mr * nv + 4 * nv + 3 registers (8 * 2 + 8 + 3 = 27; 4 * 4 + 16 + 3 = 35).
  for (GemmFamily f : {GemmFamily::w8a16, GemmFamily::w4a16, GemmFamily::wfp8a16, GemmFamily::fp16,
                       GemmFamily::bf16, GemmFamily::fp32}) {
    EXPECT_TRUE(validate(CpuTile{8, 2, 0, 96, 768}, f));
    auto wide = validate(CpuTile{4, 4, 0, 96, 768}, f);
    ASSERT_FALSE(wide);
    EXPECT_NE(wide.error().message.find("35"), std::string::npos) << wide.error().str();
    EXPECT_FALSE(validate(CpuTile{8, 2, 512, 96, 768}, f)) << "weight-only does not block K";
  }
}

TEST(RenderCpu, SourceInstantiatesTheSpecAndExportsTwoSymbols) {
  LayerConfig l = w8a8_layer();
  l.epilogue = {true, Activation::relu, QuantType::int8};
  auto spec = cpu_kernel_spec(l, CpuTile{6, 4, 256, 48, 512});
  ASSERT_TRUE(spec);
  const RenderedKernel k = render_cpu(*spec);
  EXPECT_EQ(k.quantize_symbol, k.name + "_quantize");
  EXPECT_EQ(k.gemm_symbol, k.name + "_gemm");
  for (const char* part : {".act = qk::cpu::Act::relu", ".output = qk::cpu::OutputType::int8",
                           ".bias = true", ".mr = 6", ".nv = 4", ".kc = 256", ".mc = 48",
                           ".nc = 512", "extern \"C\" void qk_w8a8_cpu_"}) {
    EXPECT_NE(k.source.find(part), std::string::npos) << part << "\n" << k.source;
  }
  // The layer's free-text name never reaches generated code.
  l.name = "evil\"; system(\"rm -rf /\"); //";
  EXPECT_EQ(render_cpu(*cpu_kernel_spec(l, CpuTile{6, 4, 256, 48, 512})).source, k.source);
}

TEST(RenderCpu, WeightOnlyFamiliesShareOneTemplate) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = QuantType::int4;
  l.activation_quant = l.input_dtype = QuantType::bf16;
  l.activation_scaling = ActivationScaling::none;
  l.weight_granularity = WeightGranularity::per_group;
  l.block_size = 128;
  auto spec = cpu_kernel_spec(l, CpuTile{8, 2, 0, 96, 768});
  ASSERT_TRUE(spec) << spec.error().str();
  const RenderedKernel k = render_cpu(*spec);
  for (const char* part :
       {"#include \"cpu/weight_only.hpp\"", "qk::cpu::W4A16Config kConfig",
        ".input = qk::cpu::InputType::bf16", ".scaling = qk::cpu::Scaling::none",
        "qk::cpu::W4A16Kernel<kConfig>", "extern \"C\" void qk_w4a16_cpu_bf16_none_"}) {
    EXPECT_NE(k.source.find(part), std::string::npos) << part << "\n" << k.source;
  }
  EXPECT_EQ(k.source.find(".kc ="), std::string::npos) << "K is not blocked";
  l.weight_quant = QuantType::int8;
  l.weight_symmetric = true;
  auto w8 = cpu_kernel_spec(l, CpuTile{8, 2, 0, 96, 768});
  ASSERT_TRUE(w8) << w8.error().str();
  EXPECT_NE(render_cpu(*w8).source.find("qk::cpu::W8A16Kernel<kConfig>"), std::string::npos);
}

// WFP8A16 and the float baselines render the weight-only template with the stored weight type in
// the config; the two fp8 formats are distinct kernels (the name says which).
TEST(RenderCpu, Fp8AndFloatFamiliesNameTheirWeightType) {
  LayerConfig l = w8a8_layer();
  l.weight_quant = QuantType::fp8_e5m2;
  l.activation_quant = l.input_dtype = QuantType::fp16;
  l.activation_scaling = ActivationScaling::none;
  auto e5m2 = cpu_kernel_spec(l, CpuTile{8, 2, 0, 96, 768});
  ASSERT_TRUE(e5m2) << e5m2.error().str();
  EXPECT_EQ(canonical_name(*e5m2),
            "qk_wfp8a16_fp8_e5m2_cpu_fp16_none_nobias_none_fp16_mr8_nv2_kc0_mc96_nc768");
  const RenderedKernel k = render_cpu(*e5m2);
  for (const char* part :
       {"#include \"cpu/weight_only.hpp\"", "qk::cpu::WFp8A16Config kConfig",
        ".weight = qk::cpu::WeightType::fp8_e5m2", "qk::cpu::WFp8A16Kernel<kConfig>"})
    EXPECT_NE(k.source.find(part), std::string::npos) << part << "\n" << k.source;
  l.weight_quant = QuantType::fp8_e4m3;
  auto e4m3 = cpu_kernel_spec(l, CpuTile{8, 2, 0, 96, 768});
  ASSERT_TRUE(e4m3) << e4m3.error().str();
  EXPECT_NE(canonical_name(*e4m3), canonical_name(*e5m2));
  EXPECT_NE(render_cpu(*e4m3).source.find(".weight = qk::cpu::WeightType::fp8_e4m3"),
            std::string::npos);

  for (QuantType t : {QuantType::fp16, QuantType::bf16, QuantType::fp32}) {
    l.weight_quant = l.activation_quant = l.input_dtype = t;
    auto spec = cpu_kernel_spec(l, CpuTile{1, 4, 0, 96, 768});
    ASSERT_TRUE(spec) << spec.error().str();
    const std::string type(to_string(t));
    EXPECT_EQ(canonical_name(*spec),
              "qk_" + type + "_cpu_" + type + "_none_nobias_none_fp16_mr1_nv4_kc0_mc96_nc768");
    const std::string source = render_cpu(*spec).source;
    for (const std::string& part :
         {std::string("qk::cpu::FloatConfig kConfig"), ".weight = qk::cpu::WeightType::" + type,
          ".input = qk::cpu::InputType::" + type, std::string("qk::cpu::FloatKernel<kConfig>")})
      EXPECT_NE(source.find(part), std::string::npos) << part << "\n" << source;
  }
}

}  // namespace
}  // namespace qk::codegen
