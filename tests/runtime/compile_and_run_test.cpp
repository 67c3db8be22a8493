// ClangCompiler + JitLoader together: AVX-512 VNNI code compiled in process, loaded and run
// against plain loops; memory stays flat over many compiles; compile and load times printed.
#include <unistd.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

#include "runtime/clang_compiler.hpp"
#include "runtime/jit_loader.hpp"

namespace qk::runtime {
namespace {

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

constexpr const char* kDotSource = R"(
#include <immintrin.h>
#include <stdint.h>
// sum over i of a[i] * b[i], u8 × s8 → s32: VNNI's vpdpbusd does 4 of them per 32-bit lane.
extern "C" int32_t qk_dot_u8s8(const uint8_t* a, const int8_t* b, int64_t n) {
  __m512i acc = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    acc = _mm512_dpbusd_epi32(acc, _mm512_loadu_si512(a + i), _mm512_loadu_si512(b + i));
  if (i < n) {  // the tail, masked: zeros contribute nothing
    const __mmask64 mask = (~0ull) >> (64 - (n - i));
    acc = _mm512_dpbusd_epi32(acc, _mm512_maskz_loadu_epi8(mask, a + i),
                              _mm512_maskz_loadu_epi8(mask, b + i));
  }
  return _mm512_reduce_add_epi32(acc);
}
)";

TEST(RuntimeCompileAndRun, VnniDotProductMatchesPlainLoop) {
  const CpuTarget host = CpuTarget::host();
  if (!host.has("avx512vnni") || !host.has("avx512bw"))
    GTEST_SKIP() << "the host has no AVX-512 VNNI";
  auto compiler = ClangCompiler::create({.target = host});
  ASSERT_TRUE(compiler) << compiler.error().str();
  auto object = (*compiler)->compile(kDotSource, "qk_dot_u8s8");
  ASSERT_TRUE(object) << object.error().str();
  auto loader = JitLoader::create();
  ASSERT_TRUE(loader) << loader.error().str();
  auto module = (*loader)->load(object->bytes, "qk_dot_u8s8");
  ASSERT_TRUE(module) << module.error().str();
  auto dot =
      module->function<std::int32_t (*)(const std::uint8_t*, const std::int8_t*, std::int64_t)>(
          "qk_dot_u8s8");
  ASSERT_TRUE(dot) << dot.error().str();

  std::mt19937 rng(42);
  for (std::int64_t n : {0, 1, 3, 63, 64, 65, 127, 128, 1000, 4099}) {
    std::vector<std::uint8_t> a(n);
    std::vector<std::int8_t> b(n);
    for (std::int64_t i = 0; i < n; ++i) {
      a[i] = static_cast<std::uint8_t>(rng());
      b[i] = static_cast<std::int8_t>(rng());
    }
    if (n > 2) a[0] = 255, b[0] = -128, a[1] = 255, b[1] = 127;  // the extremes
    std::int32_t expected = 0;
    for (std::int64_t i = 0; i < n; ++i) expected += std::int32_t(a[i]) * std::int32_t(b[i]);
    EXPECT_EQ((*dot)(a.data(), b.data(), n), expected) << "n = " << n;
  }
}

// clang's -disable-free (which the driver asks for) would keep every compile's AST and LLVM
// module: about 1.2 MiB per compile of this source, 60 MiB over the loop; measured 0 without.
TEST(RuntimeCompileAndRun, RepeatedCompilesDoNotGrowMemory) {
  auto target = CpuTarget::portable("avx512");  // compiled only, so any host will do
  ASSERT_TRUE(target);
  auto compiler = ClangCompiler::create(
      {.target = *target, .pch_prelude = "#include <immintrin.h>\n#include <stdint.h>\n"});
  ASSERT_TRUE(compiler) << compiler.error().str();
  const std::string source = kDotSource;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE((*compiler)->compile(source, "qk_warm"));
  const std::size_t before = rss_bytes();
  constexpr int kRounds = 50;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    auto object = (*compiler)->compile(source, "qk_dot_u8s8");
    ASSERT_TRUE(object) << object.error().str();
  }
  const double ms = ms_since(start);
  const double growth_mib = (double(rss_bytes()) - double(before)) / (1 << 20);
  std::printf("%d compiles: %.1f ms each; RSS growth %.1f MiB\n", kRounds, ms / kRounds,
              growth_mib);
  EXPECT_LT(growth_mib, 24.0);
}

