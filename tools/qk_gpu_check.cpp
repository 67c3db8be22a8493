// qk-gpu-check: runs every CUDA variant qk ships on a GPU, checks it against qk's CPU reference
// (docs/numerics.md), and times it against cuBLASLt's int8 GEMM with the activation quantization
// included (docs/bench.md, "GPU"). Written and built where there is no GPU; there it stops with
// "no CUDA device". bench/gpu/run.sh runs it the day a GPU is available.
//
// Example:
//   qk-gpu-check                       # every check, then the timing grid, on device 0
//   qk-gpu-check --quick               # the checks, then 2 shapes of one variant
//   qk-gpu-check --compile-only sm_89  # no GPU: everything up to the first driver call
//
// Exit status: 0 when every check passed and every row was timed, 1 otherwise, 2 usage error.
#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "bench/gpu/cublaslt_w8a8.hpp"
#include "bench/gpu/w8a8_problem.hpp"
#include "cache/kernel_cache.hpp"
#include "codegen/cuda_kernel_spec.hpp"
#include "codegen/render_cuda.hpp"
#include "quant/tolerance.hpp"
#include "runtime/cuda_backend.hpp"
#include "runtime/cuda_driver.hpp"
#include "runtime/cuda_launcher.hpp"
#include "tools/terminal_text.hpp"
#include "tuner/measure.hpp"

