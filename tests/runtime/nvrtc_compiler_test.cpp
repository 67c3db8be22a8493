// The cuda target's compiler, with no GPU: every shipped tile of every family compiles with NVRTC
// for every arch, within its resource budget, and its SASS holds what the kernel was written for.
#include "runtime/nvrtc_compiler.hpp"

#include <fstream>
#include <regex>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../common/run_command.hpp"
#include "../common/temp_dir.hpp"
#include "codegen/name_tags.hpp"
#include "codegen/render_cuda.hpp"

namespace qk::runtime {
namespace {

using codegen::CudaArch;
using codegen::CudaTile;

const NvrtcCompiler& compiler() {
  static const auto nvrtc = NvrtcCompiler::create(cuda_template_config());
  return **nvrtc;
}

TEST(ParsePtxasInfo, ReadsTheKernelsEntry) {
  const std::string log =
      "ptxas info    : 101 bytes gmem\n"
      "ptxas info    : Compiling entry function '_Z5otherv' for 'sm_80'\n"
      "ptxas info    : Function properties for _Z5otherv\n"
      "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Used 12 registers, used 0 barriers\n"
      "ptxas info    : Compiling entry function '_Z1kv' for 'sm_80'\n"
      "ptxas info    : Function properties for _Z1kv\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 218 registers, used 1 barriers, 512 bytes smem, 416 bytes cmem[0]\n";
  auto r = parse_ptxas_info(log, "_Z1kv");
  ASSERT_TRUE(r) << r.error().str();
  EXPECT_EQ(r->registers, 218);
  EXPECT_EQ(r->spill_store_bytes, 0);
  EXPECT_EQ(r->stack_bytes, 0);
  EXPECT_EQ(r->static_smem_bytes, 512);
  EXPECT_EQ(r->barriers, 1);
  auto other = parse_ptxas_info(log, "_Z5otherv");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->spill_store_bytes, 4);
  EXPECT_EQ(other->registers, 12);
  EXPECT_EQ(parse_ptxas_info(log, "_Z7missingv").error().code, Errc::parse_error);
}

TEST(NvrtcCompiler, ErrorCarriesTheLogAndTheOptions) {
  auto bin =
      compiler().compile("__global__ void k() { undeclared(); }", "broken", CudaArch::sm_86, "k");
  ASSERT_FALSE(bin);
  EXPECT_EQ(bin.error().code, Errc::compile_error);
  EXPECT_EQ(bin.error().where, "broken");
  EXPECT_NE(bin.error().message.find("broken.cu("), std::string::npos) << bin.error().message;
  EXPECT_NE(bin.error().message.find("undeclared"), std::string::npos);
  EXPECT_NE(bin.error().message.find("--gpu-architecture=sm_86"), std::string::npos);
  EXPECT_NE(bin.error().message.find(compiler().version()), std::string::npos);
}

TEST(NvrtcCompiler, VersionAndKeyNameWhatChangesTheCubin) {
  EXPECT_TRUE(compiler().version().starts_with("nvrtc 1")) << compiler().version();
  const std::string key = compiler().flags_key();
  EXPECT_NE(key.find("-std=c++17"), std::string::npos) << key;
  EXPECT_EQ(key.find("sm_80"), std::string::npos) << "the arch is a key field of its own";
  auto other = NvrtcCompiler::create({.headers = {{"cuda/gemm.cuh", "// edited"}}});
  ASSERT_TRUE(other);
  EXPECT_NE((*other)->flags_key(), key);
}

// The template's static_asserts are sentences, and they reach the caller through the error: a
// tile the template rejects, and a shared-memory figure codegen and the template disagree on.
TEST(NvrtcCompiler, TemplateRulesReachTheErrorAsSentences) {
  LayerConfig layer;
  layer.n = 256;
  layer.k = 256;
  layer.input_dtype = QuantType::fp16;
  layer.activation_scaling = ActivationScaling::static_per_tensor;
  layer.epilogue = {false, Activation::none, QuantType::fp16};
  auto spec = codegen::cuda_kernel_spec(layer, {64, 64, 64, 2, 2, 3}, CudaArch::sm_80);
  ASSERT_TRUE(spec) << spec.error().str();
  const codegen::RenderedCudaKernel k = codegen::render_cuda(*spec);
  auto replaced = [&](std::string from, std::string to) {
    std::string s = k.source;
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return at == std::string::npos ? s : s.replace(at, from.size(), to);
  };
  auto bad_k = compiler().compile(replaced("BLOCK_K = 64", "BLOCK_K = 48"), k.name, CudaArch::sm_80,
                                  k.name_expression);
  ASSERT_FALSE(bad_k);
  EXPECT_NE(bad_k.error().message.find("BLOCK_K must be a multiple of 32"), std::string::npos)
      << bad_k.error().message;
  auto bad_smem = compiler().compile(replaced(fmt::format("== {}", k.smem_bytes), "== 1"), k.name,
                                     CudaArch::sm_80, k.name_expression);
  ASSERT_FALSE(bad_smem);
  EXPECT_NE(bad_smem.error().message.find("shared-memory figure"), std::string::npos)
      << bad_smem.error().message;
}

// One compile of the matrix: a family, a layer variant, a tile, an arch.
struct Variant {
  GemmFamily family;
  QuantType input;
  ActivationScaling scaling;
  bool bias;
  QuantType output;
  CudaTile tile;
  CudaArch arch;
  int group_size = 0;  ///< w4a16
  bool zero_points = false;
  QuantType fp8 = QuantType::fp8_e4m3;  ///< fp8: the activations' code
  Activation act = Activation::none;
};

std::string variant_name(const testing::TestParamInfo<Variant>& info);

// gtest prints a parameter with this instead of its bytes.
void PrintTo(const Variant& v, std::ostream* os) {
  *os << variant_name(testing::TestParamInfo<Variant>(v, 0));
}

std::string variant_name(const testing::TestParamInfo<Variant>& info) {
  const Variant& v = info.param;
  return fmt::format("{}_{}_{}_{}{}_{}_{}_{}_{}", to_string(v.family), to_string(v.arch),
                     to_string(v.input), codegen::scaling_tag(v.scaling),
                     codegen::weight_group_tag(v.group_size, v.zero_points),
                     v.bias ? "bias" : "nobias", to_string(v.act), to_string(v.output),
                     codegen::canonical_name(v.tile));
}

LayerConfig layer_of(const Variant& v) {
  LayerConfig layer;
  layer.n = 4096;
  layer.k = 4096;
  layer.input_dtype = v.input;
  layer.activation_scaling = v.scaling;
  layer.epilogue = {v.bias, v.act, v.output};
  switch (v.family) {
    case GemmFamily::fp16:
    case GemmFamily::bf16:
      layer.weight_quant = layer.activation_quant = v.input;
      break;
    case GemmFamily::w4a16:
      layer.weight_quant = QuantType::int4;
      layer.activation_quant = v.input;
      layer.weight_granularity = WeightGranularity::per_group;
      layer.block_size = v.group_size;
      layer.weight_symmetric = !v.zero_points;
      break;
    case GemmFamily::fp8:
      layer.weight_quant = QuantType::fp8_e4m3;
      layer.activation_quant = v.fp8;
      break;
    case GemmFamily::w4a8:
      layer.weight_quant = QuantType::int4;
      layer.activation_quant = QuantType::int8;
      layer.weight_granularity = WeightGranularity::per_group;
      layer.block_size = v.group_size;
      layer.weight_symmetric = !v.zero_points;
      break;
    default:  // w8a8
      layer.weight_quant = layer.activation_quant = QuantType::int8;
  }
  return layer;
}

// Per family: every shipped tile on every arch with one layer variant, and the other layer
// variants once each (the code they change is the prologue and the epilogue, not the tile's
// loop). ~0.3-2 s a compile.
std::vector<Variant> w8a8_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::w8a8);
  for (CudaArch arch : codegen::kCudaArchs)
    for (const CudaTile& tile : tiles)
      out.push_back({GemmFamily::w8a8, QuantType::fp16, ActivationScaling::static_per_tensor, true,
                     QuantType::fp16, tile, arch});
  out.push_back({GemmFamily::w8a8, QuantType::bf16, ActivationScaling::dynamic_per_token, false,
                 QuantType::bf16, tiles.front(), CudaArch::sm_80});
  out.push_back({GemmFamily::w8a8, QuantType::fp16, ActivationScaling::dynamic_per_token, true,
                 QuantType::bf16, tiles.front(), CudaArch::sm_89});
  out.push_back({GemmFamily::w8a8, QuantType::bf16, ActivationScaling::static_per_tensor, false,
                 QuantType::fp16, tiles.back(), CudaArch::sm_90a});
  return out;
}

