#include "bench/qk_kernels.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "qk/jit.hpp"
#include "quant/float_formats.hpp"
#include "quant/reference_gemm.hpp"
#include "quant/tolerance.hpp"
#include "tuner/rotating_buffers.hpp"

namespace qk::bench {
namespace {

bool weight_only(QkWeights weights) {
  return weights == QkWeights::int8_per_channel_bf16 || weights == QkWeights::int4_group128_bf16;
}

LayerConfig bench_layer(const GemmShape& shape, QkWeights weights) {
  LayerConfig layer;
  layer.name = "qk-bench";
  if (weights == QkWeights::int4_group128 || weights == QkWeights::int4_group128_bf16) {
    layer.weight_quant = QuantType::int4;
    layer.weight_granularity = WeightGranularity::per_group;
    layer.block_size = 128;
  }
  layer.n = shape.n;
  layer.k = shape.k;
  layer.m_max = std::max<std::int64_t>(shape.m, 1);
  layer.input_dtype = QuantType::fp32;
  if (weight_only(weights)) {
    layer.input_dtype = layer.activation_quant = QuantType::bf16;
    layer.activation_scaling = ActivationScaling::none;
  }
  layer.epilogue.output = QuantType::fp32;
  return layer;
}

struct QkRun {
  Kernel kernel;
  std::vector<PackedWeights> weights;  // one per rotation set when the weights rotate
  tuner::RotatingBuffer inputs;        // A [m, k]: fp32, or bf16 bits (the weight-only formats)
  QuantType input = QuantType::fp32;
  std::vector<float> out;  // fp32 Y [m, n]
  GemmShape shape;

