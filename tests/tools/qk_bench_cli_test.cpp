// Tests of the `qk-bench` command line (docs/bench.md): its usage errors, and which competitors a
// run without --competitors times on this CPU. Built when qk-bench is (bench/ found oneDNN and
// OpenBLAS).
#ifdef QK_BENCH_BIN
#include <string>

#include <gtest/gtest.h>

#include "../common/run_command.hpp"
#include "../common/temp_dir.hpp"

namespace {

using qk::test::Outcome;
using qk::test::shell_quote;

Outcome bench(const std::string& args) {
  return qk::test::run_command(shell_quote(QK_BENCH_BIN) + " " + args + " 2>&1");
}

/// Whether oneDNN's int8 matmul can be a baseline here: without vpdpbusd, oneDNN 2.6 sums u8 x s8
/// pairs in saturating int16 (docs/bench.md, "Caveats").
bool cpu_has_vnni() {
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vnni");
}

TEST(QkBenchCli, UnknownCompetitorIsAUsageError) {
  const Outcome r = bench("gemm --target cpu --competitors qk-w8a8,no-such-kernel");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown competitor \"no-such-kernel\""), std::string::npos)
      << r.output;
}

TEST(QkBenchCli, HelpStarsOneDnnOnlyWhereItIsABaseline) {
  const Outcome r = bench("gemm --help");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("qk-w8a8 *:"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("onednn-w8a8 *:") != std::string::npos, cpu_has_vnni()) << r.output;
  EXPECT_EQ(r.output.find("onednn-w8a8 is not starred here") != std::string::npos, !cpu_has_vnni())
      << r.output;
}

// The default selection on one small shape: every row it times is measured (exit 0), and
// oneDNN's int8 matmul is among them only where it is a baseline; elsewhere the run says why not.
TEST(QkBenchCli, DefaultRunTimesOnlyWhatThisCpuCanCompare) {
  qk::test::TempDir dir;  // the kernel cache of the run, not the user's
  const Outcome r = qk::test::run_command(
      "QK_CACHE=" + shell_quote((dir.path() / "kernels.db").string()) + " " +
      shell_quote(QK_BENCH_BIN) + " gemm --target cpu --quick --shapes 1x64x64 --llc-mib 1 2>&1");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("qk-w8a8"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("openblas-sgemm"), std::string::npos) << r.output;
  const bool onednn_row = r.output.find("  onednn-w8a8 ") != std::string::npos;
  EXPECT_EQ(onednn_row, cpu_has_vnni()) << r.output;
  EXPECT_EQ(r.output.find("not running onednn-w8a8 by default") != std::string::npos,
            !cpu_has_vnni())
      << r.output;
}

}  // namespace
#endif