// fp16 over every tile and arch; bf16 (another mma and conversions) and the no-bias, bf16-output
// epilogue once each.
std::vector<Variant> float_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::fp16);
  for (CudaArch arch : codegen::kCudaArchs)
    for (const CudaTile& tile : tiles)
      out.push_back({GemmFamily::fp16, QuantType::fp16, ActivationScaling::none, true,
                     QuantType::fp16, tile, arch});
  out.push_back({GemmFamily::bf16, QuantType::bf16, ActivationScaling::none, false, QuantType::bf16,
                 tiles.front(), CudaArch::sm_86});
  out.push_back({GemmFamily::bf16, QuantType::bf16, ActivationScaling::none, true, QuantType::fp16,
                 tiles.back(), CudaArch::sm_90a});
  return out;
}

// w4a16: fp16, groups of 128, symmetric over every tile and arch; bf16, zero points and the other
// group sizes (a k-tile holding two groups, one group spanning two k-tiles) once each.
std::vector<Variant> w4a16_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::w4a16);
  for (CudaArch arch : codegen::kCudaArchs)
    for (const CudaTile& tile : tiles)
      out.push_back({GemmFamily::w4a16, QuantType::fp16, ActivationScaling::none, true,
                     QuantType::fp16, tile, arch, 128, false});
  out.push_back({GemmFamily::w4a16, QuantType::bf16, ActivationScaling::none, false,
                 QuantType::bf16, tiles.front(), CudaArch::sm_80, 32, true});
  out.push_back({GemmFamily::w4a16, QuantType::fp16, ActivationScaling::none, true, QuantType::fp16,
                 tiles.back(), CudaArch::sm_89, 64, true});
  out.push_back({GemmFamily::w4a16, QuantType::bf16, ActivationScaling::none, true, QuantType::fp16,
                 tiles[1], CudaArch::sm_90a, 256, false});
  return out;
}