// A realistic kernel template (~200 lines): an int8 GEMM with VNNI, a register tile chosen by a
// config struct, masked tails and a dequantizing epilogue. Served as a virtual header.
constexpr const char* kGemmHeader = R"(#pragma once
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

namespace qk_test {

enum class Activation { none, relu };

/// One GEMM configuration: the register tile and the epilogue.
template <int TILE_M_, int TILE_NV_, Activation ACT_, bool BIAS_>
struct GemmConfig {
  static constexpr int TILE_M = TILE_M_;    // rows of A per register tile
  static constexpr int TILE_NV = TILE_NV_;  // 16-column vectors of B per register tile
  static constexpr Activation ACT = ACT_;   // applied after the dequantizing multiply
  static constexpr bool BIAS = BIAS_;       // adds bias[n] (float) before the activation
  static_assert(TILE_M >= 1 && TILE_NV >= 1, "a tile has at least one row and one vector");
  static_assert(TILE_M * TILE_NV + TILE_NV + 1 <= 32,
                "the accumulators, the B vectors and one A broadcast must fit 32 zmm registers");
};

/// Lanes of a 16-column vector that lie inside [0, n): all of them but at the right edge.
inline __mmask16 column_mask(int64_t j, int64_t n) {
  const int64_t left = n - j;
  if (left >= 16) return 0xffff;
  if (left <= 0) return 0;
  return static_cast<__mmask16>((1u << left) - 1);
}

/// 4 consecutive u8 of A, as one 32-bit lane value for vpdpbusd.
inline int32_t load_a4(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, 4);  // unaligned, without breaking aliasing rules
  return v;
}

template <class Cfg>
struct Epilogue {
  // c = act(float(acc) * a_scale * b_scale + bias), in that order (the numerics contract's).
  static inline __m512 apply(__m512i acc, __m512 a_scale, __m512 b_scale, __m512 bias) {
    __m512 c = _mm512_mul_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(acc), a_scale), b_scale);
    if constexpr (Cfg::BIAS) c = _mm512_add_ps(c, bias);
    if constexpr (Cfg::ACT == Activation::relu) c = _mm512_max_ps(c, _mm512_setzero_ps());
    return c;
  }
};

/// C[M, N] (float) = dequant(A[M, K] (u8, row-major) × B (s8, packed [K/4][N][4])).
/// @pre k % 4 == 0 (pad K with zeros: they add nothing)
template <class Cfg>
struct Gemm {
  struct Args {
    int64_t m, n, k;
    const uint8_t* a;        // [M, K] row-major, u8 (offset-128 codes of an s8 activation)
    const int8_t* b;         // [K/4, N, 4], s8: VNNI's layout, 4 k-values per 32-bit lane
    const float* a_scale;    // [M] per-row scale of A
    const float* b_scale;    // [N] per-column scale of B
    const float* bias;       // [N] or null when !Cfg::BIAS
    float* c;                // [M, N] row-major
  };

  static void run(const Args& args) {
    constexpr int64_t kTileN = 16 * Cfg::TILE_NV;
    for (int64_t i0 = 0; i0 < args.m; i0 += Cfg::TILE_M) {
      const int rows = static_cast<int>(args.m - i0 < Cfg::TILE_M ? args.m - i0 : Cfg::TILE_M);
      for (int64_t j0 = 0; j0 < args.n; j0 += kTileN) {
        if (rows == Cfg::TILE_M)
          tile<Cfg::TILE_M>(args, i0, j0);
        else
          ragged_tile(args, i0, j0, rows);
      }
    }
  }

 private:
  /// The bottom edge: fewer rows than the tile, one instantiation per count.
  static void ragged_tile(const Args& args, int64_t i0, int64_t j0, int rows) {
    dispatch_rows<1>(args, i0, j0, rows);
  }
  template <int R>
  static void dispatch_rows(const Args& args, int64_t i0, int64_t j0, int rows) {
    if constexpr (R < Cfg::TILE_M) {
      if (rows == R) return tile<R>(args, i0, j0);
      dispatch_rows<R + 1>(args, i0, j0, rows);
    }
  }

  /// One ROWS × (16·TILE_NV) tile of C, accumulated in registers over all of K.
  template <int ROWS>
  static void tile(const Args& args, int64_t i0, int64_t j0) {
    __mmask16 mask[Cfg::TILE_NV];
    for (int v = 0; v < Cfg::TILE_NV; ++v) mask[v] = column_mask(j0 + 16 * v, args.n);
    __m512i acc[ROWS][Cfg::TILE_NV];
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < Cfg::TILE_NV; ++v) acc[r][v] = _mm512_setzero_si512();

