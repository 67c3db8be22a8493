// The main() of the template-test executables compiled for one instruction set (QK_REQUIRED_ISA:
// "avx2" or "avx512"): on a CPU without it, every test would die of SIGILL at its first kernel,
// so the program says why and exits with kSkipped instead, which ctest reports as "Skipped"
// (SKIP_RETURN_CODE, tests/CMakeLists.txt), never as passed. Compiled for baseline x86-64, so the
// check runs on any x86-64 CPU; listing the tests (ctest's discovery) runs no kernel and works
// everywhere.
#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

#ifndef QK_REQUIRED_ISA
#error "QK_REQUIRED_ISA names the instruction set the tests of this executable need"
#endif

namespace {

constexpr int kSkipped = 77;  // tests/CMakeLists.txt: SKIP_RETURN_CODE

// The instruction sets of tests/CMakeLists.txt's -march options.
bool host_runs(const char* isa) {
  __builtin_cpu_init();
  if (std::strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("x86-64-v3");
  if (std::strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("avx512vnni");
  return false;
}

bool only_lists_tests(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--gtest_list_tests") == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (!host_runs(QK_REQUIRED_ISA) && !only_lists_tests(argc, argv)) {
    std::printf("[  SKIPPED ] this CPU lacks %s: the templates compiled for it cannot run here\n",
                QK_REQUIRED_ISA);
    return kSkipped;
  }
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