namespace {

using namespace qk;
using bench::gpu::HostProblem;

struct Options {
  int device = 0;
  std::string cache;
  bool check_only = false, time_only = false, quick = false;
  int warmup = 10, repeats = 50;
  std::string compile_only;
};

int fail(const Error& error) {
  fmt::print(stderr, "qk-gpu-check: error: {}\n",
             tools::escape(error.str(), tools::EscapeMode::text));
  return 1;
}

/// Everything a run needs on one device.
struct Session {
  runtime::CudaDevice device;
  std::unique_ptr<runtime::CudaBackend> backend;
  std::unique_ptr<cache::KernelCache> cache;  // null when it cannot be opened: compile each time
  runtime::DeviceWorkspace workspace;         // split-K kernels' partials and counters
};

/// A loaded qk kernel and how to launch it.
struct LoadedKernel {
  codegen::CudaKernelSpec spec;
  codegen::RenderedCudaKernel rendered;
  runtime::CudaFunction function;
};

Expected<LoadedKernel> load_kernel(Session& s, const LayerConfig& layer,
                                   const codegen::CudaTile& tile) {
  auto spec = codegen::cuda_kernel_spec(layer, tile, s.device.info().arch);
  if (!spec) return spec.error();
  auto cubin = s.backend->cubin(*spec, s.cache.get());
  if (!cubin) return cubin.error();
  auto function = runtime::CudaFunction::load(
      s.device, cubin->cubin, cubin->attributes.lowered_name, cubin->attributes.dynamic_smem_bytes);
  if (!function) return function.error();
  return LoadedKernel{*spec, codegen::render_cuda(*spec), std::move(*function)};
}

/// Points `args` at the session's workspace when `k` splits K.
Expected<void> attach_workspace(Session& s, const LoadedKernel& k, QkCudaGemmArgs& args) {
  auto scratch = s.workspace.get(s.device, runtime::gemm_workspace_bytes(k.spec, args.m, args.n));
  if (!scratch) return scratch.error();
  args.workspace = *scratch;
  return {};
}

/// Runs `k` on `p` once and returns the rows `rows` of its output.
Expected<std::vector<float>> run_once(Session& s, const LoadedKernel& k, const HostProblem& p,
                                      const bench::gpu::DeviceOperands& ops,
                                      const std::vector<std::int64_t>& rows) {
  QkCudaGemmArgs args = bench::gpu::w8a8_args(ops, p);
  if (auto ok = attach_workspace(s, k, args); !ok) return ok.error();
  auto geometry = runtime::prepare_launch(k.spec, k.rendered, args);
  if (!geometry) return geometry.error();
  if (auto ok = k.function.launch(*geometry, args); !ok) return ok.error();
  if (auto ok = runtime::synchronize(s.device, k.rendered.name); !ok) return ok.error();
  return bench::gpu::download_rows(ops, p, rows);
}

std::vector<std::int64_t> all_rows(std::int64_t m) {
  std::vector<std::int64_t> rows(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) rows[i] = i;
  return rows;
}

/// The integer part exactly (exact_problem), then awkward shapes within §8's tolerance. Empty
/// when every check passed, else the first problem.
std::string check_kernel(Session& s, const LoadedKernel& k, const LayerConfig& variant) {
  struct Shape {
    std::int64_t m, n, k;
  };
  auto exact = bench::gpu::exact_problem(variant, 19, 37, 48);
  if (!exact) return exact.error().str();
  std::vector<HostProblem> problems{std::move(*exact)};
  unsigned seed = 1;
  for (const Shape& shape : {Shape{1, 1, 16}, Shape{2, 7, 48}, Shape{3, 130, 272},
                             Shape{17, 257, 64}, Shape{130, 129, 528}, Shape{257, 136, 32}}) {
    auto p = bench::gpu::random_problem(variant, shape.m, shape.n, shape.k, seed++);
    if (!p) return p.error().str();
    problems.push_back(std::move(*p));
  }
  for (std::size_t i = 0; i < problems.size(); ++i) {
    const HostProblem& p = problems[i];
    const std::string where = fmt::format("m={} n={} k={}", p.m, p.layer.n, p.layer.k);
    auto ops = bench::gpu::upload(s.device, p);
    if (!ops) return where + ": " + ops.error().str();
    const auto rows = all_rows(p.m);
    auto y = run_once(s, k, p, *ops, rows);
    if (!y) return where + ": " + y.error().str();
    auto ref = bench::gpu::reference_rows(p, rows);
    if (!ref) return where + ": " + ref.error().str();
    if (i == 0) {  // the exact problem: every output equals the integer result
      for (std::size_t e = 0; e < y->size(); ++e)
        if ((*y)[e] != ref->y[e])
          return fmt::format("{} (integers, exact): y[{}, {}] = {}, expected {}", where,
                             e / p.layer.n, e % p.layer.n, (*y)[e], ref->y[e]);
      continue;
    }
    if (auto ok = quant::compare_to_reference(p.layer, *ref, *y); !ok)
      return where + ": " + ok.error().str();
  }
  return {};
}

int run_checks(Session& s) {
  std::vector<std::vector<std::string>> rows{{"variant", "tile", "result"}};
  int failed = 0;
  for (const LayerConfig& variant : bench::gpu::w8a8_cuda_variants())
    for (const codegen::CudaTile& tile : codegen::cuda_tiles(GemmFamily::w8a8)) {
      std::string problem;
      if (auto k = load_kernel(s, variant, tile))
        problem = check_kernel(s, *k, variant);
      else
        problem = k.error().str();
      failed += !problem.empty();
      rows.push_back({bench::gpu::variant_label(variant), codegen::canonical_name(tile),
                      problem.empty() ? "ok" : "FAIL: " + problem});
      fmt::print(stderr, "checked {} {}: {}\n", rows.back()[0], rows.back()[1],
                 problem.empty() ? "ok" : "FAIL");
    }
  fmt::print("{}\n{} of {} kernels match the reference\n", tools::format_table(rows),
             rows.size() - 1 - failed, rows.size() - 1);
  return failed;
}

/// Copies of a problem's operands: enough that one rotation streams past the L2 4x over
/// (tuner::rotation_count), so every timed run reads A and W from DRAM, as in a model.
Expected<std::vector<bench::gpu::DeviceOperands>> rotating_operands(Session& s,
                                                                    const HostProblem& p) {
  const std::size_t bytes = static_cast<std::size_t>(p.m * p.layer.k) * 2 + p.weights.codes.size();
  const std::size_t copies =
      tuner::rotation_count(bytes, static_cast<std::size_t>(s.device.info().l2_bytes));
  std::vector<bench::gpu::DeviceOperands> out;
  for (std::size_t c = 0; c < copies; ++c) {
    auto ops = bench::gpu::upload(s.device, p);
    if (!ops) return ops.error();
    out.push_back(std::move(*ops));
  }
  return out;
}

/// The rows a timed problem is spot-checked on: the first and the last.
std::vector<std::int64_t> spot_rows(const HostProblem& p) {
  return {0, p.m - 1};
}

/// Checks spot_rows(p) of what the last launch wrote against their reference `ref`.
Expected<void> spot_check(const HostProblem& p, const quant::GemmReference& ref,
                          const bench::gpu::DeviceOperands& ops, const std::string& who) {
  auto y = bench::gpu::download_rows(ops, p, spot_rows(p));
  if (!y) return y.error();
  if (auto ok = quant::compare_to_reference(p.layer, ref, *y); !ok)
    return Error{ok.error().code, who, ok.error().str()};
  return {};
}

int run_timing(Session& s, const Options& o) {
  auto baseline = bench::gpu::CublasLtW8A8::create(s.device, s.backend->compiler());
  if (!baseline) return fail(baseline.error());
  struct Shape {
    std::int64_t m, n, k;
  };
  std::vector<Shape> shapes;
  for (std::int64_t m : {1, 16, 128, 512, 2048})
    for (auto [n, k] :
         {std::pair<std::int64_t, std::int64_t>{4096, 4096}, {11008, 4096}, {4096, 11008}})
      shapes.push_back({m, n, k});
  std::vector<LayerConfig> variants = bench::gpu::w8a8_cuda_variants();
  if (o.quick) {
    shapes = {{16, 4096, 4096}, {512, 11008, 4096}};
    // Llama's projections (examples/plans): fp16 in, per-token scales, no bias, fp16 out.
    std::erase_if(variants, [](const LayerConfig& v) {
      return v.input_dtype != QuantType::fp16 || v.epilogue.bias ||
             v.activation_scaling != ActivationScaling::dynamic_per_token ||
             v.epilogue.output != QuantType::fp16;
    });
  }
  // The in-CTA tiles for every variant: this check launches the GEMM alone, not the quantize
  // producer the per-token defaults use from M = 17 on (runtime/cuda_kernel.cpp runs both).
  const auto tiles =
      codegen::default_cuda_tiles(GemmFamily::w8a8, ActivationScaling::static_per_tensor);
  std::vector<std::vector<std::string>> rows{{"m x n x k", "variant", "qk tile", "qk us", "spread",
                                              "cuBLASLt+quant us", "spread", "cuBLASLt / qk"}};
  int failed = 0;
  for (const Shape& shape : shapes) {
    std::map<QuantType, Expected<HostProblem>> data;  // per input dtype, shared by the variants
    const codegen::CudaTile tile = std::find_if(tiles.begin(), tiles.end(), [&](const auto& t) {
                                     return shape.m <= t.max_m;
                                   })->tile;
    for (const LayerConfig& variant : variants) {
      std::vector<std::string> row{fmt::format("{}x{}x{}", shape.m, shape.n, shape.k),
                                   bench::gpu::variant_label(variant),
                                   codegen::canonical_name(tile)};
      auto outcome = [&]() -> Expected<std::vector<tuner::Measurement>> {
        auto base = data.find(variant.input_dtype);
        if (base == data.end()) {
          LayerConfig with_bias = variant;
          with_bias.epilogue.bias = true;
          base = data.emplace(variant.input_dtype,
                              bench::gpu::random_problem(with_bias, shape.m, shape.n, shape.k, 42))
                     .first;
        }
        if (!base->second) return base->second.error();
        const HostProblem p = bench::gpu::as_variant(*base->second, variant);
        auto ref = bench::gpu::reference_rows(p, spot_rows(p));
        if (!ref) return ref.error();
        auto kernel = load_kernel(s, variant, tile);
        if (!kernel) return kernel.error();
        auto copies = rotating_operands(s, p);
        if (!copies) return copies.error();
        if (auto ok = (*baseline)->prepare(p); !ok) return ok.error();
        std::vector<QkCudaGemmArgs> args;
        for (const auto& ops : *copies) {
          args.push_back(bench::gpu::w8a8_args(ops, p));
          if (auto ok = attach_workspace(s, *kernel, args.back()); !ok) return ok.error();
        }
        auto geometry = runtime::prepare_launch(kernel->spec, kernel->rendered, args[0]);
        if (!geometry) return geometry.error();
        // Both contenders are checked on their own output before anything is timed.
        if (auto ok = kernel->function.launch(*geometry, args[0]); !ok) return ok.error();
        if (auto ok = runtime::synchronize(s.device, kernel->rendered.name); !ok) return ok.error();
        if (auto ok = spot_check(p, *ref, (*copies)[0], "qk"); !ok) return ok.error();
        if (auto ok = (*baseline)->run((*copies)[0], p); !ok) return ok.error();
        if (auto ok = runtime::synchronize(s.device, "the cuBLASLt baseline"); !ok)
          return ok.error();
        if (auto ok = spot_check(p, *ref, (*copies)[0], "cuBLASLt baseline"); !ok)
          return ok.error();

        std::size_t next = 0;
        auto qk_ms = runtime::time_on_device(
            s.device,
            [&] { return kernel->function.launch(*geometry, args[next++ % args.size()]); },
            o.warmup, o.repeats);
        if (!qk_ms) return qk_ms.error();
        next = 0;
        auto lt_ms = runtime::time_on_device(
            s.device, [&] { return (*baseline)->run((*copies)[next++ % copies->size()], p); },
            o.warmup, o.repeats);
        if (!lt_ms) return lt_ms.error();
        std::vector<tuner::Measurement> out;
        for (const auto* ms : {&*qk_ms, &*lt_ms}) {
          std::vector<double> ns;
          for (double v : *ms) ns.push_back(v * 1e6);
          out.push_back(tuner::summarize(std::move(ns)));
        }
        return out;
      }();
      if (!outcome) {
        ++failed;
        row.insert(row.end(), {"-", "-", "-", "-", "FAILED: " + outcome.error().str()});
      } else {
        const auto& q = (*outcome)[0];
        const auto& l = (*outcome)[1];
        row.insert(
            row.end(),
            {fmt::format("{:.1f}", q.median_ns / 1e3), fmt::format("{:.1f}%", 100 * q.spread()),
             fmt::format("{:.1f}", l.median_ns / 1e3), fmt::format("{:.1f}%", 100 * l.spread()),
             fmt::format("{:.2f}", l.median_ns / q.median_ns)});
      }
      fmt::print(stderr, "timed {} {}\n", row[0], row[1]);
      rows.push_back(std::move(row));
    }
  }
  fmt::print("{}", tools::format_table(rows, {3, 4, 5, 6, 7}));
  fmt::print(
      "median of {} timed runs after {} warm-up runs, CUDA events around each; spread = "
      "(p75 - p25) / median; cuBLASLt / qk > 1: qk is faster\n",
      o.repeats, o.warmup);
  return failed;
}

/// Without a GPU: every kernel spec a run needs on `arch_name`, the helper kernels compiled, and
/// one qk kernel supplied by CudaBackend (no cache), so that everything before the first driver
/// call is exercised.
int compile_only(const std::string& arch_name) {
  const auto arch = from_string<codegen::CudaArch>(arch_name);
  if (!arch)
    return fail({Errc::invalid_argument, "--compile-only",
                 fmt::format("'{}' is not an arch; allowed: {}", arch_name,
                             allowed_names<codegen::CudaArch>())});
  std::size_t specs = 0;
  for (const LayerConfig& variant : bench::gpu::w8a8_cuda_variants())
    for (const codegen::CudaTile& tile : codegen::cuda_tiles(GemmFamily::w8a8)) {
      auto spec = codegen::cuda_kernel_spec(variant, tile, *arch);
      if (!spec) return fail(spec.error());
      ++specs;
    }
  auto backend = runtime::CudaBackend::create();
  if (!backend) return fail(backend.error());
  auto helpers = bench::gpu::compile_helper_kernels((*backend)->compiler(), *arch);
  if (!helpers) return fail(helpers.error());
  const auto first = codegen::cuda_kernel_spec(bench::gpu::w8a8_cuda_variants().front(),
                                               codegen::cuda_tiles(GemmFamily::w8a8).back(), *arch);
  auto kernel = (*backend)->cubin(*first, nullptr);
  if (!kernel) return fail(kernel.error());
  fmt::print(
      "{}: {} kernel specs to check on a device; helper kernels {} bytes of cubin "
      "({} registers); {} {} bytes ({} registers)\n",
      arch_name, specs, helpers->cubin.size(), helpers->resources.registers, kernel->name,
      kernel->cubin.size(), kernel->attributes.resources.registers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "qk-gpu-check: every CUDA variant of qk on a GPU against the CPU reference, then "
      "timed against cuBLASLt's int8 GEMM (docs/bench.md, \"GPU\")."};
  Options o;
  app.add_option("--device", o.device, "CUDA device ordinal")->check(CLI::NonNegativeNumber);
  app.add_option("--cache", o.cache, "Kernel cache for the cubins (default: QK_CACHE's rule)")
      ->type_name("FILE");
  app.add_flag("--check-only", o.check_only, "Only the checks against the reference");
  app.add_flag("--time-only", o.time_only, "Only the timing (each row is still spot-checked)");
  app.add_flag("--quick", o.quick, "Time one variant on two shapes");
  app.add_option("--warmup", o.warmup, "Untimed runs before timing")->check(CLI::Range(0, 1000));
  app.add_option("--repeats", o.repeats, "Timed runs")->check(CLI::Range(1, 100000));
  app.add_option("--compile-only", o.compile_only,
                 "No GPU needed: check every kernel spec for ARCH, compile the helper kernels and "
                 "one qk kernel, and stop")
      ->type_name("ARCH");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (!o.compile_only.empty()) return compile_only(o.compile_only);

  auto driver = runtime::CudaDriver::get();
  if (!driver) return fail(driver.error());
  auto device = (*driver)->open_device(o.device);
  if (!device) return fail(device.error());
  fmt::print("{}\n", tools::escape(device->info().fingerprint(), tools::EscapeMode::ascii));
  auto backend = runtime::CudaBackend::create();
  if (!backend) return fail(backend.error());
  Session session{std::move(*device), std::move(*backend), nullptr};
  auto cache = cache::KernelCache::open(o.cache.empty() ? cache::KernelCache::default_path()
                                                        : std::filesystem::path(o.cache));
  if (cache)
    session.cache = std::move(*cache);
  else
    fmt::print(stderr, "qk-gpu-check: warning: no kernel cache ({}); compiling every kernel\n",
               cache.error().str());

  int failed = 0;
  if (!o.time_only) failed += run_checks(session);
  if (!o.check_only) failed += run_timing(session, o);
  return failed == 0 ? 0 : 1;
}
