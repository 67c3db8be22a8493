// The cuda target's kernel supply: a cubin compiled once, then found in the cache with its
// attributes (lowered name, ptxas resources); the attributes' stored text; a record whose
// attributes do not parse is recompiled. One NVRTC compile of the smallest tile (~0.5 s).
#include "runtime/cuda_backend.hpp"

#include <gtest/gtest.h>

#include "../common/temp_dir.hpp"
#include "codegen/render_cuda.hpp"
#include "templates/embedded.hpp"

namespace qk::runtime {
namespace {

CubinAttributes sample_attributes() {
  CubinAttributes a;
  a.lowered_name = "_ZN2qk4cuda9w8a8_gemmIN6qk_gen1XEEEv15QkCudaGemmArgs";
  a.threads = 128;
  a.dynamic_smem_bytes = 48640;
  a.resources = {.registers = 125,
                 .stack_bytes = 0,
                 .spill_store_bytes = 4,
                 .spill_load_bytes = 8,
                 .static_smem_bytes = 16,
                 .barriers = 1};
  return a;
}

TEST(CubinAttributes, FormatIsEveryFieldInOrderAndParsesBack) {
  const CubinAttributes a = sample_attributes();
  EXPECT_EQ(format_cubin_attributes(a),
            "lowered=_ZN2qk4cuda9w8a8_gemmIN6qk_gen1XEEEv15QkCudaGemmArgs;threads=128;"
            "dynamic_smem=48640;registers=125;stack=0;spill_stores=4;spill_loads=8;"
            "static_smem=16;barriers=1");
  auto parsed = parse_cubin_attributes(format_cubin_attributes(a));
  ASSERT_TRUE(parsed) << parsed.error().str();
  EXPECT_EQ(*parsed, a);
}

TEST(CubinAttributes, AProducerAddsItsFieldsAllOrNone) {
  CubinAttributes a = sample_attributes();
  a.producer_lowered_name = "_ZN2qk4cuda13quantize_rowsIN6qk_gen1XEEEv18QkCudaQuantizeArgs";
  a.producer_resources.registers = 31;
  a.producer_resources.spill_load_bytes = 2;
  const std::string text = format_cubin_attributes(a);
  EXPECT_TRUE(text.ends_with(";barriers=1;producer=" + a.producer_lowered_name +
                             ";producer_registers=31;producer_spill_stores=0;"
                             "producer_spill_loads=2"))
      << text;
  auto parsed = parse_cubin_attributes(text);
  ASSERT_TRUE(parsed) << parsed.error().str();
  EXPECT_EQ(*parsed, a);
  EXPECT_FALSE(*parsed == sample_attributes());
  auto partial = parse_cubin_attributes(text.substr(0, text.find(";producer_spill_loads")));
  ASSERT_FALSE(partial);
  EXPECT_NE(partial.error().message.find("has 12 of its 13 fields"), std::string::npos)
      << partial.error().str();
}

TEST(CubinAttributes, DamagedTextIsAParseErrorNamingTheField) {
  const std::string good = format_cubin_attributes(sample_attributes());
  struct Case {
    std::string text;
    const char* says;
  };
  const Case cases[] = {
      {"", "has 0 of its 9 fields"},
      {good + ";color=red", "unknown field 'color'"},
      {good + ";threads=64", "field 'threads' appears twice"},
      {good.substr(0, good.find(";barriers")), "has 8 of its 9 fields"},
      {std::string(good).replace(good.find("registers=125"), 13, "registers=12x"),
       "registers is '12x'"},
      {std::string(good).replace(good.find("stack=0"), 7, "stack=-1"), "stack is '-1'"},
      {good + ";oops", "'oops' is not field=value"},
  };
  for (const Case& c : cases) {
    auto parsed = parse_cubin_attributes(c.text);
    ASSERT_FALSE(parsed) << c.text;
    EXPECT_EQ(parsed.error().code, Errc::parse_error);
    EXPECT_NE(parsed.error().message.find(c.says), std::string::npos) << parsed.error().str();
  }
}

codegen::CudaKernelSpec small_spec() {
  LayerConfig layer;
  layer.n = 256;
  layer.k = 256;
  layer.activation_scaling = ActivationScaling::static_per_tensor;
  const codegen::CudaTile tile{
      .block_m = 64, .block_n = 64, .block_k = 64, .warps_m = 2, .warps_n = 2, .stages = 3};
  return *codegen::cuda_kernel_spec(layer, tile, codegen::CudaArch::sm_86);
}

TEST(CudaBackend, TheKeyNamesTheKernelArchCompilerAndCudaTemplates) {
  auto backend = CudaBackend::create();
  ASSERT_TRUE(backend) << backend.error().str();
  const auto key = (*backend)->binary_key(small_spec());
  EXPECT_EQ(key.kernel, codegen::canonical_name(small_spec()));
  EXPECT_EQ(key.spec_hash, codegen::spec_hash(small_spec()));
  EXPECT_EQ(key.template_revision, templates::revision("cuda"));
  EXPECT_NE(key.template_revision, templates::revision("cpu"));
  EXPECT_EQ(key.target, "sm_86");
  EXPECT_EQ(key.compiler, (*backend)->compiler().version());
  EXPECT_EQ(key.flags, (*backend)->compiler().flags_key());
}

TEST(CudaBackend, CompilesOnceThenServesFromTheCacheAndRecompilesBadAttributes) {
  test::TempDir dir;
  auto cache = cache::KernelCache::open(dir.path() / "kernels.db");
  ASSERT_TRUE(cache) << cache.error().str();
  auto backend = CudaBackend::create();
  ASSERT_TRUE(backend) << backend.error().str();

  auto first = (*backend)->cubin(small_spec(), cache->get());
  ASSERT_TRUE(first) << first.error().str();
  EXPECT_FALSE(first->from_cache);
  EXPECT_EQ((*cache)->stats().stores, 1);
  EXPECT_FALSE(first->cubin.empty());
  EXPECT_EQ(first->attributes.threads, 128);
  EXPECT_EQ(first->attributes.dynamic_smem_bytes, codegen::render_cuda(small_spec()).smem_bytes);
  EXPECT_GT(first->attributes.resources.registers, 0);
  EXPECT_NE(first->attributes.lowered_name.find("4gemm"), std::string::npos)  // qk::cuda::gemm<…>
      << first->attributes.lowered_name;

  auto second = (*backend)->cubin(small_spec(), cache->get());
  ASSERT_TRUE(second) << second.error().str();
  EXPECT_TRUE(second->from_cache);
  EXPECT_EQ((*cache)->stats().stores, 1) << "nothing compiled the second time";
  EXPECT_EQ(second->cubin, first->cubin);
  EXPECT_EQ(second->attributes, first->attributes);

  // Attributes that do not parse (written by a buggy producer, with a valid checksum): the
  // cubin cannot be launched without its lowered name, so it is compiled and stored again.
  const auto key = (*backend)->binary_key(small_spec());
  ASSERT_TRUE((*cache)->store_binary(key, first->cubin, 1.0, "lowered=x"));
  auto third = (*backend)->cubin(small_spec(), cache->get());
  ASSERT_TRUE(third) << third.error().str();
  EXPECT_FALSE(third->from_cache);
  auto stored = (*cache)->find_binary(key);
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->attributes, format_cubin_attributes(first->attributes));
}

}  // namespace
}  // namespace qk::runtime
