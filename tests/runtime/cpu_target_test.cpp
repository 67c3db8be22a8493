// CpuTarget: the CPU that `cpu`-target code is generated for, and its canonical key.
#include "runtime/cpu_target.hpp"

#include <algorithm>
#include <cstdio>
#include <random>

#include <gtest/gtest.h>

#include "runtime/clang_compiler.hpp"
#include "runtime/jit_loader.hpp"

namespace qk::runtime {
namespace {

TEST(RuntimeCpuTarget, HostHasCpuAndSortedSignedFeatures) {
  const CpuTarget host = CpuTarget::host();
  std::printf("host: %s\n", host.key().c_str());
  EXPECT_FALSE(host.cpu.empty());
  ASSERT_FALSE(host.features.empty());
  EXPECT_TRUE(std::is_sorted(host.features.begin(), host.features.end()));
  for (const std::string& f : host.features) {
    ASSERT_GE(f.size(), 2u) << f;
    EXPECT_TRUE(f[0] == '+' || f[0] == '-') << f;
  }
  // Every x86-64 machine has SSE2; the host detection reports it.
  EXPECT_TRUE(host.has("sse2"));
  EXPECT_TRUE(host.has("+sse2"));
  EXPECT_TRUE(runs_on_host(host));
  EXPECT_EQ(CpuTarget::host(), host);
}

TEST(RuntimeCpuTarget, KeyIsCanonical) {
  const CpuTarget host = CpuTarget::host();
  EXPECT_EQ(host.key(), CpuTarget::host().key());
  EXPECT_EQ(host.key().rfind("cpu=" + host.cpu + ";", 0), 0u) << host.key();

  CpuTarget shuffled = host;
  std::mt19937 rng(7);
  std::shuffle(shuffled.features.begin(), shuffled.features.end(), rng);
  shuffled.features.push_back(shuffled.features.front());  // a duplicate changes nothing
  EXPECT_EQ(shuffled.key(), host.key());

  const CpuTarget small{"x86-64-v3", {"+fma", "+avx2"}};
  EXPECT_EQ(small.key(), "cpu=x86-64-v3;+avx2,+fma");
  CpuTarget other = small;
  other.cpu = "x86-64-v4";
  EXPECT_NE(other.key(), small.key());
  other = small;
  other.features.push_back("+avx512vnni");
  EXPECT_NE(other.key(), small.key());
}

TEST(RuntimeCpuTarget, PortableLevels) {
  auto avx512 = CpuTarget::portable("avx512");
  ASSERT_TRUE(avx512) << avx512.error().str();
  EXPECT_EQ(avx512->cpu, "x86-64-v4");
  for (const char* f : {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512vnni",
                        "avx2", "fma", "sse4.2"})
    EXPECT_TRUE(avx512->has(f)) << f;
  EXPECT_FALSE(avx512->has("avx512bf16"));
  EXPECT_FALSE(avx512->has("avx512fp16"));
  EXPECT_TRUE(std::is_sorted(avx512->features.begin(), avx512->features.end()));

  auto avx2 = CpuTarget::portable("avx2");
  ASSERT_TRUE(avx2) << avx2.error().str();
  EXPECT_EQ(avx2->cpu, "x86-64-v3");
  for (const char* f : {"avx2", "fma", "bmi2", "f16c", "avx"}) EXPECT_TRUE(avx2->has(f)) << f;
  EXPECT_FALSE(avx2->has("avx512f"));
  EXPECT_FALSE(avx2->has("avxvnni"));
  EXPECT_NE(avx2->key(), avx512->key());

  auto nope = CpuTarget::portable("nope");
  ASSERT_FALSE(nope);
  EXPECT_EQ(nope.error().code, Errc::invalid_argument);
  EXPECT_NE(nope.error().message.find("nope"), std::string::npos);
  EXPECT_NE(nope.error().message.find("avx512"), std::string::npos);
  EXPECT_NE(nope.error().message.find("avx2"), std::string::npos);
}

TEST(RuntimeCpuTarget, HasFollowsTheCpuNameUnlessDisabled) {
  const CpuTarget implied{"x86-64-v3", {}};
  EXPECT_TRUE(implied.has("avx2"));
  EXPECT_FALSE(implied.has("avx512f"));
  const CpuTarget disabled{"x86-64-v3", {"-avx2"}};
  EXPECT_FALSE(disabled.has("avx2"));
  const CpuTarget added{"x86-64", {"+avx512vnni"}};
  EXPECT_TRUE(added.has("avx512vnni"));
  EXPECT_FALSE(added.has("avx2"));
}

TEST(RuntimeCpuTarget, RunsOnHost) {
  const CpuTarget host = CpuTarget::host();
  EXPECT_TRUE(runs_on_host(CpuTarget{"x86-64", {}}));
  EXPECT_FALSE(runs_on_host(CpuTarget{"no-such-cpu", {}}));
  auto avx2 = CpuTarget::portable("avx2");
  auto avx512 = CpuTarget::portable("avx512");
  ASSERT_TRUE(avx2 && avx512);
  EXPECT_EQ(runs_on_host(*avx2), host.has("avx2") && host.has("fma") && host.has("bmi2"));
  EXPECT_EQ(runs_on_host(*avx512), host.has("avx512bw") && host.has("avx512vnni"));
  // A feature the host lacks, whether listed or implied by the CPU name, rules it out.
  for (const char* f : {"amx-tile", "avx512fp16", "avx512vnni", "avxvnni", "avx512f"}) {
    const bool host_has = host.has(f);
    EXPECT_EQ(runs_on_host(CpuTarget{"x86-64", {std::string("+") + f}}), host_has) << f;
  }
  if (!host.has("amx-tile")) {
    EXPECT_FALSE(runs_on_host(CpuTarget{"sapphirerapids", {}}));
  }
}

// Code for each portable level compiles (whatever this machine is) and, where the level runs
// here, loads and runs.
TEST(RuntimeCpuTarget, PortableLevelsProduceObjects) {
  auto loader = JitLoader::create();
  ASSERT_TRUE(loader) << loader.error().str();
  const char* source = R"(
#include <immintrin.h>
extern "C" int qk_sum8(const int* x) {
#ifdef __AVX512F__
  return _mm512_mask_reduce_add_epi32(0xff, _mm512_maskz_loadu_epi32(0xff, x));
#else
  __m256i v = _mm256_loadu_si256((const __m256i*)x);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_hadd_epi32(s, s);
  s = _mm_hadd_epi32(s, s);
  return _mm_cvtsi128_si32(s);
#endif
}
)";
  for (const char* level : {"avx512", "avx2"}) {
    auto target = CpuTarget::portable(level);
    ASSERT_TRUE(target);
    auto compiler = ClangCompiler::create({.target = *target});
    ASSERT_TRUE(compiler) << compiler.error().str();
    auto object = (*compiler)->compile(source, std::string("qk_sum8_") + level);
    ASSERT_TRUE(object) << object.error().str();
    EXPECT_GT(object->bytes.size(), 64u);
    EXPECT_EQ(object->bytes[0], 0x7f);  // ELF magic
    EXPECT_EQ(object->bytes[1], 'E');
    if (!runs_on_host(*target)) continue;
    auto module = (*loader)->load(object->bytes, level);
    ASSERT_TRUE(module) << module.error().str();
    auto sum8 = module->function<int (*)(const int*)>("qk_sum8");
    ASSERT_TRUE(sum8) << sum8.error().str();
    const int x[8] = {1, -2, 30, 400, 5000, -60000, 7, 8};
    EXPECT_EQ((*sum8)(x), 1 - 2 + 30 + 400 + 5000 - 60000 + 7 + 8) << level;
  }
}

}  // namespace
}  // namespace qk::runtime
