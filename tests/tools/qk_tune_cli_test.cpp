// Tests of the `qk-tune` command line (docs/tuning.md, "qk-tune"): usage errors, a device that is
// not there, bad plans, and two tuners sharing one cache file.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "../common/run_command.hpp"
#include "../common/temp_dir.hpp"

namespace {

using qk::test::Outcome;
using qk::test::shell_quote;

Outcome tune(const std::string& args) {
  return qk::test::run_command(shell_quote(QK_TUNE_BIN) + " " + args + " 2>&1");
}

constexpr std::string_view kSmallPlan = R"({
  "version": 1,
  "layers": [
    { "name": "fc", "n": 64, "k": 128, "m_range": [1, 4],
      "weight_quant": "int8", "activation_quant": "int8", "weight_granularity": "per_channel",
      "activation_scaling": "dynamic_per_token", "input_dtype": "fp32",
      "epilogue": { "bias": true, "activation": "relu", "output_dtype": "fp32" } }
  ]
})";

std::string write(const qk::test::TempDir& dir, const std::string& name, std::string_view text) {
  const auto path = dir.path() / name;
  std::ofstream(path) << text;
  return path.string();
}

TEST(QkTuneCli, HelpListsTheOptions) {
  const Outcome r = tune("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* option :
       {"--cpu", "--gpu", "--cache", "--budget", "--shard", "--buckets", "--report"})
    EXPECT_NE(r.output.find(option), std::string::npos) << option;
}

TEST(QkTuneCli, UsageErrorsExitWithTwo) {
  qk::test::TempDir dir;
  const std::string plan = shell_quote(write(dir, "plan.json", kSmallPlan));
  EXPECT_EQ(tune(plan).exit_code, 2) << "neither --cpu nor --gpu";
  EXPECT_EQ(tune("--cpu --gpu 0 " + plan).exit_code, 2);
  EXPECT_EQ(tune("--cpu").exit_code, 2) << "no plan";
}

TEST(QkTuneCli, NoGpuIsAClearError) {
  qk::test::TempDir dir;
  const Outcome r = tune("--gpu 0 " + shell_quote(write(dir, "plan.json", kSmallPlan)));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("no CUDA device"), std::string::npos) << r.output;
}

TEST(QkTuneCli, BadValuesNameTheOptionAndValue) {
  qk::test::TempDir dir;
  const std::string plan = shell_quote(write(dir, "plan.json", kSmallPlan));
  Outcome r = tune("--cpu --shard 4/4 " + plan);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--shard \"4/4\""), std::string::npos) << r.output;
  r = tune("--cpu --buckets 4,2 " + plan);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("buckets[1]"), std::string::npos) << r.output;
  r = tune("--cpu " + shell_quote(write(dir, "bad.json", R"({"version": 1, "layers": [{}]})")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("layers[0]"), std::string::npos) << r.output;
}

int64_t count(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) return -1;
  const int64_t n = sqlite3_step(stmt) == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : -1;
  sqlite3_finalize(stmt);
  return n;
}

TEST(QkTuneCli, TwoTunersOnOneCacheLeaveAConsistentFile) {
  qk::test::TempDir dir;
  const std::string plan = shell_quote(write(dir, "plan.json", kSmallPlan));
  const std::string cache = shell_quote((dir.path() / "shared.db").string());
  const std::string report = (dir.path() / "report.json").string();
  const std::string one = shell_quote(QK_TUNE_BIN) + " --cpu -q --sample 4 --cache " + cache +
                          " --report " + shell_quote(report) + " " + plan;
  const std::string two =
      shell_quote(QK_TUNE_BIN) + " --cpu -q --sample 4 --cache " + cache + " " + plan;
  const Outcome r = qk::test::run_command("(" + one + " >/dev/null 2>&1; echo a$?) & (" + two +
                                          " >/dev/null 2>&1; echo b$?) & wait");
  EXPECT_NE(r.output.find("a0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("b0"), std::string::npos) << r.output;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "shared.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* check = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &check, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(check), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(check, 0)), "ok");
  sqlite3_finalize(check);
  EXPECT_EQ(count(db, "SELECT count(*) FROM workloads"), 1);
  EXPECT_EQ(count(db, "SELECT count(*) FROM winners"), 3) << "buckets 1, 2 and 4, once each";
  EXPECT_GT(count(db, "SELECT count(*) FROM timings WHERE status = 'ok'"), 0);
  EXPECT_EQ(count(db, "SELECT count(*) FROM timings WHERE status != 'ok'"), 0);
  sqlite3_close(db);
  EXPECT_TRUE(std::filesystem::exists(report));
}

}  // namespace
