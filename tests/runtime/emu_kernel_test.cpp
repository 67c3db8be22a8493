// The CUDA kernels executed under cuda-emu through qk::jit::compile, against the reference: every
// W8A8 variant (input, scaling, bias, output) and every other family's on every shipped tile, on
// shapes that leave partial tiles everywhere (m = 1, 7, 33, 130, 300; n and k not multiples of
// any tile).
#include "qk/jit.hpp"

#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "codegen/cuda_tile.hpp"
#include "reference_check.hpp"

namespace qk {
namespace {

namespace fs = std::filesystem;

fs::path fresh_cache() {
  const fs::path dir = fs::temp_directory_path() / ("qk_emu_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "kernels.db";
}

LayerConfig w8a8_layer(QuantType input, ActivationScaling scaling, bool bias, QuantType output) {
  LayerConfig l;
  l.name = "fc";
  l.n = 200;  // 1.56 tiles of 128, 3.1 of 64
  l.k = 208;  // 3.25 k-tiles of 64, 1.6 of 128
  l.input_dtype = input;
  l.activation_scaling = scaling;
  l.epilogue = {bias, Activation::none, output};
  l.m_min = 1;
  l.m_max = 512;  // every default tile: decode (M <= 16), 64x64 (<= 256) and 128x128
  return l;
}

TEST(CudaEmu, EveryW8A8VariantMatchesTheReferenceOnEveryTile) {
  const fs::path cache = fresh_cache();
  unsigned seed = 1;
  for (QuantType input : {QuantType::fp16, QuantType::bf16})
    for (ActivationScaling scaling :
         {ActivationScaling::static_per_tensor, ActivationScaling::dynamic_per_token})
      for (bool bias : {false, true})
        for (QuantType output : {QuantType::fp16, QuantType::bf16}) {
          const LayerConfig l = w8a8_layer(input, scaling, bias, output);
          auto kernel = jit::compile(l, {.target = Target::cuda_emu, .cache = cache});
          ASSERT_TRUE(kernel) << kernel.error().str();
          EXPECT_EQ(kernel->target(), Target::cuda_emu);
          // m = 1, 7: the decode tile; 33, 130: 64x64; 300: 128x128.
          for (std::int64_t m : {1, 7, 33, 130, 300})
            test::check_against_reference(*kernel, m, seed++, /*row_padding=*/0);
        }
}

// Compiles `l` for cuda-emu and checks every bucket's tile (m = 1, 7: decode; 33, 130: mid;
// 300: prefill) against the reference.
void check_every_bucket(const LayerConfig& l, const fs::path& cache, unsigned seed) {
  auto kernel = jit::compile(l, {.target = Target::cuda_emu, .cache = cache});
  ASSERT_TRUE(kernel) << kernel.error().str();
  const std::string family(to_string(*family_of(l.weight_quant, l.activation_quant)));
  EXPECT_EQ(kernel->name().rfind("qk_" + family + "_", 0), 0u) << kernel->name();
  for (std::int64_t m : {1, 7, 33, 130, 300})
    test::check_against_reference(*kernel, m, seed++, /*row_padding=*/0);
}

LayerConfig with_weights(LayerConfig l, QuantType weights, WeightGranularity granularity, int group,
                         bool symmetric) {
  l.weight_quant = weights;
  l.weight_granularity = granularity;
  l.block_size = group;
  l.weight_symmetric = symmetric;
  return l;
}

TEST(CudaEmu, TheFloatBaselinesMatchTheReference) {
  const fs::path cache = fresh_cache();
  for (QuantType t : {QuantType::fp16, QuantType::bf16}) {
    LayerConfig l = w8a8_layer(t, ActivationScaling::none, true, t);
    l.weight_quant = l.activation_quant = t;
    check_every_bucket(l, cache, 100);
  }
}

TEST(CudaEmu, W4A16MatchesTheReferenceWithAndWithoutZeroPoints) {
  const fs::path cache = fresh_cache();
  for (auto [group, symmetric] : {std::pair{32, true}, std::pair{64, false}}) {
    LayerConfig l =
        w8a8_layer(QuantType::bf16, ActivationScaling::none, !symmetric, QuantType::fp16);
    l.activation_quant = QuantType::bf16;
    l.k = group == 32 ? 224 : 320;  // whole groups, not whole k-tiles
    check_every_bucket(
        with_weights(l, QuantType::int4, WeightGranularity::per_group, group, symmetric), cache,
        200);
  }
}

TEST(CudaEmu, W4A8MatchesTheReferenceWithAndWithoutZeroPoints) {
  const fs::path cache = fresh_cache();
  for (auto [group, symmetric] : {std::pair{32, false}, std::pair{64, true}}) {
    LayerConfig l = w8a8_layer(QuantType::fp16, ActivationScaling::dynamic_per_token, symmetric,
                               QuantType::bf16);
    l.k = group == 32 ? 224 : 320;
    check_every_bucket(
        with_weights(l, QuantType::int4, WeightGranularity::per_group, group, symmetric), cache,
        300);
  }
}

TEST(CudaEmu, Fp8MatchesTheReferenceForBothActivationFormats) {
  const fs::path cache = fresh_cache();
  for (QuantType activation : {QuantType::fp8_e4m3, QuantType::fp8_e5m2}) {
    LayerConfig l =
        w8a8_layer(QuantType::bf16,
                   activation == QuantType::fp8_e4m3 ? ActivationScaling::dynamic_per_token
                                                     : ActivationScaling::static_per_tensor,
                   true, QuantType::fp16);
    l.activation_quant = activation;
    check_every_bucket(
        with_weights(l, QuantType::fp8_e4m3, WeightGranularity::per_channel, 0, true), cache, 400);
  }
}

// The epilogue's options (templates/cuda/epilogue.cuh) on m = 1 (the decode tile), 33 and 130
// (the mid tile, partial), two buckets compiled per layer.
void check_epilogue(LayerConfig l, const fs::path& cache, unsigned seed) {
  l.m_max = 256;
  SCOPED_TRACE(fmt::format("{} {} n={}", to_string(l.epilogue.activation),
                           to_string(l.epilogue.output), l.n));
  auto kernel = jit::compile(l, {.target = Target::cuda_emu, .cache = cache});
  ASSERT_TRUE(kernel) << kernel.error().str();
  for (std::int64_t m : {1, 33, 130}) test::check_against_reference(*kernel, m, seed++, 0);
}

TEST(CudaEmu, EveryActivationFunctionMatchesTheReference) {
  const fs::path cache = fresh_cache();
  unsigned seed = 500;
  for (Activation act :
       {Activation::relu, Activation::gelu, Activation::gelu_tanh, Activation::silu}) {
    LayerConfig w8a8 =
        w8a8_layer(QuantType::fp16, ActivationScaling::dynamic_per_token, true, QuantType::bf16);
    w8a8.epilogue.activation = act;
    check_epilogue(w8a8, cache, seed += 10);
    LayerConfig w4a16 =
        w8a8_layer(QuantType::bf16, ActivationScaling::none, false, QuantType::fp16);
    w4a16.activation_quant = QuantType::bf16;
    w4a16.n = 199;  // odd: the last column pair is half outside
    w4a16.k = 224;
    w4a16.epilogue.activation = act;
    check_epilogue(with_weights(w4a16, QuantType::int4, WeightGranularity::per_group, 32, false),
                   cache, seed += 10);
  }
}

// int8 Y (numerics §7.3) is stored a byte pair at a time; with N odd every row's pairs alternate
// between aligned and not, and the last one is half outside.
TEST(CudaEmu, Int8OutputIsRequantizedLikeTheReference) {
  const fs::path cache = fresh_cache();
  LayerConfig w8a8 =
      w8a8_layer(QuantType::fp16, ActivationScaling::static_per_tensor, true, QuantType::int8);
  w8a8.n = 201;
  check_epilogue(w8a8, cache, 600);
  w8a8.n = 200;
  w8a8.epilogue.activation = Activation::gelu;
  check_epilogue(w8a8, cache, 610);
  LayerConfig w4a8 =
      w8a8_layer(QuantType::bf16, ActivationScaling::dynamic_per_token, false, QuantType::int8);
  w4a8.n = 203;
  w4a8.k = 320;
  check_epilogue(with_weights(w4a8, QuantType::int4, WeightGranularity::per_group, 64, true), cache,
                 620);
  LayerConfig fp16 = w8a8_layer(QuantType::fp16, ActivationScaling::none, true, QuantType::int8);
  fp16.weight_quant = fp16.activation_quant = QuantType::fp16;
  fp16.n = 197;
  fp16.epilogue.activation = Activation::relu;
  check_epilogue(fp16, cache, 630);
}

/// `l` compiled for cuda-emu, with its weights packed: every weight 0.5.
Expected<std::pair<Kernel, PackedWeights>> compile_with_half_weights(const LayerConfig& l,
                                                                     const fs::path& cache) {
  auto kernel = jit::compile(l, {.target = Target::cuda_emu, .cache = cache});
  if (!kernel) return kernel.error();
  auto w = quant::quantize_weights(std::vector<float>(l.n * l.k, 0.5f), l.n, l.k,
                                   quant::weight_format_of(l));
  if (!w) return w.error();
  auto packed = kernel->pack(*w);
  if (!packed) return packed.error();
  return std::pair{*kernel, *packed};
}

TEST(CudaEmu, Int8OutputNeedsAUsableOutputScale) {
  LayerConfig l =
      w8a8_layer(QuantType::fp16, ActivationScaling::static_per_tensor, false, QuantType::int8);
  l.m_max = 16;
  auto compiled = compile_with_half_weights(l, fresh_cache());
  ASSERT_TRUE(compiled) << compiled.error().str();
  const auto& [kernel, packed] = *compiled;
  std::vector<std::uint16_t> a(2 * l.k, 0x3c00);  // 1.0
  std::vector<std::int8_t> y(2 * l.n, 99);
  auto ran = kernel({a.data(), QuantType::fp16, 2, l.k, l.k}, packed,
                    {y.data(), QuantType::int8, 2, l.n, l.n},
                    {.activation_scale = 0.1f, .output_scale = 0.0f});
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().code, Errc::invalid_argument);
  EXPECT_EQ(y[0], 99) << "nothing written";
  // y = 1.0 · 0.5 · 208 = 104 (a and w on their grids; the scales' roundings are far below
  // half a code), requantized with output scale 1: code 104 everywhere.
  ran = kernel({a.data(), QuantType::fp16, 2, l.k, l.k}, packed,
               {y.data(), QuantType::int8, 2, l.n, l.n},
               {.activation_scale = 1.0f / 127, .output_scale = 1.0f});
  ASSERT_TRUE(ran) << ran.error().str();
  for (std::int8_t v : y) EXPECT_EQ(v, 104);
}

TEST(CudaEmu, EachBucketRunsItsDefaultTile) {
  auto kernel = jit::compile(
      w8a8_layer(QuantType::fp16, ActivationScaling::dynamic_per_token, true, QuantType::fp16),
      {.target = Target::cuda_emu, .cache = fresh_cache()});
  ASSERT_TRUE(kernel) << kernel.error().str();
  for (const codegen::CudaTileBucket& b :
       codegen::default_cuda_tiles(GemmFamily::w8a8, ActivationScaling::dynamic_per_token)) {
    const std::int64_t m = std::min<std::int64_t>(b.max_m, 512);
    EXPECT_NE(kernel->name(m).find(codegen::canonical_name(b.tile)), std::string::npos)
        << kernel->name(m);
    EXPECT_TRUE(kernel->name(m).ends_with("_emu"));
  }
}

TEST(CudaEmu, RefusesWhatTheCudaKernelsCannotRun) {
  const fs::path cache = fresh_cache();
  LayerConfig l =
      w8a8_layer(QuantType::fp16, ActivationScaling::static_per_tensor, false, QuantType::fp16);
  l.input_dtype = QuantType::fp32;
  auto fp32_input = jit::compile(l, {.target = Target::cuda_emu, .cache = cache});
  ASSERT_FALSE(fp32_input);
  EXPECT_EQ(fp32_input.error().code, Errc::unsupported);

  l = w8a8_layer(QuantType::fp16, ActivationScaling::static_per_tensor, false, QuantType::fp16);
  l.k = 200;  // not a multiple of 16: rows of A would not be 16-byte aligned for cp.async
  auto compiled = compile_with_half_weights(l, cache);
  ASSERT_TRUE(compiled) << compiled.error().str();
  const auto& [kernel, packed] = *compiled;
  std::vector<std::uint16_t> a(3 * l.k), y(3 * l.n);
  auto ran = kernel({a.data(), QuantType::fp16, 3, l.k, l.k}, packed,
                    {y.data(), QuantType::fp16, 3, l.n, l.n}, {.activation_scale = 0.1f});
  ASSERT_FALSE(ran);
  EXPECT_EQ(ran.error().where, "k");
}

}  // namespace
}  // namespace qk