    for (int64_t kk = 0; kk < args.k; kk += 4) {
      __m512i bv[Cfg::TILE_NV];
      const int8_t* brow = args.b + (kk / 4) * args.n * 4;
      for (int v = 0; v < Cfg::TILE_NV; ++v)
        bv[v] = _mm512_maskz_loadu_epi32(mask[v], brow + (j0 + 16 * v) * 4);
      for (int r = 0; r < ROWS; ++r) {
        const __m512i av = _mm512_set1_epi32(load_a4(args.a + (i0 + r) * args.k + kk));
        for (int v = 0; v < Cfg::TILE_NV; ++v) acc[r][v] = _mm512_dpbusd_epi32(acc[r][v], av, bv[v]);
      }
    }

    for (int v = 0; v < Cfg::TILE_NV; ++v) {
      const int64_t j = j0 + 16 * v;
      if (!mask[v]) continue;
      const __m512 bs = _mm512_maskz_loadu_ps(mask[v], args.b_scale + j);
      __m512 bias = _mm512_setzero_ps();
      if constexpr (Cfg::BIAS) bias = _mm512_maskz_loadu_ps(mask[v], args.bias + j);
      for (int r = 0; r < ROWS; ++r) {
        const __m512 as = _mm512_set1_ps(args.a_scale[i0 + r]);
        const __m512 c = Epilogue<Cfg>::apply(acc[r][v], as, bs, bias);
        _mm512_mask_storeu_ps(args.c + (i0 + r) * args.n + j, mask[v], c);
      }
    }
  }
};

/// Column sums of B, for turning the u8 offset-128 product back into the s8 one:
/// sum(a_s8 · b) = sum(a_u8 · b) − 128 · sum(b). Kept here so that the header has several
/// templates to parse, as the real ones do.
template <class Cfg>
inline void column_sums(const int8_t* b, int64_t n, int64_t k, int32_t* sums) {
  for (int64_t j = 0; j < n; ++j) sums[j] = 0;
  for (int64_t kk = 0; kk < k; kk += 4)
    for (int64_t j = 0; j < n; ++j)
      for (int t = 0; t < 4; ++t) sums[j] += b[(kk / 4) * n * 4 + j * 4 + t];
}

}  // namespace qk_test
)";

constexpr const char* kGemmInstance = R"(#include "cpu/qk_test_gemm.hpp"
using Cfg = qk_test::GemmConfig<4, 2, qk_test::Activation::relu, true>;
extern "C" void qk_test_gemm(int64_t m, int64_t n, int64_t k, const uint8_t* a, const int8_t* b,
                             const float* a_scale, const float* b_scale, const float* bias,
                             float* c) {
  qk_test::Gemm<Cfg>::run({m, n, k, a, b, a_scale, b_scale, bias, c});
}
)";

using GemmFn = void (*)(std::int64_t, std::int64_t, std::int64_t, const std::uint8_t*,
                        const std::int8_t*, const float*, const float*, const float*, float*);

/// The same GEMM as plain loops (the same order of float operations: exact equality expected).
std::vector<float> reference_gemm(std::int64_t m, std::int64_t n, std::int64_t k,
                                  const std::vector<std::uint8_t>& a,
                                  const std::vector<std::int8_t>& b_rowmajor,
                                  const std::vector<float>& a_scale,
                                  const std::vector<float>& b_scale,
                                  const std::vector<float>& bias) {
  std::vector<float> c(m * n);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      std::int32_t acc = 0;
      for (std::int64_t kk = 0; kk < k; ++kk)
        acc += std::int32_t(a[i * k + kk]) * std::int32_t(b_rowmajor[kk * n + j]);
      float v = static_cast<float>(acc) * a_scale[i] * b_scale[j] + bias[j];
      c[i * n + j] = std::max(v, 0.0f);
    }
  return c;
}

