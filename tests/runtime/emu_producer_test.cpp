// The quantize producer (templates/cuda/quantize_rows.cuh) and the GEMMs that consume its codes
// (a_quant producer), executed under cuda-emu: the producer's codes and scales against the
// reference quantization bit for bit, and every family with dynamic per-token scaling against the
// reference GEMM on every tile with the producer, on shapes that leave partial tiles everywhere.
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "codegen/cuda_kernel_spec.hpp"
#include "codegen/render_cuda.hpp"
#include "quant/float_formats.hpp"
#include "quant/quantize.hpp"
#include "reference_check.hpp"
#include "runtime/cuda_launch_geometry.hpp"
#include "runtime/emu_backend.hpp"
#include "runtime/emu_launch.hpp"
#include "runtime/kernel_impl.hpp"

namespace qk {
namespace {

namespace fs = std::filesystem;

fs::path fresh_cache() {
  const fs::path dir = fs::temp_directory_path() / ("qk_emu_producer_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "kernels.db";
}

LayerConfig per_token_layer(GemmFamily family, QuantType input, bool bias, Activation act,
                            QuantType output) {
  LayerConfig l;
  l.name = "fc";
  l.n = 200;  // 1.56 tiles of 128, 3.1 of 64
  l.k = 208;  // 3.25 k-tiles of 64, 1.6 of 128
  l.input_dtype = input;
  l.activation_scaling = ActivationScaling::dynamic_per_token;
  l.epilogue = {bias, act, output};
  l.m_min = 1;
  l.m_max = 512;
  if (family == GemmFamily::w4a8) {
    l.weight_quant = QuantType::int4;
    l.weight_granularity = WeightGranularity::per_group;
  } else if (family == GemmFamily::fp8) {
    l.weight_quant = QuantType::fp8_e4m3;
    l.activation_quant = QuantType::fp8_e4m3;
  }
  return l;
}

/// The family's three shipped tiles, all with `a_quant`, as buckets: m = 1, 7 run the decode tile,
/// 33 and 130 the mid one, 300 the prefill one.
std::vector<codegen::CudaTileBucket> every_tile(const LayerConfig& l, codegen::CudaAQuant a_quant) {
  const auto tiles = codegen::cuda_tiles(*family_of(l.weight_quant, l.activation_quant));
  std::vector<codegen::CudaTileBucket> buckets{
      {16, tiles[2]}, {256, tiles[1]}, {std::numeric_limits<std::int64_t>::max(), tiles[0]}};
  for (auto& b : buckets) b.tile.a_quant = a_quant;
  return buckets;
}

void check_every_tile(const LayerConfig& l, codegen::CudaAQuant a_quant, const fs::path& cache,
                      unsigned seed) {
  SCOPED_TRACE(fmt::format("{} {} {} {} g{}{} {}", to_string(l.activation_quant),
                           to_string(l.input_dtype), to_string(l.epilogue.activation),
                           to_string(l.epilogue.output), l.block_size,
                           l.weight_symmetric ? "" : "z", to_string(a_quant)));
  auto kernel = runtime::compile_cuda_emu_with_tiles(
      l, {.target = Target::cuda_emu, .cache = cache}, every_tile(l, a_quant));
  ASSERT_TRUE(kernel) << kernel.error().str();
  for (std::int64_t m : {1, 7, 33, 130, 300}) {
    EXPECT_EQ(kernel->name(m).find("_qp_emu") != std::string::npos,
              a_quant == codegen::CudaAQuant::producer)
        << kernel->name(m);
    test::check_against_reference(*kernel, m, seed++, /*row_padding=*/0);
  }
}

TEST(CudaEmuProducer, W8A8MatchesTheReferenceOnEveryTile) {
  const fs::path cache = fresh_cache();
  // fp16 and bf16 input; with and without bias; the activation functions; every output type.
  const struct {
    QuantType input;
    bool bias;
    Activation act;
    QuantType output;
  } variants[] = {
      {QuantType::fp16, true, Activation::none, QuantType::fp16},
      {QuantType::bf16, false, Activation::gelu, QuantType::bf16},
      {QuantType::fp16, true, Activation::silu, QuantType::int8},
      {QuantType::bf16, true, Activation::relu, QuantType::fp16},
  };
  unsigned seed = 1000;
  for (const auto& v : variants)
    check_every_tile(per_token_layer(GemmFamily::w8a8, v.input, v.bias, v.act, v.output),
                     codegen::CudaAQuant::producer, cache, seed += 10);
}

TEST(CudaEmuProducer, W4A8MatchesTheReferenceWithAndWithoutZeroPoints) {
  const fs::path cache = fresh_cache();
  unsigned seed = 1100;
  for (int group : {32, 128})
    for (bool symmetric : {true, false}) {
      LayerConfig l =
          per_token_layer(GemmFamily::w4a8, group == 32 ? QuantType::fp16 : QuantType::bf16,
                          !symmetric, Activation::none, QuantType::bf16);
      l.block_size = group;
      l.weight_symmetric = symmetric;
      l.k = group == 32 ? 224 : 384;  // whole groups; 224 is 3.5 k-tiles of 64
      check_every_tile(l, codegen::CudaAQuant::producer, cache, seed += 10);
    }
}

TEST(CudaEmuProducer, Fp8MatchesTheReferenceForBothActivationFormats) {
  const fs::path cache = fresh_cache();
  unsigned seed = 1200;
  for (QuantType activation : {QuantType::fp8_e4m3, QuantType::fp8_e5m2}) {
    LayerConfig l =
        per_token_layer(GemmFamily::fp8, QuantType::bf16, true, Activation::none, QuantType::fp16);
    l.activation_quant = activation;
    l.n = 197;  // odd: the last column pair is half outside
    check_every_tile(l, codegen::CudaAQuant::producer, cache, seed += 10);
  }
}

// The defaults now quantize in the CTA at decode sizes only: the pre-pass keeps its coverage on
// the mid and prefill tiles here.
TEST(CudaEmuProducer, TheInCtaPrePassStillMatchesOnEveryTile) {
  const fs::path cache = fresh_cache();
  check_every_tile(
      per_token_layer(GemmFamily::w8a8, QuantType::fp16, true, Activation::none, QuantType::fp16),
      codegen::CudaAQuant::in_cta, cache, 1300);
  LayerConfig fp8 =
      per_token_layer(GemmFamily::fp8, QuantType::fp16, false, Activation::none, QuantType::bf16);
  fp8.activation_quant = QuantType::fp8_e5m2;
  check_every_tile(fp8, codegen::CudaAQuant::in_cta, cache, 1310);
}

/// The producer alone: its codes [M, K] and scales [M] for rows with outliers, NaN, ±Inf, an
/// all-zero row and an all-non-finite row, against quant/'s reference quantization bit for bit.
void check_producer(GemmFamily family, QuantType input, QuantType codes_type) {
  SCOPED_TRACE(fmt::format("{} {}", to_string(input), to_string(codes_type)));
  LayerConfig l = per_token_layer(family, input, false, Activation::none, QuantType::fp16);
  l.activation_quant = codes_type;
  const std::int64_t m = 9, k = 4112;  // past two strides of 2048 elements, and a piece over
  auto spec = codegen::cuda_kernel_spec(l, codegen::with_producer(codegen::cuda_tiles(family)[1]),
                                        codegen::CudaArch::sm_89);
  ASSERT_TRUE(spec) << spec.error().str();
  auto backend = runtime::EmuBackend::get();
  ASSERT_TRUE(backend) << backend.error().str();
  runtime::Supply supply = runtime::Supply::memory;
  auto kernel = (*backend)->kernel(*spec, nullptr, &supply);
  ASSERT_TRUE(kernel) << kernel.error().str();
  ASSERT_NE((*kernel)->producer_entry, nullptr);

  std::vector<float> a = test::random_matrix(m, k, 77, 1.0f, 13, 40.0f);
  const float inf = std::numeric_limits<float>::infinity();
  a[1 * k + 5] = std::numeric_limits<float>::quiet_NaN();
  a[1 * k + 4000] = inf;
  a[2 * k + 17] = -inf;
  for (std::int64_t j = 0; j < k; ++j) a[3 * k + j] = 0.0f;
  for (std::int64_t j = 0; j < k; ++j) a[4 * k + j] = j % 2 ? inf : std::nanf("");
  a[5 * k + k - 1] = 1.0e4f;  // the row's absmax in its very last element
  std::vector<std::uint16_t> bits(a.size());
  std::vector<float> rounded(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    bits[i] = input == QuantType::fp16 ? quant::float_to_fp16(a[i]) : quant::float_to_bf16(a[i]);
    rounded[i] =
        input == QuantType::fp16 ? quant::fp16_to_float(bits[i]) : quant::bf16_to_float(bits[i]);
  }

  struct alignas(16) Piece {
    std::uint8_t b[16];
  };
  std::vector<Piece> workspace(runtime::quantize_workspace_bytes(m, k) / 16 + 1);
  std::memset(workspace.data(), 0xA5, workspace.size() * 16);
  const runtime::QuantizeWorkspace ws = runtime::quantize_workspace(workspace.data(), m, k);
  const QkCudaQuantizeArgs args{bits.data(), ws.codes, ws.scales, static_cast<int>(m),
                                static_cast<int>(k)};
  auto geometry = runtime::prepare_quantize_launch((*kernel)->rendered, args);
  ASSERT_TRUE(geometry) << geometry.error().str();
  EXPECT_EQ(geometry->grid_x, m);
  auto ran = runtime::emu::launch({{geometry->grid_x, geometry->grid_y, 1},
                                   {geometry->block_x, 1, 1},
                                   geometry->smem_bytes,
                                   (*kernel)->producer_entry,
                                   &args});
  ASSERT_TRUE(ran) << ran.error().str();

  const auto* codes = static_cast<const std::uint8_t*>(ws.codes);
  for (std::int64_t i = 0; i < m; ++i) {
    const std::span<const float> row(&rounded[i * k], static_cast<std::size_t>(k));
    const float scale = quant::symmetric_scale(quant::finite_absmax(row), codes_type);
    const float inv = quant::inverse_scale(scale);
    EXPECT_EQ(std::bit_cast<std::uint32_t>(ws.scales[i]), std::bit_cast<std::uint32_t>(scale))
        << "row " << i << ": " << ws.scales[i] << " vs " << scale;
    int wrong = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      const std::uint8_t want =
          codes_type == QuantType::int8
              ? static_cast<std::uint8_t>(quant::quantize_int8(row[j], inv))
              : quant::quantize_fp8(row[j], inv, quant::fp8_format_of(codes_type));
      if (codes[i * k + j] != want && wrong++ < 3)
        ADD_FAILURE() << "row " << i << " k " << j << ": code " << int(codes[i * k + j])
                      << ", the reference's " << int(want) << " (x = " << row[j] << ")";
    }
    EXPECT_EQ(wrong, 0) << "row " << i;
  }
}

TEST(CudaEmuProducer, CodesAndScalesAreTheReferencesBitForBit) {
  check_producer(GemmFamily::w8a8, QuantType::fp16, QuantType::int8);
  check_producer(GemmFamily::w8a8, QuantType::bf16, QuantType::int8);
  check_producer(GemmFamily::fp8, QuantType::fp16, QuantType::fp8_e4m3);
  check_producer(GemmFamily::fp8, QuantType::bf16, QuantType::fp8_e5m2);
}

}  // namespace
}  // namespace qk
