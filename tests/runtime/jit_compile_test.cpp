// qk::jit::compile end to end on the cpu target: render -> compile -> cache -> load -> run, against
// the reference of docs/numerics.md.
#include "qk/jit.hpp"

#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "../common/run_command.hpp"
#include "../quant/test_data.hpp"
#include "reference_check.hpp"
#include "cache/kernel_cache.hpp"
#include "codegen/cpu_search_space.hpp"
#include "quant/float_formats.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"
#include "runtime/cpu_backend.hpp"
#include "runtime/tiled_compile.hpp"

namespace qk {
namespace {

namespace fs = std::filesystem;
using test::check_against_reference;

fs::path fresh_cache(const std::string& test) {
  const fs::path dir =
      fs::temp_directory_path() / ("qk_jit_" + test + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "kernels.db";
}

LayerConfig layer(std::int64_t n, std::int64_t k) {
  LayerConfig l;
  l.name = "fc";
  l.n = n;
  l.k = k;
  l.input_dtype = QuantType::fp32;
  l.epilogue.output = QuantType::fp32;
  return l;
}

// "qk_w4a8_cpu_", "qk_wfp8a16_fp8_e5m2_cpu_", "qk_fp16_cpu_": how the layer's kernel names begin.
std::string name_prefix(const LayerConfig& l) {
  const GemmFamily family = *family_of(l.weight_quant, l.activation_quant);
  return "qk_" + std::string(to_string(family)) +
         (family == GemmFamily::wfp8a16 ? "_" + std::string(to_string(l.weight_quant)) : "") +
         "_cpu_";
}

// Compiles each layer into one fresh cache, checks its kernel's name, and checks both buckets
// against the reference (m = 1, 3: the decode tile; 17, 129: the larger one).
void compile_and_check_each(const std::string& test, const std::vector<LayerConfig>& layers,
                            unsigned seed) {
  const fs::path cache = fresh_cache(test);
  for (const LayerConfig& l : layers) {
    auto kernel = jit::compile(l, {.cache = cache});
    ASSERT_TRUE(kernel) << kernel.error().str();
    EXPECT_EQ(kernel->name().rfind(name_prefix(l), 0), 0u) << kernel->name();
    unsigned s = seed;
    for (std::int64_t m : {1, 3, 17, 129}) check_against_reference(*kernel, m, s++);
  }
}

TEST(JitCompile, W8A8MatchesTheReferenceOnAwkwardShapes) {
  compile_and_check_each("shapes",
                         {layer(33, 200), layer(130, 1031), layer(16, 4), layer(1000, 600)}, 1);
}

LayerConfig w4a8_layer(std::int64_t n, std::int64_t k, WeightGranularity g, int block,
                       bool symmetric) {
  LayerConfig l = layer(n, k);
  l.weight_quant = QuantType::int4;
  l.weight_granularity = g;
  l.block_size = block;
  l.weight_symmetric = symmetric;
  return l;
}

TEST(JitCompile, W4A8MatchesTheReferenceOnAwkwardShapes) {
  std::vector<LayerConfig> layers{w4a8_layer(33, 256, WeightGranularity::per_group, 128, true),
                                  w4a8_layer(130, 96, WeightGranularity::per_group, 32, false),
                                  w4a8_layer(40, 200, WeightGranularity::per_channel, 0, false)};
  layers[1].epilogue = {true, Activation::silu, QuantType::bf16};
  layers[2].input_dtype = QuantType::fp16;
  layers[2].activation_scaling = ActivationScaling::static_per_tensor;
  compile_and_check_each("w4a8", layers, 30);
}

LayerConfig weight_only_layer(std::int64_t n, std::int64_t k, QuantType weights, QuantType input,
                              WeightGranularity g, int block, bool symmetric) {
  LayerConfig l = layer(n, k);
  l.weight_quant = weights;
  l.activation_quant = l.input_dtype = input;
  l.activation_scaling = ActivationScaling::none;
  l.weight_granularity = g;
  l.block_size = block;
  l.weight_symmetric = symmetric;
  return l;
}

// docs/numerics.md §6.3 through qk::jit::compile: both buckets of each layer (m = 1, 3 decode;
// 17, 129 the larger tile), fp16 and bf16 activations, every weight granularity, epilogues.
TEST(JitCompile, W8A16MatchesTheReferenceOnAwkwardShapes) {
  std::vector<LayerConfig> layers{weight_only_layer(33, 200, QuantType::int8, QuantType::bf16,
                                                    WeightGranularity::per_channel, 0, true),
                                  weight_only_layer(130, 256, QuantType::int8, QuantType::fp16,
                                                    WeightGranularity::per_group, 128, true),
                                  weight_only_layer(40, 37, QuantType::int8, QuantType::fp16,
                                                    WeightGranularity::per_tensor, 0, true)};
  layers[1].epilogue = {true, Activation::gelu, QuantType::fp16};
  layers[2].epilogue = {true, Activation::relu, QuantType::int8};
  compile_and_check_each("w8a16", layers, 50);
}

TEST(JitCompile, W4A16MatchesTheReferenceOnAwkwardShapes) {
  std::vector<LayerConfig> layers{weight_only_layer(33, 256, QuantType::int4, QuantType::bf16,
                                                    WeightGranularity::per_group, 128, true),
                                  weight_only_layer(130, 96, QuantType::int4, QuantType::fp16,
                                                    WeightGranularity::per_group, 32, false),
                                  weight_only_layer(40, 200, QuantType::int4, QuantType::bf16,
                                                    WeightGranularity::per_channel, 0, false)};
  layers[1].epilogue = {true, Activation::silu, QuantType::bf16};
  layers[2].epilogue = {false, Activation::none, QuantType::fp16};
  compile_and_check_each("w4a16", layers, 70);
}

// WFP8A16 (both fp8 formats) and the float baselines fp16, bf16, fp32 (docs/numerics.md §6.3,
// §6.5) through qk::jit::compile, both buckets of each layer, with epilogues.
TEST(JitCompile, Wfp8a16MatchesTheReferenceOnAwkwardShapes) {
  std::vector<LayerConfig> layers{weight_only_layer(33, 200, QuantType::fp8_e4m3, QuantType::bf16,
                                                    WeightGranularity::per_channel, 0, true),
                                  weight_only_layer(130, 101, QuantType::fp8_e5m2, QuantType::fp16,
                                                    WeightGranularity::per_channel, 0, true),
                                  weight_only_layer(40, 37, QuantType::fp8_e4m3, QuantType::fp16,
                                                    WeightGranularity::per_tensor, 0, true)};
  layers[1].epilogue = {true, Activation::gelu, QuantType::fp16};
  layers[2].epilogue = {true, Activation::relu, QuantType::int8};
  compile_and_check_each("wfp8a16", layers, 90);
}

TEST(JitCompile, FloatBaselinesMatchTheReferenceOnAwkwardShapes) {
  std::vector<LayerConfig> layers;
  for (QuantType t : {QuantType::fp16, QuantType::bf16, QuantType::fp32})
    layers.push_back(weight_only_layer(33, 201, t, t, WeightGranularity::per_channel, 0, true));
  layers.push_back(layers[0]);
  layers.back().n = 130;
  layers.back().k = 64;
  layers.back().epilogue = {true, Activation::silu, QuantType::bf16};
  layers.push_back(layers[2]);
  layers.back().epilogue = {true, Activation::relu, QuantType::int8};
  compile_and_check_each("float", layers, 110);
}

// docs/cpu.md, "Tiles": a call runs the instance of the smallest bucket holding its M; a layer
// compiles only the buckets its m_range reaches, and a call beyond that range still works.
// The defaults depend on the host's level: two tiles on avx512 and avx2, three on amx (docs/cpu.md).
codegen::CpuIsa host_isa() {
  auto backend = runtime::CpuBackend::get("host");
  return backend ? (*backend)->isa() : codegen::CpuIsa::avx512;
}

// AVX-512 VNNI (with or without AMX): the portable avx512 level's code runs here.
bool host_runs_avx512() { return host_isa() != codegen::CpuIsa::avx2; }

TEST(JitCompile, DispatchesByMBucket) {
  const fs::path cache = fresh_cache("buckets");
  auto both = jit::compile(layer(48, 96), {.cache = cache});
  ASSERT_TRUE(both) << both.error().str();
  EXPECT_NE(both->name(1), both->name(512));
  for (std::int64_t m : {1, 4, 5, 8, 9, 16, 17, 512, 4096})
    EXPECT_TRUE(both->name(m).ends_with(
        codegen::canonical_name(codegen::default_cpu_tile(GemmFamily::w8a8, m, host_isa()))))
        << m << ": " << both->name(m);
  EXPECT_EQ(both->name(), both->name(512));

  LayerConfig decode_only = layer(48, 96);
  decode_only.m_max = 4;
  auto decode = jit::compile(decode_only, {.cache = cache});
  ASSERT_TRUE(decode) << decode.error().str();
  for (std::int64_t m : {1, 4}) EXPECT_EQ(decode->name(m), both->name(m)) << m;
  EXPECT_EQ(decode->name(), both->name(4));
  EXPECT_EQ(decode->name(300), both->name(4));
  check_against_reference(*decode, 40, 5);  // beyond its m_range: slower, still right

  LayerConfig prefill_only = layer(48, 96);
  prefill_only.m_min = 64;
  auto prefill = jit::compile(prefill_only, {.cache = cache});
  ASSERT_TRUE(prefill) << prefill.error().str();
  EXPECT_EQ(prefill->name(1), both->name(512));
  check_against_reference(*prefill, 1, 6);
}

TEST(JitCompile, EpiloguesScalingsAndDtypes) {
  const fs::path cache = fresh_cache("epilogues");
  std::vector<LayerConfig> layers(4, layer(48, 160));
  layers[0].input_dtype = QuantType::fp16;
  layers[0].epilogue = {true, Activation::gelu, QuantType::fp16};
  layers[1].input_dtype = QuantType::bf16;
  layers[1].activation_scaling = ActivationScaling::static_per_tensor;
  layers[1].epilogue = {true, Activation::silu, QuantType::bf16};
  layers[2].activation_scaling = ActivationScaling::dynamic_per_tensor;
  layers[2].weight_granularity = WeightGranularity::per_tensor;
  layers[2].epilogue = {true, Activation::relu, QuantType::int8};
  layers[3].epilogue = {false, Activation::gelu_tanh, QuantType::fp32};
  for (const LayerConfig& l : layers) {
    auto kernel = jit::compile(l, {.cache = cache});
    ASSERT_TRUE(kernel) << kernel.error().str();
    check_against_reference(*kernel, 7, 11);
    check_against_reference(*kernel, 64, 12);
  }
}

// Concurrent compile() calls of one spec compile it once; all get a working kernel.
TEST(JitCompile, ConcurrentCompilesOfOneSpecCompileOnce) {
  const fs::path cache = fresh_cache("concurrent");
  LayerConfig l = layer(64, 96);
  l.epilogue.activation = Activation::relu;  // a spec no other test compiles
  const jit::CompileStats before = jit::stats();
  std::vector<std::optional<Expected<Kernel>>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results)
    threads.emplace_back([&r, &l, &cache] { r.emplace(jit::compile(l, {.cache = cache})); });
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    ASSERT_TRUE(*r) << (*r).error().str();
    check_against_reference(**r, 5, 3);
  }
  // The layer's m_range [1, 2048] reaches every default M bucket: one instance per tile.
  const auto instances =
      static_cast<std::int64_t>(codegen::default_cpu_tiles(GemmFamily::w8a8, host_isa()).size());
  const jit::CompileStats after = jit::stats();
  EXPECT_EQ(after.compiles - before.compiles, instances);
  EXPECT_EQ(after.memory_hits - before.memory_hits, 3 * instances);
}

std::string run_probe(const fs::path& cache) {
  const std::string command = std::string(QK_JIT_PROBE) + " " + cache.string() + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  char buffer[512];
  while (pipe && fgets(buffer, sizeof buffer, pipe)) out += buffer;
  if (pipe) pclose(pipe);
  return out;
}

// A second process finds the binary the first stored; a corrupted blob is evicted, recompiled and
// never executed.
TEST(JitCompile, CacheRoundTripAcrossProcessesAndCorruption) {
  const fs::path cache = fresh_cache("processes");
  const std::string first = run_probe(cache);
  EXPECT_NE(first.find("compiles=1 cache_hits=0 evicted=0"), std::string::npos) << first;
  EXPECT_NE(first.find("correct=1"), std::string::npos) << first;
  const std::string second = run_probe(cache);
  EXPECT_NE(second.find("compiles=0 cache_hits=1 evicted=0"), std::string::npos) << second;
  EXPECT_NE(second.find("correct=1"), std::string::npos) << second;

  // Flip bytes in the middle of every stored blob, as a disk or a bad copy would.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(cache.c_str(), &db), SQLITE_OK);
  char* message = nullptr;
  const int rc =
      sqlite3_exec(db,
                   "UPDATE binaries SET blob = substr(blob, 1, length(blob) / 2) || x'DEADBEEF' || "
                   "substr(blob, length(blob) / 2 + 5)",
                   nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(db);

  const std::string third = run_probe(cache);
  EXPECT_NE(third.find("compiles=1 cache_hits=0 evicted=1"), std::string::npos) << third;
  EXPECT_NE(third.find("correct=1"), std::string::npos) << third;
  const std::string fourth = run_probe(cache);
  EXPECT_NE(fourth.find("compiles=0 cache_hits=1 evicted=0"), std::string::npos) << fourth;
}

TEST(JitCompile, BadLayersAndCallsAreClearErrors) {
  const fs::path cache = fresh_cache("errors");
  LayerConfig bad = layer(64, 0);
  auto invalid = jit::compile(bad, {.cache = cache});
  ASSERT_FALSE(invalid);
  EXPECT_EQ(invalid.error().where, "layer.k");

  LayerConfig fp8 = layer(64, 128);  // fp8 x fp8: not implemented on the cpu target
  fp8.weight_quant = fp8.activation_quant = QuantType::fp8_e4m3;
  auto unsupported = jit::compile(fp8, {.cache = cache});
  ASSERT_FALSE(unsupported);
  EXPECT_EQ(unsupported.error().code, Errc::unsupported);

  // No machine of this project has a driver or a GPU: the cuda target says so by name.
  auto cuda = jit::compile(layer(64, 64), {.target = Target::cuda, .cache = cache});
  ASSERT_FALSE(cuda);
  EXPECT_EQ(cuda.error().code, Errc::unsupported);
  EXPECT_NE(cuda.error().str().find("no CUDA device"), std::string::npos) << cuda.error().str();

  // Packed weights belong to their target.
  LayerConfig fp16 = layer(64, 64);
  fp16.input_dtype = fp16.epilogue.output = QuantType::fp16;
  auto on_cpu = jit::compile(fp16, {.cache = cache});
  auto on_emu = jit::compile(fp16, {.target = Target::cuda_emu, .cache = cache});
  ASSERT_TRUE(on_cpu && on_emu) << (on_cpu ? on_emu.error().str() : on_cpu.error().str());
  auto cpu_weights =
      on_cpu->pack(*quant::quantize_weights(test::random_matrix(64, 64, 2), 64, 64,
                                            quant::weight_format_of(fp16)));
  ASSERT_TRUE(cpu_weights);
  std::vector<std::uint16_t> a16(2 * 64), y16(2 * 64);
  auto mixed = (*on_emu)({a16.data(), QuantType::fp16, 2, 64, 64}, *cpu_weights,
                         {y16.data(), QuantType::fp16, 2, 64, 64}, {.activation_scale = 0.1f});
  ASSERT_FALSE(mixed);
  EXPECT_EQ(mixed.error().where, "weights");

  auto kernel = jit::compile(layer(64, 64), {.cache = cache});
  ASSERT_TRUE(kernel) << kernel.error().str();
  const auto w = test::random_matrix(64, 64, 1);
  auto packed =
      kernel->pack(*quant::quantize_weights(w, 64, 64, quant::weight_format_of(kernel->layer())));
  ASSERT_TRUE(packed);
  std::vector<float> a(2 * 64), y(2 * 64);
  auto wrong_dtype = (*kernel)({a.data(), QuantType::fp16, 2, 64, 64}, *packed,
                               {y.data(), QuantType::fp32, 2, 64, 64});
  ASSERT_FALSE(wrong_dtype);
  EXPECT_EQ(wrong_dtype.error().where, "a.dtype");
  auto wrong_shape = (*kernel)({a.data(), QuantType::fp32, 2, 63, 64}, *packed,
                               {y.data(), QuantType::fp32, 2, 64, 64});
  ASSERT_FALSE(wrong_shape);
  EXPECT_EQ(wrong_shape.error().where, "a");
  EXPECT_NE(wrong_shape.error().message.find("k = 64"), std::string::npos);
  auto wrong_out = (*kernel)({a.data(), QuantType::fp32, 2, 64, 64}, *packed,
                             {y.data(), QuantType::fp32, 3, 64, 64});
  ASSERT_FALSE(wrong_out);
  EXPECT_EQ(wrong_out.error().where, "out");

  const auto other_w = test::random_matrix(32, 64, 1);
  auto mismatched = kernel->pack(
      *quant::quantize_weights(other_w, 32, 64, quant::weight_format_of(kernel->layer())));
  ASSERT_FALSE(mismatched);
  EXPECT_EQ(mismatched.error().where, "weights");
}

// docs/cpu.md, "Targets and caches": a portable level compiles code for any AVX-512 VNNI machine
// (its own cache key: the host's binary is not reused), and a level without VNNI is refused.
TEST(JitCompile, PortableCpuLevel) {
  const fs::path cache = fresh_cache("portable");
  LayerConfig l = layer(40, 72);
  l.m_max = 4;
  auto host = jit::compile(l, {.cache = cache});
  ASSERT_TRUE(host) << host.error().str();
  const jit::CompileStats before = jit::stats();
  auto portable = jit::compile(l, {.cache = cache, .cpu_level = "avx512"});
  if (!host_runs_avx512()) {
    // compile() returns kernels to run: code this CPU cannot execute is refused, with the reason.
    ASSERT_FALSE(portable);
    EXPECT_EQ(portable.error().code, Errc::unsupported);
    EXPECT_NE(portable.error().str().find("cannot run on this machine"), std::string::npos)
        << portable.error().str();
  } else {
    ASSERT_TRUE(portable) << portable.error().str();
    EXPECT_EQ(jit::stats().compiles - before.compiles, 1)
        << "a different target is a different binary";
    check_against_reference(*portable, 3, 21);
    // The weight-only kernels need AVX-512F/BW only (no avx512bf16): the portable level runs them.
    auto weight_only = jit::compile(weight_only_layer(40, 64, QuantType::int4, QuantType::bf16,
                                                      WeightGranularity::per_group, 32, false),
                                    {.cache = cache, .cpu_level = "avx512"});
    ASSERT_TRUE(weight_only) << weight_only.error().str();
    check_against_reference(*weight_only, 3, 22);
    check_against_reference(*weight_only, 9, 23);
  }

  // avx2 (x86-64-v3) runs W8A8 (and W4A8) with its own kernels
  // (Avx2LevelRunsW8A8AndW4A8WithoutAvx512) and refuses the families it does not implement yet,
  // naming the family and the level.
  auto avx2 = jit::compile(l, {.cache = cache, .cpu_level = "avx2"});
  ASSERT_TRUE(avx2) << avx2.error().str();
  EXPECT_NE(avx2->name().find("qk_w8a8_cpu_avx2_"), std::string::npos) << avx2->name();
  check_against_reference(*avx2, 3, 24);
  auto avx2_w4a16 = jit::compile(weight_only_layer(40, 64, QuantType::int4, QuantType::bf16,
                                                   WeightGranularity::per_group, 32, false),
                                 {.cache = cache, .cpu_level = "avx2"});
  ASSERT_FALSE(avx2_w4a16);
  EXPECT_EQ(avx2_w4a16.error().code, Errc::unsupported);
  EXPECT_NE(avx2_w4a16.error().str().find("w4a16"), std::string::npos) << avx2_w4a16.error().str();
  EXPECT_NE(avx2_w4a16.error().str().find("avx2"), std::string::npos) << avx2_w4a16.error().str();
  auto unknown = jit::compile(l, {.cache = cache, .cpu_level = "pentium"});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().str().find("avx512"), std::string::npos) << unknown.error().str();
}

// The avx2 level (x86-64-v3) compiles the AVX2 W8A8 and W4A8 kernels: names tagged avx2,
// results as the reference's on awkward shapes and an epilogue, for both tiles of each (M = 1
// and above). Its code uses no AVX-512: the target's features exclude it, and the object code
// stored in the cache names no zmm or mask register (checked with llvm-objdump where installed;
// on an AVX-512 machine running the code alone would not show it).
TEST(JitCompile, Avx2LevelRunsW8A8AndW4A8WithoutAvx512) {
  const fs::path cache = fresh_cache("avx2");
  LayerConfig l = layer(130, 1031);
  l.input_dtype = QuantType::bf16;
  l.epilogue = {true, Activation::gelu, QuantType::fp16};
  l.m_max = 256;
  auto kernel = jit::compile(l, {.cache = cache, .cpu_level = "avx2"});
  ASSERT_TRUE(kernel) << kernel.error().str();
  EXPECT_EQ(kernel->name(1).find("qk_w8a8_cpu_avx2_bf16_tok_bias_gelu_fp16_mr1_nv2_"), 0u)
      << kernel->name(1);
  EXPECT_EQ(kernel->name(129).find("qk_w8a8_cpu_avx2_bf16_tok_bias_gelu_fp16_mr4_nv1_"), 0u)
      << kernel->name(129);
  unsigned seed = 40;
  for (std::int64_t m : {1, 3, 17, 129}) check_against_reference(*kernel, m, seed++);
  LayerConfig plain = layer(33, 200);
  plain.activation_scaling = ActivationScaling::dynamic_per_tensor;
  auto plain_kernel = jit::compile(plain, {.cache = cache, .cpu_level = "avx2"});
  ASSERT_TRUE(plain_kernel) << plain_kernel.error().str();
  for (std::int64_t m : {1, 3, 17, 129}) check_against_reference(*plain_kernel, m, seed++);
  LayerConfig w4 = w4a8_layer(70, 256, WeightGranularity::per_group, 64, false);
  w4.epilogue = {true, Activation::silu, QuantType::bf16};
  auto w4_kernel = jit::compile(w4, {.cache = cache, .cpu_level = "avx2"});
  ASSERT_TRUE(w4_kernel) << w4_kernel.error().str();
  EXPECT_EQ(w4_kernel->name().find("qk_w4a8_cpu_avx2_"), 0u) << w4_kernel->name();
  for (std::int64_t m : {1, 3, 17, 129}) check_against_reference(*w4_kernel, m, seed++);

  auto backend = runtime::CpuBackend::get("avx2");
  ASSERT_TRUE(backend) << backend.error().str();
  EXPECT_EQ((*backend)->isa(), codegen::CpuIsa::avx2);
  EXPECT_TRUE((*backend)->target().has("avx2"));
  EXPECT_TRUE((*backend)->target().has("fma"));
  for (const char* f : {"avx512f", "avx512bw", "avx512vnni", "avxvnni"})
    EXPECT_FALSE((*backend)->target().has(f)) << f;
  // A spec of the other ISA is refused, not compiled for the wrong target.
  auto avx512_spec = codegen::cpu_kernel_spec(l, codegen::default_cpu_tile(GemmFamily::w8a8, 1));
  ASSERT_TRUE(avx512_spec);
  runtime::Supply supply;
  EXPECT_FALSE((*backend)->kernel(*avx512_spec, nullptr, &supply));

  if (test::run_command("command -v llvm-objdump-19 >/dev/null").exit_code != 0)
    GTEST_SKIP() << "llvm-objdump-19 is not installed: the disassembly check is skipped";
  auto opened = cache::KernelCache::open(cache);
  ASSERT_TRUE(opened) << opened.error().str();
  for (const auto& [layer_of_spec, family] :
       {std::pair{l, GemmFamily::w8a8}, std::pair{w4, GemmFamily::w4a8}})
    for (std::int64_t m : {1, 129}) {
      auto spec = codegen::cpu_kernel_spec(
          layer_of_spec, codegen::default_cpu_tile(family, m, codegen::CpuIsa::avx2),
          codegen::CpuIsa::avx2);
      ASSERT_TRUE(spec) << spec.error().str();
      auto found = (*opened)->find_binary((*backend)->binary_key(*spec));
      ASSERT_TRUE(found && *found) << codegen::canonical_name(*spec);
      const fs::path object = cache.parent_path() / (codegen::canonical_name(*spec) + ".o");
      {
        std::FILE* f = std::fopen(object.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        std::fwrite((*found)->blob.data(), 1, (*found)->blob.size(), f);
        std::fclose(f);
      }
      const test::Outcome dis = test::run_command("llvm-objdump-19 -d --no-show-raw-insn " +
                                                  test::shell_quote(object.string()));
      ASSERT_EQ(dis.exit_code, 0) << dis.output;
      EXPECT_NE(dis.output.find("vpmaddubsw"), std::string::npos) << "no AVX2 dot product";
      EXPECT_NE(dis.output.find("ymm"), std::string::npos);
      EXPECT_EQ(dis.output.find("zmm"), std::string::npos) << "AVX-512 register in the avx2 code";
      EXPECT_EQ(dis.output.find("{%k"), std::string::npos) << "AVX-512 mask in the avx2 code";
    }
}

// W8A8 on AMX tiles (docs/cpu.md, "AMX"), through the runtime on the host level: every register
// tile shape, K blocked (several blocks) and not, K with and without a remainder past whole
// 64-byte steps (200, 1031: 8 bytes; 4: no whole step; 256: none), N with odd panel counts and
// partial panels, M filling no, one or several row tiles, and epilogues; against the reference.
// Skipped, not passed, where this machine or Linux gives no AMX.
TEST(JitCompile, AmxW8A8MatchesTheReferenceOnAwkwardShapes) {
  auto backend = runtime::CpuBackend::get("host");
  ASSERT_TRUE(backend) << backend.error().str();
  if ((*backend)->isa() != codegen::CpuIsa::amx)
    GTEST_SKIP() << "no AMX here (" << (*backend)->target().key()
                 << ", or Linux refused the tile state): the AMX kernels are not tested";
  const fs::path cache = fresh_cache("amx");
  std::vector<LayerConfig> layers{layer(33, 200), layer(130, 1031), layer(16, 4), layer(1000, 256)};
  layers[1].epilogue = {true, Activation::gelu, QuantType::bf16};
  layers[1].input_dtype = QuantType::fp16;
  layers[2].epilogue = {true, Activation::relu, QuantType::int8};
  layers[2].activation_scaling = ActivationScaling::static_per_tensor;
  layers[3].activation_scaling = ActivationScaling::dynamic_per_tensor;
  std::vector<codegen::CpuTile> tiles;
  for (const auto& [mr, nv] : {std::pair{16, 1}, {16, 2}, {16, 3}, {32, 1}, {32, 2}, {48, 1}})
    for (int kc : {64, 16384}) tiles.push_back({mr, nv, kc, 2 * mr, 32 * nv, true});
  unsigned seed = 90;
  for (std::size_t i = 0; i < tiles.size(); ++i)
    for (std::size_t j : {i % layers.size(), (i + 1) % layers.size()}) {
      auto kernel = runtime::compile_with_tiles(
          layers[j], {.cache = cache}, {{std::numeric_limits<std::int64_t>::max(), tiles[i]}});
      ASSERT_TRUE(kernel) << kernel.error().str();
      EXPECT_TRUE(kernel->name(1).ends_with(codegen::canonical_name(tiles[i]))) << kernel->name(1);
      for (std::int64_t m : {1, 3, 17, 129, 300}) check_against_reference(*kernel, m, seed++);
    }
}

// On an AMX machine compile() runs AMX tiles from M = 16 up and the VNNI ones for decode; the
// portable avx512 level never has AMX (its caches run on VNNI-only CPUs); the amx level does.
TEST(JitCompile, AmxTilesOnlyOnTheAmxLevel) {
  auto host = runtime::CpuBackend::get("host");
  ASSERT_TRUE(host) << host.error().str();
  auto avx512 = runtime::CpuBackend::get("avx512");
  if (!host_runs_avx512()) {
    ASSERT_FALSE(avx512);
    EXPECT_EQ(avx512.error().code, Errc::unsupported);
    GTEST_SKIP() << "no AVX-512 here: the avx512 and amx levels cannot run";
  }
  ASSERT_TRUE(avx512) << avx512.error().str();
  EXPECT_EQ((*avx512)->isa(), codegen::CpuIsa::avx512);
  EXPECT_FALSE((*avx512)->target().has("amx-tile"));
  LayerConfig l = layer(40, 300);
  l.m_max = 512;
  auto vnni = jit::compile(l, {.cache = fresh_cache("amx_level"), .cpu_level = "avx512"});
  ASSERT_TRUE(vnni) << vnni.error().str();
  EXPECT_FALSE(vnni->name(512).ends_with("_amx")) << vnni->name(512);
  const codegen::CpuTile amx_tile =
      codegen::default_cpu_tile(GemmFamily::w8a8, 512, codegen::CpuIsa::amx);
  ASSERT_TRUE(amx_tile.amx);
  auto amx_spec = codegen::cpu_kernel_spec(l, amx_tile, codegen::CpuIsa::amx);
  ASSERT_TRUE(amx_spec) << amx_spec.error().str();
  runtime::Supply supply;
  EXPECT_FALSE((*avx512)->kernel(*amx_spec, nullptr, &supply)) << "AMX tile on the avx512 level";

  if ((*host)->isa() != codegen::CpuIsa::amx)
    GTEST_SKIP() << "no AMX here: the host level's AMX defaults are not tested";
  auto kernel = jit::compile(l, {.cache = fresh_cache("amx_host")});
  ASSERT_TRUE(kernel) << kernel.error().str();
  EXPECT_FALSE(kernel->name(8).ends_with("_amx")) << kernel->name(8);
  EXPECT_TRUE(kernel->name(16).ends_with("_amx")) << kernel->name(16);
  EXPECT_TRUE(kernel->name(512).ends_with("_amx")) << kernel->name(512);
  auto level = jit::compile(l, {.cache = fresh_cache("amx_level"), .cpu_level = "amx"});
  ASSERT_TRUE(level) << level.error().str();
  EXPECT_TRUE(level->name(512).ends_with("_amx")) << level->name(512);
  check_against_reference(*level, 200, 77);
}

TEST(JitCompile, UnusableCacheFileIsAClearError) {
  const fs::path dir = fresh_cache("unusable").parent_path();
  const fs::path not_a_db = dir / "garbage.db";
  {
    std::FILE* f = std::fopen(not_a_db.c_str(), "w");
    std::fputs("this is not a database", f);
    std::fclose(f);
  }
  auto kernel = jit::compile(layer(16, 16), {.cache = not_a_db});
  ASSERT_FALSE(kernel);
  EXPECT_EQ(kernel.error().code, Errc::io_error);
  EXPECT_NE(kernel.error().str().find("garbage.db"), std::string::npos) << kernel.error().str();
  // The user's file is left alone.
  EXPECT_EQ(fs::file_size(not_a_db), std::string("this is not a database").size());
}

// docs/tuning.md, "At run time": a winner recorded for this device replaces its bucket's default
// tile; a damaged or stale record, or use_tuned = false, leaves the default.
TEST(JitCompile, UsesTheTunedTileRecordedForABucket) {
  const fs::path cache_file = fresh_cache("tuned");
  LayerConfig l = layer(100, 72);
  l.m_max = 16;
  auto backend = runtime::CpuBackend::get("host");
  ASSERT_TRUE(backend) << backend.error().str();
  const runtime::TuningKeys keys = runtime::tuning_keys(l, **backend, runtime::call_threads({}));
  // Valid on every level (2 x 1 vectors fit AVX2's 16 registers too) and no level's default.
  const std::string tuned_tile = "mr2_nv1_kc64_mc96_nc480";
  {
    auto cache = cache::KernelCache::open(cache_file);
    ASSERT_TRUE(cache);
    ASSERT_TRUE((*cache)->store_workload({keys.workload_hash, "{}", l.n, l.k}));
    ASSERT_TRUE((*cache)->store_winner({keys.workload_hash, 16, keys.device_fingerprint,
                                        keys.template_revision, tuned_tile, 100.0, 1.0, "default",
                                        200.0, 0}));
    // A winner of another template revision for bucket 8 must not be used.
    ASSERT_TRUE((*cache)->store_winner({keys.workload_hash, 8, keys.device_fingerprint, "stale",
                                        tuned_tile, 100.0, 1.0, "default", 200.0, 0}));
  }
  auto kernel = jit::compile(l, {.cache = cache_file});
  ASSERT_TRUE(kernel) << kernel.error().str();
  EXPECT_TRUE(kernel->name(16).ends_with(tuned_tile)) << kernel->name(16);
  EXPECT_TRUE(kernel->name(9).ends_with(tuned_tile)) << kernel->name(9);
  EXPECT_FALSE(kernel->name(8).ends_with(tuned_tile)) << kernel->name(8);
  EXPECT_FALSE(kernel->name(1).ends_with(tuned_tile)) << kernel->name(1);
  check_against_reference(*kernel, 13, 31);
  check_against_reference(*kernel, 3, 32);

  auto untuned = jit::compile(l, {.cache = cache_file, .use_tuned = false});
  ASSERT_TRUE(untuned) << untuned.error().str();
  EXPECT_FALSE(untuned->name(16).ends_with(tuned_tile)) << untuned->name(16);
}

}  // namespace
}  // namespace qk
