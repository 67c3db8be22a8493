// ClangCompiler: C++20 source → ELF object in memory, with virtual headers and a PCH.
#include "runtime/clang_compiler.hpp"

#include <cstdio>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/jit_loader.hpp"

namespace qk::runtime {
namespace {

std::unique_ptr<ClangCompiler> make_compiler(CompilerConfig config) {
  auto compiler = ClangCompiler::create(std::move(config));
  EXPECT_TRUE(compiler) << compiler.error().str();
  return compiler ? std::move(*compiler) : nullptr;
}

/// Compiles, loads and calls `int entry()` of `source`.
Expected<int> run_int(const ClangCompiler& compiler, const std::string& source, const char* entry) {
  auto object = compiler.compile(source, entry);
  if (!object) return object.error();
  auto loader = JitLoader::create();
  if (!loader) return loader.error();
  auto module = (*loader)->load(object->bytes, entry);
  if (!module) return module.error();
  auto fn = module->function<int (*)()>(entry);
  if (!fn) return fn.error();
  return (*fn)();
}

TEST(RuntimeClangCompiler, VirtualHeaderIsServedFromMemory) {
  const std::string header = "#pragma once\ninline int qk_answer() { return 6 * 7; }\n";
  auto compiler = make_compiler({.target = CpuTarget::host(),
                                 .headers = {{"/qk/templates/qk_test/answer.hpp", header}},
                                 .include_dirs = {"/qk/templates"}});
  ASSERT_TRUE(compiler);
  ASSERT_FALSE(std::filesystem::exists("/qk/templates/qk_test/answer.hpp"));
  const std::string source =
      "#include \"qk_test/answer.hpp\"\n"
      "#include </qk/templates/qk_test/answer.hpp>\n"  // by absolute path too
      "extern \"C\" int qk_entry() { return qk_answer(); }\n";
  auto result = run_int(*compiler, source, "qk_entry");
  ASSERT_TRUE(result) << result.error().str();
  EXPECT_EQ(*result, 42);
  // Nothing was written to the real file system under the virtual paths.
  EXPECT_FALSE(std::filesystem::exists("/qk/src"));
  EXPECT_FALSE(std::filesystem::exists("/qk/pch"));
}

TEST(RuntimeClangCompiler, SyntaxErrorCarriesDiagnosticsNameAndFlags) {
  auto compiler = make_compiler({.target = CpuTarget::host()});
  ASSERT_TRUE(compiler);
  const std::string source =
      "extern \"C\" int qk_broken() {\n"
      "  int x = 1;\n"
      "  int y = ;\n"
      "  return x;\n"
      "}\n";
  auto object = compiler->compile(source, "qk_w8a8_broken_kernel");
  ASSERT_FALSE(object);
  const Error& error = object.error();
  std::printf("%s\n", error.str().c_str());
  EXPECT_EQ(error.code, Errc::compile_error);
  EXPECT_EQ(error.where, "qk_w8a8_broken_kernel");
  EXPECT_NE(error.message.find("qk_w8a8_broken_kernel.cpp:3:11: error: expected expression"),
            std::string::npos);
  EXPECT_NE(error.message.find("int y = ;"), std::string::npos);  // the source line, with caret
  EXPECT_NE(error.message.find("1 error generated"), std::string::npos);
  EXPECT_NE(error.message.find("-std=c++20"), std::string::npos);
  EXPECT_NE(error.message.find("-march=" + CpuTarget::host().cpu), std::string::npos);
}

TEST(RuntimeClangCompiler, MissingIncludeIsAnError) {
  auto compiler = make_compiler({.target = CpuTarget::host()});
  ASSERT_TRUE(compiler);
  auto object = compiler->compile("#include \"qk_no_such_header.hpp\"\n", "qk_missing");
  ASSERT_FALSE(object);
  EXPECT_NE(object.error().message.find("'qk_no_such_header.hpp' file not found"),
            std::string::npos)
      << object.error().str();
}

// The prelude is compiled once and included implicitly: a macro and intrinsics that only the
// prelude brings are visible to the source, which itself includes nothing.
TEST(RuntimeClangCompiler, PchPreludeIsUsedImplicitly) {
  const CpuTarget host = CpuTarget::host();
  if (!host.has("avx2")) GTEST_SKIP() << "the host has no AVX2";
  const std::string prelude =
      "#include <immintrin.h>\n#include <stdint.h>\n#define QK_FROM_PRELUDE 7\n";
  const std::string body =
      "extern \"C\" int qk_prelude_value() {\n"
      "  __m256i v = _mm256_set1_epi32(QK_FROM_PRELUDE);\n"
      "  v = _mm256_add_epi32(v, v);\n"
      "  return (int32_t)_mm256_extract_epi32(v, 3);\n"
      "}\n";
  auto with_pch = make_compiler({.target = host, .pch_prelude = prelude});
  auto without_pch = make_compiler({.target = host});
  ASSERT_TRUE(with_pch && without_pch);

  auto result = run_int(*with_pch, body, "qk_prelude_value");
  ASSERT_TRUE(result) << result.error().str();
  EXPECT_EQ(*result, 14);

  // Without the prelude the same source does not compile: the PCH was what provided it.
  auto plain = without_pch->compile(body, "qk_prelude_value");
  ASSERT_FALSE(plain);
  EXPECT_NE(plain.error().message.find("QK_FROM_PRELUDE"), std::string::npos);

  // Timing, printed only (no timed assertions): the same source, with and without the PCH.
  auto timed_pch = with_pch->compile(body, "qk_timed");
  auto timed_plain = without_pch->compile(prelude + body, "qk_timed");
  ASSERT_TRUE(timed_pch && timed_plain);
  std::printf("small immintrin source: %.1f ms with the PCH, %.1f ms without\n",
              timed_pch->compile_ms, timed_plain->compile_ms);
}

// The PCH is built by the first compile(), so that loading cached kernels never pays for it;
// a prelude that does not compile fails that compile (and every later one) with its diagnostics.
TEST(RuntimeClangCompiler, PreludeThatDoesNotCompileIsAnError) {
  auto compiler = ClangCompiler::create(
      {.target = CpuTarget::host(), .pch_prelude = "#include <qk_no_such_prelude.h>\n"});
  ASSERT_TRUE(compiler) << compiler.error().str();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto object = (*compiler)->compile("int f() { return 1; }", "f");
    ASSERT_FALSE(object);
    EXPECT_EQ(object.error().code, Errc::compile_error);
    EXPECT_EQ(object.error().where, "CompilerConfig.pch_prelude");
    EXPECT_NE(object.error().message.find("qk_no_such_prelude.h"), std::string::npos)
        << object.error().str();
  }
}

TEST(RuntimeClangCompiler, BadConfigurationsAreErrors) {
  auto bad_opt = ClangCompiler::create({.target = CpuTarget::host(), .opt_level = 5});
  ASSERT_FALSE(bad_opt);
  EXPECT_EQ(bad_opt.error().where, "CompilerConfig.opt_level");

  auto relative = ClangCompiler::create(
      {.target = CpuTarget::host(), .headers = {{"relative/gemm.hpp", "int x;"}}});
  ASSERT_FALSE(relative);
  EXPECT_NE(relative.error().message.find("relative/gemm.hpp"), std::string::npos);

  auto unsigned_feature = ClangCompiler::create({.target = CpuTarget{"x86-64", {"avx2"}}});
  ASSERT_FALSE(unsigned_feature);
  EXPECT_NE(unsigned_feature.error().message.find("'avx2'"), std::string::npos);

  // An unknown CPU is clang's diagnostic, reported by the first compile.
  auto unknown_cpu = ClangCompiler::create({.target = CpuTarget{"qk-no-such-cpu", {}}});
  if (unknown_cpu) {
    auto object = (*unknown_cpu)->compile("int x;", "qk_unknown_cpu");
    ASSERT_FALSE(object);
    EXPECT_NE(object.error().message.find("qk-no-such-cpu"), std::string::npos)
        << object.error().str();
  } else {
    EXPECT_NE(unknown_cpu.error().message.find("qk-no-such-cpu"), std::string::npos)
        << unknown_cpu.error().str();
  }
}

TEST(RuntimeClangCompiler, VersionAndFlagsKey) {
  const CpuTarget host = CpuTarget::host();
  auto o3 = make_compiler({.target = host});
  auto o2 = make_compiler({.target = host, .opt_level = 2});
  auto with_prelude = make_compiler({.target = host, .pch_prelude = "#include <stdint.h>\n"});
  auto with_header = make_compiler({.target = host, .headers = {{"/qk/t/a.hpp", "int a;"}}});
  auto other_header = make_compiler({.target = host, .headers = {{"/qk/t/a.hpp", "int b;"}}});
  auto avx2 = CpuTarget::portable("avx2");
  ASSERT_TRUE(avx2);
  auto other_target = make_compiler({.target = *avx2});
  ASSERT_TRUE(o3 && o2 && with_prelude && with_header && other_header && other_target);

  EXPECT_EQ(o3->version().rfind("clang 19.", 0), 0u) << o3->version();
  const std::string key = o3->flags_key();
  std::printf("version: %s\nflags_key: %s\ncommand: %s\n", o3->version().c_str(), key.c_str(),
              o3->command_line().c_str());
  for (const char* flag : {"-std=c++20", "-O3", "-fno-exceptions", "-fno-rtti", "-ffp-contract=on",
                           "-fno-math-errno", "-fPIC", "prelude=none"})
    EXPECT_NE(key.find(flag), std::string::npos) << flag;
  EXPECT_EQ(key.find("-march"), std::string::npos);  // the target is keyed apart
  EXPECT_EQ(key, make_compiler({.target = host})->flags_key());
  EXPECT_EQ(key, other_target->flags_key());
  EXPECT_NE(key, o2->flags_key());
  EXPECT_NE(key, with_prelude->flags_key());
  EXPECT_NE(key, with_header->flags_key());
  EXPECT_NE(with_header->flags_key(), other_header->flags_key());
}

TEST(RuntimeClangCompiler, ConcurrentCompilesGiveIdenticalObjects) {
  const CpuTarget host = CpuTarget::host();
  auto compiler = make_compiler({.target = host,
                                 .headers = {{"/qk/templates/qk_test/axpy.hpp",
                                              "#pragma once\n"
                                              "template <int N> void axpy(float a, const float* x,"
                                              " float* y) {\n"
                                              "  for (int i = 0; i < N; ++i) y[i] += a * x[i];\n"
                                              "}\n"}},
                                 .include_dirs = {"/qk/templates"},
                                 .pch_prelude = "#include <immintrin.h>\n#include <stdint.h>\n"});
  ASSERT_TRUE(compiler);
  const std::string source =
      "#include \"qk_test/axpy.hpp\"\n"
      "extern \"C\" void qk_axpy(float a, const float* x, float* y) { axpy<1000>(a, x, y); }\n";
  constexpr int kRounds = 3;
  std::vector<Expected<CompiledObject>> results[2];
  auto work = [&](int t) {
    for (int i = 0; i < kRounds; ++i) results[t].push_back(compiler->compile(source, "qk_axpy"));
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  auto reference = compiler->compile(source, "qk_axpy");
  ASSERT_TRUE(reference) << reference.error().str();
  for (auto& per_thread : results) {
    ASSERT_EQ(per_thread.size(), static_cast<std::size_t>(kRounds));
    for (auto& r : per_thread) {
      ASSERT_TRUE(r) << r.error().str();
      EXPECT_EQ(r->bytes, reference->bytes);
    }
  }
  // A second compiler with the same configuration gives the same bytes too (a fresh process
  // would): the object depends only on source, name and configuration.
  auto again = make_compiler(compiler->config());
  ASSERT_TRUE(again);
  auto other = again->compile(source, "qk_axpy");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->bytes, reference->bytes);
}

}  // namespace
}  // namespace qk::runtime
