// qk-plan: checks plan.json files (docs/plan.md) and shows, per layer, the formats, the weight
// storage and the kernel family it maps to.
//
// Example:
//   qk-plan check examples/plans/llama2_7b_w8a8_smoothquant.json
//
// Exit status: 0 when every plan is valid, 1 when any plan is invalid or unreadable, 2 for a
// usage error. Errors go to stderr, one per line: `FILE: PATH: MESSAGE`, syntax errors as
// `FILE:LINE:COL: MESSAGE`.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "qk/plan.hpp"
#include "tools/terminal_text.hpp"

namespace {

using qk::tools::escape;
using qk::tools::EscapeMode;
using qk::tools::width;

std::string mib(std::int64_t bytes) {
  return fmt::format("{:.2f}", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

std::string weights_cell(const qk::LayerConfig& layer) {
  std::string s(qk::to_string(layer.weight_quant));
  if (qk::is_float(layer.weight_quant)) return s;  // float weights have no scales
  switch (layer.weight_granularity) {
    case qk::WeightGranularity::per_tensor:
      s += " per-tensor";
      break;
    case qk::WeightGranularity::per_channel:
      s += " per-channel";
      break;
    case qk::WeightGranularity::per_group:
      s += fmt::format(" g{}", layer.block_size);
      break;
  }
  if (!layer.weight_symmetric) s += " asym";
  return s;
}

std::string activations_cell(const qk::LayerConfig& layer) {
  std::string s(qk::to_string(layer.activation_quant));
  switch (layer.activation_scaling) {
    case qk::ActivationScaling::none:
      break;
    case qk::ActivationScaling::dynamic_per_token:
      s += " dyn/token";
      break;
    case qk::ActivationScaling::dynamic_per_tensor:
      s += " dyn/tensor";
      break;
    case qk::ActivationScaling::static_per_tensor:
      s += " static/";
      s += layer.scale_method == qk::ScaleMethod::percentile
               ? fmt::format("p{}", layer.percentile)
               : std::string(qk::to_string(layer.scale_method));
      break;
  }
  if (layer.smoothquant_alpha) s += fmt::format(" sq{}", *layer.smoothquant_alpha);
  // The float type the kernel receives, when it is not the obvious fp16.
  if (!qk::is_float(layer.activation_quant) && layer.input_dtype != qk::QuantType::fp16)
    s += fmt::format(" ({} in)", qk::to_string(layer.input_dtype));
  return s;
}

std::string epilogue_cell(const qk::Epilogue& e) {
  std::string ops;
  if (e.bias) ops = "bias";
  if (e.activation != qk::Activation::none) {
    if (!ops.empty()) ops += '+';
    ops += qk::to_string(e.activation);
  }
  return fmt::format("{} -> {}", ops.empty() ? "none" : ops, qk::to_string(e.output));
}

/// fp16 storage of the same weights: the baseline the quantized size is compared with.
std::int64_t fp16_bytes(qk::LayerConfig layer) {
  layer.weight_quant = qk::QuantType::fp16;
  return qk::weight_storage_bytes(layer);
}

void print_table(const std::string& file, const qk::Plan& plan) {
  fmt::print("{}: model {}, {} layer{}, calibration_samples {}, accuracy_threshold {}\n",
             escape(file, EscapeMode::ascii),
             plan.model.empty() ? "(unnamed)"
                                : fmt::format("\"{}\"", escape(plan.model, EscapeMode::ascii)),
             plan.layers.size(), plan.layers.size() == 1 ? "" : "s", plan.calibration_samples,
             plan.accuracy_threshold);

  using Row = std::vector<std::string>;
  const Row header{"layer", "n×k", "weights", "activations", "epilogue", "weight MiB", "family"};
  // Columns whose values are numbers are right-aligned.
  const std::vector<bool> right{false, true, false, false, false, true, false};
  std::vector<Row> rows{header};
  std::int64_t total = 0;
  std::int64_t total_fp16 = 0;
  for (const qk::LayerConfig& layer : plan.layers) {
    const std::int64_t bytes = qk::weight_storage_bytes(layer);
    total += bytes;
    total_fp16 += fp16_bytes(layer);
    const auto family = qk::family_of(layer.weight_quant, layer.activation_quant);
    rows.push_back({escape(layer.name, EscapeMode::ascii), fmt::format("{}×{}", layer.n, layer.k),
                    weights_cell(layer), activations_cell(layer), epilogue_cell(layer.epilogue),
                    mib(bytes), family ? std::string(qk::to_string(*family)) : "?"});
  }

  std::vector<std::size_t> widths(header.size(), 0);
  for (const Row& row : rows)
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  const auto print_row = [&](const Row& row) {
    std::string line = " ";
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - width(row[c]), ' ');
      line += "  ";
      line += right[c] ? pad + row[c] : row[c] + pad;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  };
  print_row(rows[0]);
  std::size_t rule = 1;
  for (const std::size_t w : widths) rule += 2 + w;
  fmt::print(" {}\n", std::string(rule - 1, '-'));
  for (std::size_t r = 1; r < rows.size(); ++r) print_row(rows[r]);
  fmt::print(
      "  total weights: {} MiB ({} bytes); as fp16: {} MiB ({:.1f}%)\n", mib(total), total,
      mib(total_fp16),
      total_fp16 > 0 ? 100.0 * static_cast<double>(total) / static_cast<double>(total_fp16) : 0.0);
}

/// The whole file, or nullopt after printing why it cannot be read.
std::optional<std::string> read_text(const std::string& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    fmt::print(stderr, "{}: cannot read plan file: it is a directory\n",
               escape(file, EscapeMode::text));
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    fmt::print(stderr, "{}: cannot open plan file: {}\n", escape(file, EscapeMode::text),
               std::strerror(errno));
    return std::nullopt;
  }
  std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) {
    fmt::print(stderr, "{}: cannot read plan file\n", escape(file, EscapeMode::text));
    return std::nullopt;
  }
  return text;
}