// fp8 (sm_89 and sm_90a only): e4m3 activations, static scale, over every tile on both archs;
// e5m2 activations (the mixed e5m2 x e4m3 mma) and per-token scaling once each.
std::vector<Variant> fp8_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::fp8);
  for (CudaArch arch : {CudaArch::sm_89, CudaArch::sm_90a})
    for (const CudaTile& tile : tiles)
      out.push_back({GemmFamily::fp8, QuantType::fp16, ActivationScaling::static_per_tensor, true,
                     QuantType::fp16, tile, arch});
  out.push_back({GemmFamily::fp8, QuantType::bf16, ActivationScaling::dynamic_per_token, false,
                 QuantType::bf16, tiles.front(), CudaArch::sm_89, 0, false, QuantType::fp8_e5m2});
  out.push_back({GemmFamily::fp8, QuantType::fp16, ActivationScaling::dynamic_per_token, true,
                 QuantType::fp16, tiles.back(), CudaArch::sm_90a, 0, false, QuantType::fp8_e4m3});
  return out;
}

// w4a8: static scale, groups of 128, symmetric over every tile and arch; per-token scaling,
// zero points, groups smaller than a k-tile (a flush per k32 pair) and larger than one, once each.
std::vector<Variant> w4a8_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::w4a8);
  for (CudaArch arch : codegen::kCudaArchs)
    for (const CudaTile& tile : tiles)
      out.push_back({GemmFamily::w4a8, QuantType::fp16, ActivationScaling::static_per_tensor, true,
                     QuantType::fp16, tile, arch, 128, false});
  out.push_back({GemmFamily::w4a8, QuantType::bf16, ActivationScaling::dynamic_per_token, false,
                 QuantType::bf16, tiles.front(), CudaArch::sm_80, 32, true});
  out.push_back({GemmFamily::w4a8, QuantType::fp16, ActivationScaling::dynamic_per_token, true,
                 QuantType::fp16, tiles.back(), CudaArch::sm_89, 64, true});
  out.push_back({GemmFamily::w4a8, QuantType::bf16, ActivationScaling::static_per_tensor, true,
                 QuantType::fp16, tiles[1], CudaArch::sm_90a, 256, false});
  return out;
}