  void run(std::size_t i) {
    const PackedWeights& w = weights[i % weights.size()];
    // Validated in prepare; the result cannot fail here.
    (void)kernel({inputs.set_as<std::byte>(i), input, shape.m, shape.k, shape.k}, w,
                 {out.data(), QuantType::fp32, shape.m, shape.n, shape.n});
  }
};

Error failure(const GemmShape& shape, std::string message) {
  return Error{Errc::unsupported, fmt::format("qk {}", shape.str()), std::move(message)};
}

// Rows 0 and m - 1 of the output against the reference (per-token scaling makes rows
// independent, so a two-row reference is exact for them).
Expected<std::string> check_rows(const LayerConfig& layer, const quant::QuantizedWeights& qw,
                                 const std::vector<float>& a, const std::vector<float>& y,
                                 const GemmShape& shape) {
  for (std::int64_t row : {std::int64_t{0}, shape.m - 1}) {
    const std::span<const float> a_row(a.data() + row * shape.k, shape.k);
    auto ref = quant::reference_gemm(layer, {a_row, 1, &qw, {}, 0, 0});
    if (!ref) return ref.error();
    const std::span<const float> y_row(y.data() + row * shape.n, shape.n);
    if (auto ok = quant::compare_to_reference(layer, *ref, y_row); !ok)
      return failure(shape,
                     fmt::format("row {} differs from the reference: {}", row, ok.error().message));
  }
  return std::string("rows 0 and m-1 match the reference (docs/numerics.md §8)");
}

}  // namespace

Expected<PreparedRun> prepare_qk(const GemmShape& shape, QkWeights weights,
                                 const CompetitorContext& context, bool use_tuned,
                                 const std::string& cpu_level) {
  const LayerConfig layer = bench_layer(shape, weights);
  auto kernel = jit::compile(
      layer, {.cpu_level = cpu_level, .threads = context.threads, .use_tuned = use_tuned});
  if (!kernel) return kernel.error();

  const auto mk = static_cast<std::size_t>(shape.m * shape.k);
  const auto nk = static_cast<std::size_t>(shape.n * shape.k);
  std::vector<float> a(mk), w(nk);
  fill_uniform(a.data(), mk, 1);
  fill_uniform(w.data(), nk, 2);
  auto qw = quant::quantize_weights(w, shape.n, shape.k, quant::weight_format_of(layer));
  if (!qw) return qw.error();

  const std::size_t weight_bytes = static_cast<std::size_t>(weight_storage_bytes(layer));
  const auto [rotate_weights, set_bytes, sets] =
      context.rotation(shape, mk * sizeof(float), weight_bytes);
  auto r = std::make_shared<QkRun>(
      QkRun{*kernel, {}, {}, layer.input_dtype, std::vector<float>(shape.m * shape.n), shape});
  for (std::size_t s = 0; s < (rotate_weights ? sets : 1); ++s) {
    auto packed = kernel->pack(*qw);
    if (!packed) return packed.error();
    r->weights.push_back(std::move(*packed));
  }
  std::vector<std::uint16_t> a_bf16;  // the weight-only formats' activations
  if (layer.input_dtype == QuantType::bf16)
    for (float x : a) a_bf16.push_back(quant::float_to_bf16(x));
  auto inputs = tuner::RotatingBuffer::create(
      a_bf16.empty() ? std::as_bytes(std::span<const float>(a))
                     : std::as_bytes(std::span<const std::uint16_t>(a_bf16)),
      sets);
  if (!inputs) return inputs.error();
  r->inputs = std::move(*inputs);

  auto first =
      (*kernel)({r->inputs.set_as<std::byte>(0), r->input, shape.m, shape.k, shape.k},
                r->weights[0], {r->out.data(), QuantType::fp32, shape.m, shape.n, shape.n});
  if (!first) return first.error();
  auto check = check_rows(layer, *qw, a, r->out, shape);
  if (!check) return check.error();

  PreparedRun prepared;
  prepared.run = [r](std::size_t i) { r->run(i); };
  prepared.implementation = kernel->name(shape.m);
  prepared.check = *check;
  prepared.rotation_sets = sets;
  prepared.rotation_bytes = set_bytes;
  prepared.weight_bytes = weight_bytes;
  return prepared;
}

namespace {

// Runs compile() of a 4096 x 4096 W8A8 layer (with a relu when `relu`) in a child process;
// returns its milliseconds.
Expected<double> compile_in_child(const std::filesystem::path& cache, bool relu = false) {
  int fds[2];
  if (pipe(fds) != 0) return Error{Errc::io_error, "qk-bench compile latency", "pipe() failed"};
  const pid_t child = fork();
  if (child < 0) return Error{Errc::io_error, "qk-bench compile latency", "fork() failed"};
  if (child == 0) {
    close(fds[0]);
    const auto start = std::chrono::steady_clock::now();
    LayerConfig layer = bench_layer({1, 4096, 4096}, QkWeights::int8_per_channel);
    if (relu) layer.epilogue.activation = Activation::relu;
    auto kernel = jit::compile(layer, {.cache = cache});
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    const double result = kernel ? ms : -1.0;
    (void)!write(fds[1], &result, sizeof result);
    _exit(kernel ? 0 : 1);
  }
  close(fds[1]);
  double ms = -1.0;
  const bool read_ok = read(fds[0], &ms, sizeof ms) == sizeof ms;
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  if (!read_ok || ms < 0)
    return Error{Errc::compile_error, "qk-bench compile latency",
                 "the child process could not compile the kernel (run examples/01 to see why)"};
  return ms;
}

}  // namespace

Expected<CompileLatency> measure_compile_latency(const std::filesystem::path& scratch) {
  std::error_code ec;
  std::filesystem::create_directories(scratch, ec);
  const std::filesystem::path cache = scratch / fmt::format("qk-bench-{}.db", getpid());
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(cache.string() + suffix, ec);
  auto cold = compile_in_child(cache);
  if (!cold) return cold.error();
  auto hit = compile_in_child(cache);
  if (!hit) return hit.error();
  auto with_pch = compile_in_child(cache, /*relu=*/true);
  if (!with_pch) return with_pch.error();
  for (const char* suffix : {"", "-wal", "-shm"})
    std::filesystem::remove(cache.string() + suffix, ec);
  return CompileLatency{*cold, *hit, *with_pch};
}

}  // namespace qk::bench