TEST(RuntimeCompileAndRun, TemplatedVnniGemmWithAndWithoutPch) {
  const CpuTarget host = CpuTarget::host();
  if (!host.has("avx512vnni") || !host.has("avx512bw"))
    GTEST_SKIP() << "the host has no AVX-512 VNNI";
  const std::vector<VirtualHeader> headers = {{"/qk/templates/cpu/qk_test_gemm.hpp", kGemmHeader}};
  const std::string prelude =
      "#include <immintrin.h>\n#include <stdint.h>\n#include \"cpu/qk_test_gemm.hpp\"\n";

  auto t0 = std::chrono::steady_clock::now();
  auto with_pch = ClangCompiler::create({.target = host,
                                         .headers = headers,
                                         .include_dirs = {"/qk/templates"},
                                         .pch_prelude = prelude});
  const double pch_build_ms = ms_since(t0);
  ASSERT_TRUE(with_pch) << with_pch.error().str();
  auto without_pch = ClangCompiler::create(
      {.target = host, .headers = headers, .include_dirs = {"/qk/templates"}});
  ASSERT_TRUE(without_pch) << without_pch.error().str();

  // Without, then with: the first compile of the process pays one-time costs (the system
  // headers' first reads) and goes to the side it disadvantages.
  auto plain = (*without_pch)->compile(kGemmInstance, "qk_test_gemm");
  ASSERT_TRUE(plain) << plain.error().str();
  auto pch = (*with_pch)->compile(kGemmInstance, "qk_test_gemm");
  ASSERT_TRUE(pch) << pch.error().str();
  double plain_again = 1e30, pch_again = 1e30;
  for (int i = 0; i < 3; ++i) {
    plain_again = std::min(plain_again, (*without_pch)->compile(kGemmInstance, "g")->compile_ms);
    pch_again = std::min(pch_again, (*with_pch)->compile(kGemmInstance, "g")->compile_ms);
  }

  t0 = std::chrono::steady_clock::now();
  auto loader = JitLoader::create();
  const double jit_create_ms = ms_since(t0);
  ASSERT_TRUE(loader) << loader.error().str();
  t0 = std::chrono::steady_clock::now();
  auto module = (*loader)->load(pch->bytes, "qk_test_gemm");
  const double load_ms = ms_since(t0);
  ASSERT_TRUE(module) << module.error().str();
  auto plain_module = (*loader)->load(plain->bytes, "qk_test_gemm");
  ASSERT_TRUE(plain_module) << plain_module.error().str();
  std::printf(
      "templated VNNI GEMM at -O3: PCH build %.1f ms; compile %.1f ms without PCH, %.1f ms with "
      "(best of 3 more: %.1f / %.1f); object %zu bytes; JitLoader::create %.2f ms, load %.2f ms\n",
      pch_build_ms, plain->compile_ms, pch->compile_ms, plain_again, pch_again, pch->bytes.size(),
      jit_create_ms, load_ms);

  std::mt19937 rng(3);
  for (auto [m, n, k] : {std::array<std::int64_t, 3>{1, 16, 4},
                         {3, 33, 64},
                         {4, 32, 128},
                         {7, 70, 260},
                         {13, 5, 8},
                         {64, 96, 512}}) {
    std::vector<std::uint8_t> a(m * k);
    std::vector<std::int8_t> b(k * n), packed(k * n);
    std::vector<float> a_scale(m), b_scale(n), bias(n), c(m * n, -1.0f);
    for (auto& x : a) x = static_cast<std::uint8_t>(rng());
    for (auto& x : b) x = static_cast<std::int8_t>(rng());
    for (auto& x : a_scale) x = std::ldexp(1.0f + float(rng() % 1000) / 1000.0f, -10);
    for (auto& x : b_scale) x = std::ldexp(1.0f + float(rng() % 1000) / 1000.0f, -8);
    for (auto& x : bias) x = float(int(rng() % 200) - 100);
    for (std::int64_t kk = 0; kk < k; ++kk)  // VNNI layout: [K/4][N][4]
      for (std::int64_t j = 0; j < n; ++j)
        packed[(kk / 4) * n * 4 + j * 4 + kk % 4] = b[kk * n + j];
    const auto expected = reference_gemm(m, n, k, a, b, a_scale, b_scale, bias);
    for (JitModule* mod : {&*module, &*plain_module}) {
      auto gemm = mod->function<GemmFn>("qk_test_gemm");
      ASSERT_TRUE(gemm) << gemm.error().str();
      std::fill(c.begin(), c.end(), -1.0f);
      (*gemm)(m, n, k, a.data(), packed.data(), a_scale.data(), b_scale.data(), bias.data(),
              c.data());
      for (std::int64_t idx = 0; idx < m * n; ++idx)
        ASSERT_EQ(c[idx], expected[idx]) << m << "x" << n << "x" << k << " at " << idx;
    }
  }
}

}  // namespace
}  // namespace qk::runtime