// The epilogue's options (templates/cuda/epilogue.cuh) change only the code after the main loop:
// each activation function once on w8a8 (and the double-precision GELU and SiLU on the largest
// tiles, where the accumulators leave the fewest registers free), int8 output once per family.
std::vector<Variant> epilogue_variants() {
  std::vector<Variant> out;
  const auto tiles = codegen::cuda_tiles(GemmFamily::w8a8);
  for (Activation act :
       {Activation::relu, Activation::gelu, Activation::gelu_tanh, Activation::silu})
    out.push_back({GemmFamily::w8a8, QuantType::fp16, ActivationScaling::static_per_tensor, true,
                   QuantType::fp16, tiles.front(), CudaArch::sm_80, 0, false, QuantType::fp8_e4m3,
                   act});
  out.push_back({GemmFamily::w8a8, QuantType::bf16, ActivationScaling::dynamic_per_token, true,
                 QuantType::bf16, tiles.back(), CudaArch::sm_90a, 0, false, QuantType::fp8_e4m3,
                 Activation::gelu});
  out.push_back({GemmFamily::w4a16, QuantType::fp16, ActivationScaling::none, true, QuantType::int8,
                 codegen::cuda_tiles(GemmFamily::w4a16).back(), CudaArch::sm_86, 128, true,
                 QuantType::fp8_e4m3, Activation::silu});
  const struct {
    GemmFamily family;
    QuantType input;
    ActivationScaling scaling;
    int group_size;
    CudaArch arch;
  } int8_out[] = {
      {GemmFamily::w8a8, QuantType::fp16, ActivationScaling::static_per_tensor, 0, CudaArch::sm_80},
      {GemmFamily::fp16, QuantType::fp16, ActivationScaling::none, 0, CudaArch::sm_80},
      {GemmFamily::bf16, QuantType::bf16, ActivationScaling::none, 0, CudaArch::sm_80},
      {GemmFamily::w4a16, QuantType::bf16, ActivationScaling::none, 64, CudaArch::sm_80},
      {GemmFamily::fp8, QuantType::fp16, ActivationScaling::dynamic_per_token, 0, CudaArch::sm_89},
      {GemmFamily::w4a8, QuantType::fp16, ActivationScaling::dynamic_per_token, 128,
       CudaArch::sm_80},
  };
  for (const auto& f : int8_out)
    out.push_back({f.family, f.input, f.scaling, false, QuantType::int8,
                   codegen::cuda_tiles(f.family)[1], f.arch, f.group_size, false,
                   QuantType::fp8_e4m3, Activation::relu});
  return out;
}