void print_errors(const std::string& file, const std::vector<qk::Error>& errors) {
  const std::string f = escape(file, EscapeMode::text);
  for (const qk::Error& e : errors) {
    const std::string where = escape(e.where, EscapeMode::text);
    const std::string message = escape(e.message, EscapeMode::text);
    if (e.code == qk::Errc::parse_error)  // where is "LINE:COL"
      fmt::print(stderr, "{}:{}: {}\n", f, where, message);
    else if (where.empty())
      fmt::print(stderr, "{}: {}\n", f, message);
    else
      fmt::print(stderr, "{}: {}: {}\n", f, where, message);
  }
}

/// `qk-plan check`: 0 when every plan is valid, else 1.
int check(const std::vector<std::string>& files) {
  bool all_valid = true;
  bool first = true;
  for (const std::string& file : files) {
    if (!first) fmt::print("\n");
    first = false;
    std::fflush(stdout);  // keep stdout and stderr in file order when both go to one place
    const auto text = read_text(file);
    if (!text) {
      all_valid = false;
      continue;
    }
    qk::Plan plan;
    const std::vector<qk::Error> errors = qk::check_plan(*text, &plan);
    if (!errors.empty()) {
      print_errors(file, errors);
      all_valid = false;
      continue;
    }
    print_table(file, plan);
  }
  std::fflush(stdout);
  return all_valid ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "qk-plan: check quantization plans (plan.json, see docs/plan.md) and show the "
      "kernel family, formats and weight size of every layer."};
  app.footer(
      "Example:\n"
      "  qk-plan check examples/plans/llama2_7b_w8a8_smoothquant.json\n"
      "\n"
      "Exit status: 0 when every plan is valid, 1 when a plan is invalid or unreadable,\n"
      "2 for a usage error. Problems are printed to stderr as FILE: PATH: MESSAGE.");
  app.require_subcommand(1);

  std::vector<std::string> files;
  CLI::App* check_cmd = app.add_subcommand(
      "check",
      "Check plan files: print a table per valid plan and every problem of an invalid "
      "one (all files are checked).");
  check_cmd->add_option("plans", files, "plan.json files to check")
      ->required()
      ->type_name("PLAN.json");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a successful "error"; every other parse error is a usage error.
    return app.exit(e) == 0 ? 0 : 2;
  }
  return check(files);
}
