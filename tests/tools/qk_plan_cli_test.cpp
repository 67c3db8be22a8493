// Tests of the `qk-plan` command line (docs/plan.md, "Checking a plan: qk-plan"): runs the built
// binary on the example plans and on bad plans written to temporary files.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "../common/run_command.hpp"

namespace {

using qk::test::Outcome;
using qk::test::shell_quote;

/// Runs qk-plan with `args` (already quoted) and captures stdout, plus stderr unless
/// `stderr_too` is false (then stderr is discarded).
Outcome run(const std::string& args, bool stderr_too = true) {
  return qk::test::run_command(shell_quote(QK_PLAN_BIN) + " " + args +
                               (stderr_too ? " 2>&1" : " 2>/dev/null"));
}

/// A file in the temporary directory, removed when the test ends.
class TempFile {
 public:
  TempFile(std::string_view stem, std::string_view content)
      : path_(std::filesystem::temp_directory_path() /
              (std::string(stem) + "_" + std::to_string(::getpid()) + ".json")) {
    std::ofstream out(path_, std::ios::binary);
    out << content;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  std::string str() const { return path_.string(); }
  std::string arg() const { return shell_quote(path_.string()); }

 private:
  std::filesystem::path path_;
};

std::string example(std::string_view file) {
  return std::string(QK_SOURCE_DIR) + "/examples/plans/" + std::string(file);
}

void expect_contains(const std::string& output, std::string_view part) {
  EXPECT_NE(output.find(part), std::string::npos) << "output:\n"
                                                  << output << "\nexpected to contain: " << part;
}

/// Number of output lines that contain `part`.
std::size_t lines_with(const std::string& output, std::string_view part) {
  std::size_t count = 0;
  std::size_t start = 0;
  while (start < output.size()) {
    std::size_t end = output.find('\n', start);
    if (end == std::string::npos) end = output.size();
    if (std::string_view(output).substr(start, end - start).find(part) != std::string_view::npos)
      ++count;
    start = end + 1;
  }
  return count;
}

/// Each example is valid and its table has one row per layer (names listed by hand here).
void expect_example_table(std::string_view file, const std::vector<std::string>& names) {
  const Outcome r = run("check " + shell_quote(example(file)));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, std::to_string(names.size()) + " layers");
  for (const std::string& name : names)
    EXPECT_EQ(lines_with(r.output, " " + name + " "), 1u) << name << " in:\n" << r.output;
  expect_contains(r.output, "total weights");
}

TEST(QkPlanCli, LlamaExampleIsValid) {
  const std::string p = "model.layers.0.";
  expect_example_table(
      "llama2_7b_w8a8_smoothquant.json",
      {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
       p + "self_attn.o_proj", p + "mlp.gate_proj", p + "mlp.up_proj", p + "mlp.down_proj"});
}

TEST(QkPlanCli, BertExampleIsValid) {
  const std::string p = "bert.encoder.layer.0.";
  expect_example_table(
      "bert_base_encoder.json",
      {p + "attention.self.query", p + "attention.self.key", p + "attention.self.value",
       p + "attention.output.dense", p + "intermediate.dense", p + "output.dense"});
}

TEST(QkPlanCli, MixedPrecisionExampleIsValid) {
  const std::string p = "model.layers.0.";
  expect_example_table("mixed_precision.json",
                       {p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj",
                        p + "self_attn.o_proj", p + "mlp.gate_proj", p + "mlp.up_proj",
                        p + "mlp.down_proj", "model.layers.31.mlp.down_proj"});
  const Outcome r = run("check " + shell_quote(example("mixed_precision.json")));
  expect_contains(r.output, "int4 g128 asym");
  expect_contains(r.output, "w4a16");
  expect_contains(r.output, "fp8_e4m3 dyn/token");
}

// docs/plan.md, "Checking a plan": the row's cells and the total, for a layer whose storage is
// computed here by hand: 1024 x 1024 int8 codes + 1024 fp32 scales = 1052672 bytes.
TEST(QkPlanCli, TableRowAndTotal) {
  const TempFile plan("qk_cli_row", R"({"model": "one", "layers": [{"name": "fc", "n": 1024,
      "k": 1024, "weight_quant": "int8", "activation_quant": "int8",
      "epilogue": {"bias": true, "activation": "relu", "output_dtype": "bf16"}}]})");
  const Outcome r = run("check " + plan.arg());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "1 layer,");
  expect_contains(r.output, "\"one\"");
  EXPECT_EQ(lines_with(r.output, "1024×1024"), 1u) << r.output;
  expect_contains(r.output, "int8 per-channel");
  expect_contains(r.output, "int8 dyn/token");
  expect_contains(r.output, "bias+relu -> bf16");
  expect_contains(r.output, "1.00");
  expect_contains(r.output, "w8a8");
  expect_contains(r.output, "1052672 bytes");
  expect_contains(r.output, "2.00 MiB");  // the fp16 equivalent: 1024 * 1024 * 2 bytes
}