// The producer variants (a_quant producer, dynamic per-token scaling): every shipped tile of
// w8a8 and w4a8 on every arch, of fp8 on sm_89 and sm_90a, each with the other input type or
// epilogue where it costs no extra compile.
std::vector<Variant> producer_variants() {
  std::vector<Variant> out;
  for (CudaArch arch : codegen::kCudaArchs) {
    for (const CudaTile& tile : codegen::cuda_tiles(GemmFamily::w8a8))
      out.push_back({GemmFamily::w8a8, arch == CudaArch::sm_86 ? QuantType::bf16 : QuantType::fp16,
                     ActivationScaling::dynamic_per_token, true, QuantType::fp16,
                     codegen::with_producer(tile), arch});
    for (const CudaTile& tile : codegen::cuda_tiles(GemmFamily::w4a8))
      out.push_back({GemmFamily::w4a8, QuantType::fp16, ActivationScaling::dynamic_per_token, false,
                     QuantType::bf16, codegen::with_producer(tile), arch, 128,
                     arch == CudaArch::sm_89});
    if (arch == CudaArch::sm_89 || arch == CudaArch::sm_90a)
      for (const CudaTile& tile : codegen::cuda_tiles(GemmFamily::fp8))
        out.push_back({GemmFamily::fp8, QuantType::bf16, ActivationScaling::dynamic_per_token, true,
                       QuantType::fp16, codegen::with_producer(tile), arch, 0, false,
                       arch == CudaArch::sm_89 ? QuantType::fp8_e5m2 : QuantType::fp8_e4m3});
  }
  return out;
}