// docs/plan.md, "Checking a plan": every problem, one per line, `FILE: PATH: MESSAGE` on stderr.
TEST(QkPlanCli, BadPlanReportsEveryProblem) {
  const TempFile plan("qk_cli_bad", R"({"layers": [
      {"name": "a", "n": 0, "k": 128, "weight_quant": "int8", "activation_quant": "int8"},
      {"name": "b", "n": 64, "k": 4096, "weight_quant": "int4", "activation_quant": "fp16",
       "block_size": 100}]})");
  const Outcome r = run("check " + plan.arg());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, plan.str() + ": layers[1].block_size: ");
  expect_contains(r.output, plan.str() + ": layers[0].n: ");
  const Outcome stdout_only = run("check " + plan.arg(), /*stderr_too=*/false);
  EXPECT_EQ(stdout_only.output.find("layers[1].block_size"), std::string::npos)
      << "errors belong on stderr:\n"
      << stdout_only.output;
}

// docs/plan.md, "Errors": syntax errors as FILE:LINE:COL.
TEST(QkPlanCli, MalformedJsonReportsLineAndColumn) {
  const TempFile plan("qk_cli_syntax", "{\n  \"layers\": [\n    {\"n\": 1,}\n  ]\n}\n");
  const Outcome r = run("check " + plan.arg());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, plan.str() + ":3:13: ");
}

// docs/plan.md, "Checking a plan": every file is checked even after an invalid one.
TEST(QkPlanCli, ContinuesAfterAnInvalidPlan) {
  const TempFile bad("qk_cli_bad2", R"({"layers": []})");
  const Outcome r =
      run("check " + bad.arg() + " " + shell_quote(example("llama2_7b_w8a8_smoothquant.json")));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, bad.str() + ": layers: ");
  expect_contains(r.output, "model.layers.0.mlp.down_proj");
}

TEST(QkPlanCli, MissingFileIsReported) {
  const Outcome r = run("check /nonexistent/qk/plan.json");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_contains(r.output, "/nonexistent/qk/plan.json: ");
}

// docs/plan.md, "Checking a plan": names are free text and printed escaped.
TEST(QkPlanCli, ControlCharactersInNamesAreEscaped) {
  const TempFile plan("qk_cli_escape", R"({"layers": [{"name": "evil\u001b[31mred\u0007",
      "n": 64, "k": 128, "weight_quant": "int8", "activation_quant": "int8"}]})");
  const Outcome r = run("check " + plan.arg());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "evil\\x1b[31mred\\x07");
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos);
  EXPECT_EQ(r.output.find('\x07'), std::string::npos);
}

TEST(QkPlanCli, HelpMentionsCheck) {
  const Outcome r = run("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  expect_contains(r.output, "check");
  expect_contains(r.output, "Example");
}

TEST(QkPlanCli, NoArgumentsIsAUsageError) {
  const Outcome r = run("");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(QkPlanCli, CheckWithoutFilesIsAUsageError) {
  const Outcome r = run("check");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

TEST(QkPlanCli, UnknownOptionIsAUsageError) {
  const Outcome r = run("check --frobnicate " + shell_quote(example("bert_base_encoder.json")));
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