/// The SASS of one kernel in nvdisasm's listing of a cubin: its section .text.<mangled name>,
/// up to the next section; empty when there is none.
std::string kernel_sass(const std::string& listing, const std::string& mangled) {
  const std::string header = ".section\t.text." + mangled + ",";
  const std::size_t start = listing.find(header);
  if (start == std::string::npos) return {};
  const std::size_t end = listing.find(".section\t", start + header.size());
  return listing.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Split-K on the tiles with the most accumulators a thread (the reduction loads beside them), on
// the archs with the fewest registers to spare: w8a8's and w4a16's 128 x 128 (4 warps; w8a8's
// with raster 4 as well spills 12 bytes on sm_86, so not that), fp8's on sm_90a (emulated mma),
// w4a8's whose partials are its fp32 group sums, with groups longer than BLOCK_K. Every family's decode tile
// splits K and every prefill tile rasterizes already, on every arch (the shipped tiles above).
std::vector<Variant> split_k_variants() {
  auto split = [](CudaTile t, int split_k, int raster) {
    t.split_k = split_k;
    t.raster = raster;
    return t;
  };
  std::vector<Variant> out;
  out.push_back({GemmFamily::w8a8, QuantType::fp16, ActivationScaling::dynamic_per_token, true,
                 QuantType::fp16, split(codegen::cuda_tiles(GemmFamily::w8a8)[0], 3, 1),
                 CudaArch::sm_86});
  out.push_back({GemmFamily::w4a16, QuantType::bf16, ActivationScaling::none, true, QuantType::bf16,
                 split(codegen::cuda_tiles(GemmFamily::w4a16)[0], 2, 1), CudaArch::sm_80, 32,
                 true});
  out.push_back({GemmFamily::fp8, QuantType::fp16, ActivationScaling::static_per_tensor, true,
                 QuantType::fp16, split(codegen::cuda_tiles(GemmFamily::fp8)[0], 2, 8),
                 CudaArch::sm_90a});
  out.push_back({GemmFamily::w4a8, QuantType::fp16, ActivationScaling::dynamic_per_token, true,
                 QuantType::int8, split(codegen::cuda_tiles(GemmFamily::w4a8)[1], 7, 2),
                 CudaArch::sm_89, 128, true});
  return out;
}

/// The tensor-core instruction each family's main loop was written for, as nvdisasm prints it,
/// and the k one instruction covers.
struct TensorCoreOp {
  std::string pattern;
  int k;
};
TensorCoreOp tensor_core_op(const Variant& v) {
  if (v.family == GemmFamily::w8a8 || v.family == GemmFamily::w4a8)
    return {R"(\bIMMA\.16832\.S8\.S8\b)", 32};
  // sm_89 runs mma.sync .e4m3/.e5m2 on its fp8 tensor cores (QMMA). sm_90a's fp8 tensor cores
  // are reached only by wgmma: ptxas lowers mma.sync fp8 there to F2FP unpacks to fp16 and two
  // HMMA.16816 per k32 (exact: every fp8 value is an fp16 value), so that is what is counted.
  if (v.family == GemmFamily::fp8 && v.arch == CudaArch::sm_90a)
    return {R"(\bHMMA\.16816\.F32\s)", 16};
  if (v.family == GemmFamily::fp8)
    return {v.fp8 == QuantType::fp8_e4m3 ? R"(\bQMMA\.16832\.F32\.E4M3\.E4M3\b)"
                                         : R"(\bQMMA\.16832\.F32\.E5M2\.E4M3\b)",
            32};
  // fp16, bf16 and w4a16 (int4 dequantized to the activations' type): HMMA of A's type.
  if (v.input == QuantType::fp16) return {R"(\bHMMA\.16816\.F32\s)", 16};
  return {R"(\bHMMA\.16816\.F32\.BF16\b)", 16};
}

class GemmNvrtc : public testing::TestWithParam<Variant> {};

TEST_P(GemmNvrtc, CompilesWithinBudgetAndSassHasTensorCoresAndNoLocalMemory) {
  const Variant& v = GetParam();
  auto spec = codegen::cuda_kernel_spec(layer_of(v), v.tile, v.arch);
  ASSERT_TRUE(spec) << spec.error().str();
  const codegen::RenderedCudaKernel k = codegen::render_cuda(*spec);
  std::vector<std::string> companions;
  if (k.has_producer()) companions.push_back(k.producer.name_expression);
  auto bin = compiler().compile(k.source, k.name, v.arch, k.name_expression, companions);
  ASSERT_TRUE(bin) << bin.error().str();
  ASSERT_EQ(bin->companions.size(), companions.size());
  ASSERT_FALSE(bin->cubin.empty());
  EXPECT_NE(bin->lowered_name.find("gemm"), std::string::npos) << bin->lowered_name;

  // Resources: no spills, no stack, and registers and shared memory that let min_blocks CTAs
  // share an SM (registers are allocated per warp in units of 256).
  const CudaResources& r = bin->resources;
  const codegen::CudaArchLimits lim = codegen::limits(v.arch);
  EXPECT_EQ(r.spill_store_bytes, 0);
  EXPECT_EQ(r.spill_load_bytes, 0);
  EXPECT_EQ(r.stack_bytes, 0);
  EXPECT_LE(r.registers, codegen::kMaxRegistersPerThread);
  const int unit = codegen::kRegisterAllocationUnit;
  const int per_warp = (r.registers * 32 + unit - 1) / unit * unit;
  EXPECT_LE(per_warp * (k.threads / 32) * k.min_blocks, lim.registers_per_sm)
      << r.registers << " registers x " << k.threads << " threads x " << k.min_blocks << " CTAs";
  const int smem = k.smem_bytes + r.static_smem_bytes;
  EXPECT_LE(smem, lim.smem_per_block);
  EXPECT_LE((smem + codegen::kSmemReservedPerBlock) * k.min_blocks, lim.smem_per_sm);
  // One line per variant for docs/cuda.md's table (ctest -V prints it).
  std::printf("QK_CUDA_RESOURCES | %s | %s | %d | %d | %d | %d | %d | %.0f |\n",
              std::string(to_string(v.arch)).c_str(), k.name.c_str(), r.registers, smem,
              r.spill_store_bytes + r.spill_load_bytes, k.threads, k.min_blocks, bin->compile_ms);

  // SASS (nvdisasm and cuobjdump, installed by scripts/install_deps.sh).
  test::TempDir dir;
  const std::string cubin_path = (dir.path() / (k.name + ".cubin")).string();
  std::ofstream(cubin_path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bin->cubin.data()),
             static_cast<std::streamsize>(bin->cubin.size()));
  const std::string nvdisasm = QK_NVDISASM, cuobjdump = QK_CUOBJDUMP;
  ASSERT_EQ((nvdisasm + cuobjdump).find("NOTFOUND"), std::string::npos)
      << "nvdisasm or cuobjdump not found: run scripts/install_deps.sh, then reconfigure";
  const test::Outcome disassembly =
      test::run_command(test::shell_quote(nvdisasm) + " " + test::shell_quote(cubin_path));
  ASSERT_EQ(disassembly.exit_code, 0) << disassembly.output;
  // The GEMM's own code (a cubin with a producer holds two kernels).
  const std::string sass = kernel_sass(disassembly.output, bin->lowered_name);
  ASSERT_FALSE(sass.empty()) << "no .text section of " << bin->lowered_name;
  auto count_in = [](const std::string& text, const std::string& pattern) {
    const std::regex re(pattern);
    return std::distance(std::sregex_iterator(text.begin(), text.end(), re),
                         std::sregex_iterator());
  };
  auto count = [&](const std::string& pattern) { return count_in(sass, pattern); };
  // The main loop is unrolled over BLOCK_K once: exactly one mma per m16 x n8 x k-step of a warp
  // tile, so none was lost and none duplicated.
  const int warp_m = v.tile.block_m / v.tile.warps_m, warp_n = v.tile.block_n / v.tile.warps_n;
  const TensorCoreOp op = tensor_core_op(v);
  EXPECT_EQ(count(op.pattern), (warp_m / 16) * (warp_n / 8) * (v.tile.block_k / op.k))
      << op.pattern << " per k-tile";
  if (v.family == GemmFamily::fp8) {
    EXPECT_EQ(count(R"(\bF2FP\.SATFINITE\.E[45]M[23]\.F32\.PACK_AB)") > 0, !k.has_producer())
        << "cvt to fp8 in the GEMM where (and only where) it quantizes A itself";
    EXPECT_EQ(count(R"(\bF2FP\.F16\.E[45]M[23]\.UNPACK_B\b)") > 0, v.arch == CudaArch::sm_90a)
        << "fp8 unpacked to fp16 where (and only where) mma.sync fp8 is emulated";
  }
  EXPECT_GT(count(R"(\bLDGSTS\.E\.BYPASS\.128\b)"), 0) << "128-bit cp.async.cg";
  EXPECT_GT(count(R"(\bLDSM\.16\.M88\.4\b)"), 0) << "ldmatrix.x4";
  EXPECT_EQ(count(R"(\b(LDL|STL)(\.[A-Z0-9]+)*\b)"), 0) << "local memory traffic";
  // The epilogue: int8 Y is stored a byte pair at a time (one byte at odd-N edges), never with
  // the 32-bit stores of a 16-bit Y; GELU, tanh-GELU and SiLU run in double precision.
  if (v.output == QuantType::int8) {
    EXPECT_GT(count(R"(\bSTG\.E\.U16\b)"), 0) << "paired int8 stores";
    EXPECT_GT(count(R"(\bSTG\.E\.U8\b)"), 0) << "single int8 stores";
    EXPECT_EQ(count(R"(\bSTG\.E\s)"), 0) << "no 32-bit stores into int8 Y";
  }
  if (v.act == Activation::gelu || v.act == Activation::gelu_tanh || v.act == Activation::silu) {
    EXPECT_GT(count(R"(\bDFMA\b)"), 0) << "the activation in double";
  }
  if (v.scaling == ActivationScaling::dynamic_per_token && !k.has_producer()) {
    EXPECT_GT(count(R"(\bLDG\.E\.128\b)"), 0) << "128-bit loads in the per-token pre-pass";
  }
  if (k.has_producer()) {
    // The GEMM reads A only by cp.async (no pre-pass, no quantization); the producer streams
    // rows with 128-bit loads and stores, spills nothing and converts with the same cvt.
    // (Split-K's reduction reads the slices' partials with 128-bit loads: checked below.)
    if (v.tile.split_k == 1) {
      EXPECT_EQ(count(R"(\bLDG\.E\.128\b)"), 0) << "no pre-pass in the GEMM";
    }
    const CompiledCompanion& p = bin->companions.front();
    const std::string producer = kernel_sass(disassembly.output, p.lowered_name);
    ASSERT_FALSE(producer.empty()) << "no .text section of " << p.lowered_name;
    EXPECT_NE(p.lowered_name.find("quantize_rows"), std::string::npos) << p.lowered_name;
    EXPECT_EQ(p.resources.spill_store_bytes + p.resources.spill_load_bytes, 0);
    EXPECT_EQ(p.resources.stack_bytes, 0);
    EXPECT_GT(count_in(producer, R"(\bLDG\.E\.128\b)"), 0) << "128-bit loads of A";
    EXPECT_GT(count_in(producer, R"(\bSTG\.E\.128\b)"), 0) << "128-bit stores of the codes";
    EXPECT_EQ(count_in(producer, R"(\b(LDL|STL)(\.[A-Z0-9]+)*\b)"), 0) << "local memory";
    if (v.family == GemmFamily::fp8) {
      EXPECT_GT(count_in(producer, R"(\bF2FP\.SATFINITE\.E[45]M[23]\.F32\.PACK_AB)"), 0);
    }
    std::printf("QK_CUDA_PRODUCER | %s | %s | %d | %d | %d | %d |\n",
                std::string(to_string(v.arch)).c_str(), k.name.c_str(), p.resources.registers,
                k.producer.smem_bytes + p.resources.static_smem_bytes,
                p.resources.spill_store_bytes + p.resources.spill_load_bytes, k.producer.threads);
  }
  // Split-K: one arrival counter per CTA (an atomic add that returns), fences around it, and the
  // partials through L2 (.cg); without split-K none of it.
  const bool split = v.tile.split_k > 1;
  EXPECT_EQ(count(R"(\bATOMG\.E\.ADD\b)") > 0, split) << "the arrival counter";
  EXPECT_EQ(count(R"(\bMEMBAR\.)") > 0, split) << "__threadfence";

  // cuobjdump's own reading of the cubin agrees with ptxas's report. On sm_90a the cubin's
  // shared memory includes the 1 KB the system reserves per block (ptxas does not count it).
  const test::Outcome usage = test::run_command(
      test::shell_quote(cuobjdump) + " --dump-resource-usage " + test::shell_quote(cubin_path));
  ASSERT_EQ(usage.exit_code, 0) << usage.output;
  const int reserved = v.arch == CudaArch::sm_90a ? codegen::kSmemReservedPerBlock : 0;
  EXPECT_NE(usage.output.find(fmt::format("REG:{} STACK:0 SHARED:{} LOCAL:0", r.registers,
                                          r.static_smem_bytes + reserved)),
            std::string::npos)
      << usage.output;
}

INSTANTIATE_TEST_SUITE_P(W8A8, GemmNvrtc, testing::ValuesIn(w8a8_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(Float, GemmNvrtc, testing::ValuesIn(float_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(W4A16, GemmNvrtc, testing::ValuesIn(w4a16_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(FP8, GemmNvrtc, testing::ValuesIn(fp8_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(W4A8, GemmNvrtc, testing::ValuesIn(w4a8_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(SplitK, GemmNvrtc, testing::ValuesIn(split_k_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(Epilogue, GemmNvrtc, testing::ValuesIn(epilogue_variants()), variant_name);
INSTANTIATE_TEST_SUITE_P(Producer, GemmNvrtc, testing::ValuesIn(producer_variants()), variant_name);

}  // namespace
}  // namespace qk::runtime
